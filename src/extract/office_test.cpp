// Office extractors (DOCX, PPTX, XLSX, ODT) on the real samples in BETTERDEV_SHARED_DATA; the
// hostile archives (zip bombs, damaged files) are built here with libzip in a TempDir.
#include <gtest/gtest.h>
#include <zip.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "extract/detect.hpp"
#include "extract/extract_testutil.hpp"
#include "extract/extractor.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::extract {
namespace {

using namespace testing;  // NOLINT: the module's test helpers
constexpr const char* kDocx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
constexpr const char* kPptx = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
constexpr const char* kXlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
constexpr const char* kOdt = "application/vnd.oasis.opendocument.text";

// The one page of a DOCX/ODT sample.
std::string OnlyPage(const std::string& mime, const std::string& file) { return testing::OnlyPage(mime, kOffice + file); }

size_t Count(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// Writes a zip archive of `entries` (name, content), deflated.
void MakeZip(const std::string& path, const std::vector<std::pair<std::string, std::string>>& entries) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr) << err;
  for (const auto& [name, content] : entries) {
    zip_source_t* src = zip_source_buffer(z, content.data(), content.size(), 0);
    ASSERT_NE(src, nullptr);
    ASSERT_GE(zip_file_add(z, name.c_str(), src, ZIP_FL_OVERWRITE), 0) << zip_strerror(z);
  }
  ASSERT_EQ(zip_close(z), 0);
}

const std::string kDocStart =
    R"(<?xml version="1.0" encoding="UTF-8"?>)"
    R"(<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>)";
const std::string kDocEnd = "</w:body></w:document>";

std::string DocxParagraph(const std::string& text) { return "<w:p><w:r><w:t>" + text + "</w:t></w:r></w:p>"; }

// ---- Detection and registry ------------------------------------------------------------------

TEST(OfficeDetect, EverySampleGetsItsOfficeTypeAndAnExtractor) {
  const std::vector<std::pair<std::string, std::string>> samples = {{"fake.docx", kDocx},
                                                                    {"docx-tables.docx", kDocx},
                                                                    {"docx-hdrftr.docx", kDocx},
                                                                    {"fake_table.docx", kDocx},
                                                                    {"handbook-1p.docx", kDocx},
                                                                    {"fake-power-point.pptx", kPptx},
                                                                    {"fake-power-point-many-pages.pptx", kPptx},
                                                                    {"fake-power-point-table.pptx", kPptx},
                                                                    {"fake-power-point-malformed.pptx", kPptx},
                                                                    {"2023-half-year-analyses-by-segment.xlsx", kXlsx},
                                                                    {"empty.xlsx", kXlsx},
                                                                    {"emoji.xlsx", kXlsx},
                                                                    {"fake.odt", kOdt}};
  for (const auto& [file, mime] : samples) {
    Result<DetectedType> t = DetectFileType(kOffice + file, "");
    ASSERT_TRUE(t.ok()) << file;
    EXPECT_EQ(t->mime_type, mime) << file;
    EXPECT_TRUE(IsSupportedType(t->mime_type)) << file;
  }
}

TEST(OfficeDetect, ZipThatLibmagicCannotNameIsReadByItsEntriesInTheJobProcess) {
  testutil::TempDir dir;
  // The entry order libmagic does not look for: a plain zip to it. Detection (in the API) does
  // not open archives: it says zip, which is accepted, and the extractor tells from the entries.
  const std::string document = kDocStart + DocxParagraph("hidden office file") + kDocEnd;
  MakeZip(dir.File("x.bin"), {{"notes.txt", "hello"}, {"word/document.xml", document}});
  Result<DetectedType> t = DetectFileType(dir.File("x.bin"), "");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->mime_type, "application/zip");
  EXPECT_TRUE(IsSupportedType(t->mime_type));
  CollectingSink sink;
  ASSERT_TRUE(ExtractFile(t->mime_type, dir.File("x.bin"), sink).ok());
  ASSERT_EQ(sink.pages.size(), 1u);
  EXPECT_EQ(sink.pages[0].text, "hidden office file");

  MakeZip(dir.File("odt.zip"), {{"README", "x"}, {"mimetype", kOdt}, {"content.xml", "<text>odt</text>"}});
  EXPECT_EQ(DetectFileType(dir.File("odt.zip"), "")->mime_type, "application/zip");
  CollectingSink odt;
  EXPECT_TRUE(ExtractFile("application/zip", dir.File("odt.zip"), odt).ok());

  // Any other zip is refused when read, with the reason.
  MakeZip(dir.File("plain.zip"), {{"a.txt", "hello"}, {"b.txt", "world"}});
  CollectingSink plain;
  const Status st = ExtractFile("application/zip", dir.File("plain.zip"), plain);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("not a DOCX, PPTX, XLSX or ODT"), std::string::npos) << st.message();
}

TEST(OfficeDetect, SupportedTypesDescriptionNamesTheOfficeFormats) {
  const std::string d(SupportedTypesDescription());
  for (const char* word : {"PDF", "DOCX", "PPTX", "XLSX", "ODT", "Markdown"})
    EXPECT_NE(d.find(word), std::string::npos) << word;
}

// ---- DOCX ------------------------------------------------------------------------------------

TEST(DocxExtractor, ParagraphsOnPageOne) {
  EXPECT_EQ(OnlyPage(kDocx, "fake.docx"), "Lorem ipsum dolor sit amet.");
  const std::string text = OnlyPage(kDocx, "category-level.docx");
  // Headings and list items are paragraphs of their own, in document order.
  const size_t heading = text.find("\n\nA Heading 1\n\n");
  const size_t item = text.find("\n\nA top level list item\n\nNext level\n\nSame\n\nSecond top-level list item\n\n");
  ASSERT_NE(heading, std::string::npos) << text;
  ASSERT_NE(item, std::string::npos) << text;
  EXPECT_LT(heading, item);
  EXPECT_TRUE(text.starts_with("Call me Ishmael.")) << text;
}

TEST(DocxExtractor, TablesRowByRow) {
  EXPECT_EQ(OnlyPage(kDocx, "fake_table.docx"),
            "Header Col 1 | Header Col 2\nLorem ipsum | A Link example\n\nDolor sit amet");
  const std::string text = OnlyPage(kDocx, "docx-tables.docx");
  EXPECT_NE(text.find("Simple uniform table\n\nHeader Col 1 | Header Col 2\nLorem ipsum | A link example\n\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Nested Table\n\na | >b< | c\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nj | k | l\n\nTable with merged cells"), std::string::npos) << text;
}

TEST(DocxExtractor, HeadersAndFootersOnceAfterTheBody) {
  const std::string text = OnlyPage(kDocx, "docx-hdrftr.docx");
  EXPECT_TRUE(text.starts_with("Main document\n\n")) << text;
  EXPECT_EQ(Count(text, "First header para"), 1u) << text;
  EXPECT_NE(text.find("First header para\n\nTable cell1 | Table cell2\n\nLast header para"), std::string::npos) << text;
  EXPECT_EQ(Count(text, "para1"), 1u) << text;
  EXPECT_NE(text.find("para1\n\ncell1 | "), std::string::npos) << text;
  EXPECT_TRUE(text.ends_with("para2")) << text;
  // The hidden content of a cell continuing a vertical merge.
  EXPECT_EQ(text.find("I should not be included"), std::string::npos) << text;
}

// ---- PPTX ------------------------------------------------------------------------------------

TEST(PptxExtractor, EachSlideIsAPageWithItsNumber) {
  CollectingSink sink;
  ASSERT_TRUE(ExtractFile(kPptx, kOffice + "fake-power-point-many-pages.pptx", sink).ok());
  ASSERT_EQ(sink.pages.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(sink.pages[static_cast<size_t>(i)].number, i + 1);
    EXPECT_EQ(sink.pages[static_cast<size_t>(i)].count, 2);
    EXPECT_EQ(sink.pages[static_cast<size_t>(i)].text, "Page " + std::to_string(i + 1));
  }

  CollectingSink one;
  ASSERT_TRUE(ExtractFile(kPptx, kOffice + "fake-power-point.pptx", one).ok());
  ASSERT_EQ(one.pages.size(), 1u);
  EXPECT_EQ(one.pages[0].text,
            "Adding a Bullet Slide\n\nFind the bullet slide layout\n\nUse _TextFrame.text for first bullet\n\n"
            "Use _TextFrame.add_paragraph() for subsequent bullets\n\nHere is a lot of text!\n\n"
            "Here is some text in a text box!");
}

TEST(PptxExtractor, TableRowByRow) {
  CollectingSink sink;
  ASSERT_TRUE(ExtractFile(kPptx, kOffice + "fake-power-point-table.pptx", sink).ok());
  ASSERT_EQ(sink.pages.size(), 1u);
  EXPECT_EQ(sink.pages[0].text,
            "A Slide with a Table\n\nColumn 1 | Column 2 | Column 3\nRed | Green | Blue\nPurple | Orange | Yellow\n"
            "Tangerine | Pink | Aqua");
}

TEST(PptxExtractor, MalformedSampleGivesItsTextOrAClearError) {
  CollectingSink sink;
  const Status st = ExtractFile(kPptx, kOffice + "fake-power-point-malformed.pptx", sink);
  if (st.ok()) {
    ASSERT_EQ(sink.pages.size(), 1u);
    EXPECT_NE(sink.pages[0].text.find("Test Slide"), std::string::npos) << sink.pages[0].text;
  } else {
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.message();
  }
}

TEST(PptxExtractor, SlideCountIsCheckedAgainstThePageLimit) {
  CollectingSink sink;
  ExtractLimits limits;
  limits.max_pages = 1;
  const Status st = ExtractFile(kPptx, kOffice + "fake-power-point-many-pages.pptx", sink, limits);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "document has 2 pages; the limit is 1");
  EXPECT_TRUE(sink.pages.empty());
}

// ---- XLSX ------------------------------------------------------------------------------------

TEST(XlsxExtractor, SheetsArePagesWithCellsRowByRow) {
  CollectingSink sink;
  ASSERT_TRUE(ExtractFile(kXlsx, kOffice + "2023-half-year-analyses-by-segment.xlsx", sink).ok());
  ASSERT_EQ(sink.pages.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(sink.pages[i].number, static_cast<int>(i) + 1);
    EXPECT_EQ(sink.pages[i].count, 5);
    EXPECT_TRUE(sink.pages[i].text.starts_with("3. Analyses by segment\n")) << i;
  }
  // Shared strings and numbers as written, in row order, one row per line.
  EXPECT_NE(sink.pages[0].text.find("\nZone NA | 12553 | 2713 | 2632 | | -81 | -29 | -44 | | -337\n"
                                    "Zone EUR | 9467 | 1570 | 1373 |"),
            std::string::npos)
      << sink.pages[0].text;
  EXPECT_NE(sink.pages[4].text.find("\nOperating profit | 7262 | 6619\n"), std::string::npos) << sink.pages[4].text;
}

TEST(XlsxExtractor, EmptyAndEmojiWorkbooks) {
  CollectingSink empty;
  ASSERT_TRUE(ExtractFile(kXlsx, kOffice + "empty.xlsx", empty).ok());
  ASSERT_EQ(empty.pages.size(), 1u);
  EXPECT_EQ(empty.pages[0].text, "");
  CollectingSink emoji;
  ASSERT_TRUE(ExtractFile(kXlsx, kOffice + "emoji.xlsx", emoji).ok());
  ASSERT_EQ(emoji.pages.size(), 1u);
  EXPECT_EQ(emoji.pages[0].text, "\xF0\x9F\xA4\xA0\xF0\x9F\x98\x85");  // cowboy, grinning with sweat
}

TEST(XlsxExtractor, InlineStringsBooleansAndGaps) {
  testutil::TempDir dir;
  // SpreadsheetML with an "x:" prefix, as the Open XML SDK writes it.
  const std::string sheet =
      R"(<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>)"
      R"(<x:row r="1"><x:c r="B1" t="inlineStr"><x:is><x:t>name</x:t></x:is></x:c>)"
      R"(<x:c r="C1" t="s"><x:v>0</x:v></x:c></x:row>)"
      R"(<x:row r="2"><x:c r="B2" t="b"><x:v>1</x:v></x:c><x:c r="E2"><x:v>2.50</x:v></x:c></x:row>)"
      R"(<x:row r="3"><x:c r="A3" t="s"><x:v>99</x:v></x:c></x:row></x:sheetData></x:worksheet>)";
  MakeZip(dir.File("x.xlsx"), {{"xl/workbook.xml", "<workbook/>"},
                               {"xl/sharedStrings.xml", "<sst><si><r><t>val</t></r><r><t>ue</t></r></si></sst>"},
                               {"xl/worksheets/sheet1.xml", sheet}});
  CollectingSink sink;
  const Status st = ExtractFile(kXlsx, dir.File("x.xlsx"), sink);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(sink.pages.size(), 1u);
  EXPECT_EQ(sink.pages[0].text, "name | value\nTRUE | | | 2.50");
}

// ---- ODT -------------------------------------------------------------------------------------

TEST(OdtExtractor, ParagraphsAndTable) {
  EXPECT_EQ(OnlyPage(kOdt, "fake.odt"),
            "Lorem ipsum dolor sit amet.\n\nHeader row | Mon | Wed | Fri\nColor | Blue | Red | Green\n"
            "Time | 1pm | 2pm | 3pm\nLeader | Sarah | Mark | Ryan");
}

// ---- Hostile and damaged files ---------------------------------------------------------------

TEST(OfficeLimits, ZipBombStopsAtThePartLimit) {
  testutil::TempDir dir;
  // 20 MB of text deflates to about 20 KB.
  const std::string document =
      kDocStart + "<w:p><w:r><w:t>" + std::string(size_t{20} << 20, 'a') + "</w:t></w:r></w:p>" + kDocEnd;
  MakeZip(dir.File("bomb.docx"), {{"word/document.xml", document}});
  ASSERT_LT(std::filesystem::file_size(dir.File("bomb.docx")), size_t{1} << 20);
  ExtractLimits limits;
  limits.max_office_part_bytes = int64_t{1} << 20;
  CollectingSink sink;
  const Status st = ExtractFile(kDocx, dir.File("bomb.docx"), sink, limits);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("word/document.xml inflates to more than"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("the limit per part is 1048576"), std::string::npos) << st.message();
  EXPECT_TRUE(sink.pages.empty());
}

// The sizes in the zip directory can lie; the bytes inflated are what counts.
TEST(OfficeLimits, ForgedSmallSizeInTheDirectoryDoesNotGetPastTheLimit) {
  testutil::TempDir dir;
  const std::string document = kDocStart + DocxParagraph(std::string(size_t{4} << 20, 'b')) + kDocEnd;
  MakeZip(dir.File("forged.docx"), {{"word/document.xml", document}});
  std::string bytes;
  {
    std::ifstream in(dir.File("forged.docx"), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    bytes = ss.str();
  }
  // Uncompressed size: offset 22 in the local header ("PK\3\4"), 24 in the central one ("PK\1\2").
  const uint32_t small = 100;
  for (const auto& [signature, offset] : {std::pair{std::string("PK\x03\x04"), 22}, {std::string("PK\x01\x02"), 24}}) {
    const size_t at = bytes.find(signature);
    ASSERT_NE(at, std::string::npos);
    std::memcpy(bytes.data() + at + static_cast<size_t>(offset), &small, 4);  // little-endian host
  }
  std::ofstream(dir.File("forged.docx"), std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ExtractLimits limits;
  limits.max_office_part_bytes = int64_t{1} << 20;
  CollectingSink sink;
  const Status st = ExtractFile(kDocx, dir.File("forged.docx"), sink, limits);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  // libzip inflates past the declared size; the count while inflating stops it.
  EXPECT_NE(st.message().find("word/document.xml inflates to more than"), std::string::npos) << st.message();
  EXPECT_TRUE(sink.pages.empty());
}

TEST(OfficeLimits, TotalInflatedBytesAndEntryCount) {
  testutil::TempDir dir;
  const std::string header = kDocStart + DocxParagraph(std::string(size_t{600} << 10, 'h')) + kDocEnd;
  MakeZip(dir.File("parts.docx"), {{"word/document.xml", kDocStart + DocxParagraph("body") + kDocEnd},
                                   {"word/header1.xml", header},
                                   {"word/header2.xml", header},
                                   {"word/header3.xml", header}});
  ExtractLimits limits;
  limits.max_office_part_bytes = int64_t{1} << 20;
  limits.max_office_total_bytes = int64_t{1} << 20;
  CollectingSink sink;
  Status st = ExtractFile(kDocx, dir.File("parts.docx"), sink, limits);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("that is the limit for all its parts together"), std::string::npos) << st.message();

  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 20; ++i) many.emplace_back("f" + std::to_string(i), "x");
  many.emplace_back("word/document.xml", kDocStart + kDocEnd);
  MakeZip(dir.File("many.docx"), many);
  limits = {};
  limits.max_zip_entries = 10;
  st = ExtractFile(kDocx, dir.File("many.docx"), sink, limits);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "the DOCX file has 21 zip entries; the limit is 10");
}

TEST(OfficeDamaged, RandomTruncatedMissingAndBadXml) {
  testutil::TempDir dir;
  std::mt19937 rng(7);
  std::string random(4096, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  std::ofstream(dir.File("random.docx"), std::ios::binary)
      .write(random.data(), static_cast<std::streamsize>(random.size()));
  CollectingSink sink;
  Status st = ExtractFile(kDocx, dir.File("random.docx"), sink);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(st.message().starts_with("not a readable DOCX file: ")) << st.message();

  // Cut short at several points: a clean error or (cut after the parts) the text.
  const auto size = std::filesystem::file_size(kOffice + "docx-tables.docx");
  for (auto keep : {size / 4, size / 2, size - 30, size - 1}) {
    std::filesystem::copy_file(kOffice + "docx-tables.docx", dir.File("cut.docx"),
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(dir.File("cut.docx"), keep);
    for (const char* mime : {kDocx, kPptx, kXlsx, kOdt}) {
      st = ExtractFile(mime, dir.File("cut.docx"), sink);
      EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << keep << " " << mime;
      EXPECT_TRUE(st.message().starts_with("not a readable ")) << st.message();
    }
  }

  // A DOCX read as a PPTX, an archive without its main part, XML cut short, XML too deep.
  st = ExtractFile(kPptx, kOffice + "fake.docx", sink);
  EXPECT_EQ(st.message(), "not a readable PPTX file: it has no slides");
  MakeZip(dir.File("nodoc.docx"), {{"word/styles.xml", "<x/>"}});
  st = ExtractFile(kDocx, dir.File("nodoc.docx"), sink);
  EXPECT_EQ(st.message(), "not a readable DOCX file: it has no word/document.xml");
  MakeZip(dir.File("badxml.docx"), {{"word/document.xml", kDocStart + "<w:p><w:r><w:t>cut"}});
  st = ExtractFile(kDocx, dir.File("badxml.docx"), sink);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(st.message().starts_with("not a readable DOCX file: word/document.xml is not well-formed XML"))
      << st.message();
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<w:sdt>";
  for (int i = 0; i < 100000; ++i) deep += "</w:sdt>";
  MakeZip(dir.File("deep.docx"), {{"word/document.xml", kDocStart + deep + kDocEnd}});
  st = ExtractFile(kDocx, dir.File("deep.docx"), sink);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("nested more than"), std::string::npos) << st.message();

  EXPECT_EQ(ExtractFile(kDocx, dir.File("missing.docx"), sink).code(), StatusCode::kNotFound);
  EXPECT_TRUE(sink.pages.empty());
}

}  // namespace
}  // namespace betterdev::extract
