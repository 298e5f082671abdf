// Real files only, read in place from BETTERDEV_SHARED_DATA (/work/shared/data); files made up
// by a test (truncated, random, re-encoded) live in a TempDir.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "extract/detect.hpp"
#include "extract/extract_testutil.hpp"
#include "extract/extractor.hpp"
#include "extract/text_decode.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::extract {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

using namespace testing;  // NOLINT: the module's test helpers
const std::string kPdfSamples = kData + "/pdf/py-pdf-sample-files/";
const std::string kNtsb = kData + "/pdf/ntsb-reports/data/v1/docs/";
const std::string kTrivialPdf = kPdfSamples + "001-trivial/minimal-document.pdf";
const std::string kFourPagesPdf = kPdfSamples + "004-pdflatex-4-pages/pdflatex-4-pages.pdf";

// Independent of the code under test: a strict UTF-8 check.
bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size() || (len == 2 && b < 0xC2)) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += len;
  }
  return true;
}

// ---- DecodeToUtf8 ----------------------------------------------------------------------------

// Byte strings split where a hex escape would otherwise swallow the next character.
// clang-format off

TEST(TextDecode, Utf8WithAndWithoutBom) {
  const std::string utf8 = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";  // "café € 😀"
  EXPECT_EQ(DecodeToUtf8(utf8), utf8);
  EXPECT_EQ(DecodeToUtf8("\xEF\xBB\xBFhello"), "hello");
  EXPECT_EQ(DecodeToUtf8(""), "");
}

TEST(TextDecode, Utf16AndUtf32WithBom) {
  const std::string expected = "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\n";  // "Aé€😀\n"
  EXPECT_EQ(DecodeToUtf8("\xFF\xFE" "A\0\xE9\0\xAC\x20\x3D\xD8\x00\xDE\n\0"s), expected);
  EXPECT_EQ(DecodeToUtf8("\xFE\xFF" "\0A\0\xE9\x20\xAC\xD8\x3D\xDE\x00\0\n"s), expected);
  EXPECT_EQ(DecodeToUtf8("\xFF\xFE\0\0" "A\0\0\0\xE9\0\0\0\xAC\x20\0\0\x00\xF6\x01\0\n\0\0\0"s), expected);
  EXPECT_EQ(DecodeToUtf8("\0\0\xFE\xFF" "\0\0\0A\0\0\0\xE9\0\0\x20\xAC\0\x01\xF6\x00\0\0\0\n"s), expected);
}

TEST(TextDecode, Utf16WithoutBomIsRecognisedByItsNulBytes) {
  EXPECT_EQ(DecodeToUtf8("H\0e\0l\0l\0o\0 \0w\0o\0r\0l\0d\0"s), "Hello world");
  EXPECT_EQ(DecodeToUtf8("\0H\0e\0l\0l\0o\0 \0w\0o\0r\0l\0d"s), "Hello world");
  EXPECT_EQ(SniffEncoding("H\0e\0l\0l\0o\0"s).encoding, TextEncoding::kUtf16Le);
  EXPECT_EQ(SniffEncoding("H\0\0\0i\0\0\0!\0\0\0"s).encoding, TextEncoding::kUtf32Le);
  // Binary with a NUL pattern is not text: it stays "UTF-8" (NULs dropped, controls kept).
  EXPECT_EQ(SniffEncoding("\x01\0\x02\0\x03\0\x04\0\x05\0"s).encoding, TextEncoding::kUtf8);
}

TEST(TextDecode, LineEndsAndNul) {
  EXPECT_EQ(DecodeToUtf8("a\r\nb\rc\nd\r\n\r\ne\r"), "a\nb\nc\nd\n\ne\n");
  EXPECT_EQ(DecodeToUtf8("a\0b\0\0c"s), "abc");
  EXPECT_EQ(DecodeToUtf8("\xFF\xFE" "a\0\r\0\n\0b\0\r\0"s), "a\nb\n");
}

TEST(TextDecode, IllFormedUtf8BecomesReplacementCharacters) {
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  EXPECT_EQ(DecodeToUtf8("a\x80" "b"), "a" + r + "b");          // lone continuation byte
  EXPECT_EQ(DecodeToUtf8("\xC0\xAF"), r + r);                  // overlong: both bytes invalid
  EXPECT_EQ(DecodeToUtf8("\xED\xA0\x80"), r + r + r);          // UTF-16 surrogate
  EXPECT_EQ(DecodeToUtf8("\xF4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(DecodeToUtf8("x\xF0\x9F\x98y"), "x" + r + "y");     // truncated: one maximal subpart
  EXPECT_EQ(DecodeToUtf8("end\xE2\x82"), "end" + r);           // truncated at the end
  EXPECT_EQ(DecodeToUtf8("\xFE\xFE"), r + r);
  EXPECT_EQ(DecodeToUtf8("latin-1 caf\xE9!"), "latin-1 caf" + r + "!");
}

TEST(TextDecode, IllFormedUtf16And32BecomeReplacementCharacters) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(DecodeToUtf8("\xFF\xFE" "\x3D\xD8" "a\0"s), r + "a");  // high surrogate, no low one
  EXPECT_EQ(DecodeToUtf8("\xFF\xFE" "\x00\xDE" "a\0"s), r + "a");  // lone low surrogate
  EXPECT_EQ(DecodeToUtf8("\xFF\xFE" "a\0b"s), "a" + r);            // odd trailing byte
  EXPECT_EQ(DecodeToUtf8("\xFF\xFE\0\0" "\0\0\x11\0" "a\0\0\0"s), r + "a");  // above U+10FFFF
}

TEST(TextDecode, OfficeSampleTextInUtf16And32) {
  const std::string utf8 = ReadBytes(kOffice + "fake-text.txt");
  const std::string be = DecodeToUtf8(ReadBytes(kOffice + "fake-text-utf-16-be.txt"));  // no BOM
  const std::string le = DecodeToUtf8(ReadBytes(kOffice + "fake-text-utf-16-le.txt"));  // no BOM
  const std::string u32 = DecodeToUtf8(ReadBytes(kOffice + "fake-text-utf-32.txt"));    // BOM
  EXPECT_EQ(be, utf8);
  EXPECT_EQ(le, u32);  // these two are indented differently from the UTF-8 one
  EXPECT_NE(le.find("This is a test document to use for unit tests.\n\n"), std::string::npos);
  EXPECT_EQ(Words(le), Words(utf8));
}

// clang-format on

// ---- NormalizeExtractedText ------------------------------------------------------------------

TEST(NormalizeText, CollapsesSpacesAndBlankLinesKeepsParagraphs) {
  EXPECT_EQ(NormalizeExtractedText("\n\n  Title   here  \n\n\n\n\nFirst\tline \r\nsecond\n\n\f"),
            "Title here\n\nFirst line\nsecond");
  EXPECT_EQ(NormalizeExtractedText("a\xC2\xA0\xE2\x80\x83"
                                   "b"),
            "a b");  // NBSP, em space
  EXPECT_EQ(NormalizeExtractedText(" \n \f \n"), "");
}

TEST(NormalizeText, DropsControlsAndInvisibleMarksSpellsOutLigatures) {
  EXPECT_EQ(NormalizeExtractedText("a\0b\x01\x1B"
                                   "c\x7F"
                                   "d"s),
            "abcd");
  EXPECT_EQ(NormalizeExtractedText("\xE2\x80\xAB"
                                   "abc"
                                   "\xE2\x80\xAC"
                                   "\xEF\xBB\xBF"),
            "abc");
  EXPECT_EQ(NormalizeExtractedText("\xEF\xAC\x81nd the \xEF\xAC\x82ow"), "find the flow");
  EXPECT_EQ(NormalizeExtractedText("bad \xFF byte"), "bad \xEF\xBF\xBD byte");
}

// ---- Detection -------------------------------------------------------------------------------

TEST(Detect, PdfIsPdfWhateverItIsCalled) {
  testutil::TempDir dir;
  const std::string renamed = dir.File("report.txt");
  fs::copy_file(kFourPagesPdf, renamed);
  for (const std::string& path : {kTrivialPdf, renamed}) {
    for (std::string_view hint : {"report.pdf", "report.txt", "notes.md", ""}) {
      Result<DetectedType> t = DetectFileType(path, hint);
      ASSERT_TRUE(t.ok()) << t.status().ToString();
      EXPECT_EQ(t->mime_type, "application/pdf") << path << " as " << hint;
    }
  }
}

// PDF readers find the header anywhere in the first 1,024 bytes (pdfplumber's issue-848.pdf
// has leading bytes; pdftotext reads it): so do detection and extraction.
TEST(Detect, PdfAfterLeadingBytesIsPdfAndReads) {
  testutil::TempDir dir;
  const std::string pdf = ReadBytes(kTrivialPdf);
  for (const std::string& lead : {std::string("\xEF\xBB\xBF"), std::string("Content-Type: application/pdf\r\n\r\n"),
                                  std::string(700, '\x01') + "junk\n"}) {
    const std::string path = dir.File("offset.pdf");
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << lead << pdf;
    }
    Result<DetectedType> t = DetectFileType(path, "offset.pdf");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->mime_type, "application/pdf") << lead.size() << " leading bytes";
    CollectingSink sink;
    ASSERT_TRUE(ExtractFile("application/pdf", path, sink).ok()) << lead.size() << " leading bytes";
    ASSERT_EQ(sink.pages.size(), 1u);
    EXPECT_EQ(Words(sink.pages[0].text), Words(OnlyPage("application/pdf", kTrivialPdf)));
  }
  // Not after a header past the first 1,024 bytes, nor without the trailer.
  const std::string far = dir.File("far.bin");
  {
    std::ofstream out(far, std::ios::binary);
    out << std::string(1100, '\x01') << pdf;
  }
  EXPECT_NE(DetectFileType(far, "far.pdf")->mime_type, "application/pdf");
  const std::string cut = dir.File("cut.bin");
  {
    std::ofstream out(cut, std::ios::binary);
    out << std::string(700, '\x01') << pdf.substr(0, pdf.rfind("%%EOF"));
  }
  EXPECT_NE(DetectFileType(cut, "cut.pdf")->mime_type, "application/pdf");
}

// libmagic calls some prose application/vnd.hp-hpgl ("PA..."), message/news ("Article ..."):
// every NFCorpus abstract, alone or under its title, as a .txt file is text.
TEST(Detect, EveryNfcorpusAbstractIsText) {
  testutil::TempDir dir;
  std::ifstream corpus(kData + "/beir/nfcorpus/corpus.jsonl");
  ASSERT_TRUE(corpus) << "no NFCorpus in " << kData;
  const std::string path = dir.File("abstract.txt");
  std::vector<std::string> refused;
  int documents = 0;
  for (std::string line; std::getline(corpus, line);) {
    const nlohmann::json doc = nlohmann::json::parse(line);
    const std::string text = doc.at("text").get<std::string>();
    ++documents;
    for (const std::string& content : {text, doc.at("title").get<std::string>() + "\n\n" + text}) {
      {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << content;
      }
      Result<DetectedType> t = DetectFileType(path, "abstract.txt");
      ASSERT_TRUE(t.ok()) << t.status().ToString();
      if (!IsSupportedType(t->mime_type) || t->mime_type != "text/plain") {
        refused.push_back(doc.at("_id").get<std::string>() + " (" + t->mime_type + "): " + content.substr(0, 40));
      }
    }
  }
  EXPECT_EQ(documents, 3633);
  EXPECT_TRUE(refused.empty()) << refused.size() << " refused, the first: " << refused.front();

  // Other guesses libmagic makes for text are text too; markup that is not prose is not.
  const std::pair<std::string, bool> cases[] = {
      {"Article 12 of the convention says that every person has rights.\n", true},  // message/news
      {"From: someone\nSubject: hi\n\nbody text\n", true},                      // message/rfc822
      {"{\"a\": \"text\", \"b\": [1, 2]}\n", true},                              // application/json
      {"name,age\nbob,3\nal,4\n", true},                                          // text/csv
      {"Caf\xE9 cr\xE8me br\xFBl\xE9" "e, na\xEFve fa\xE7" "ade: d\xE9j\xE0 vu, r\xE9sum\xE9 for a ma\xEEtre d'h\xF4tel.\n",
       true},  // Latin-1
      {"<svg xmlns=\"http://www.w3.org/2000/svg\"><text>hi</text></svg>", false},
      {"<?xml version=\"1.0\"?>\n<root><a>text</a></root>\n", false},
      {"%!PS-Adobe-3.0\n/Times findfont\n", false},
  };
  for (const auto& [content, text] : cases) {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << content;
    }
    Result<DetectedType> t = DetectFileType(path, "file.txt");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->mime_type == "text/plain", text) << t->mime_type << ": " << content;
  }
}

TEST(Detect, TextFilesInEveryEncoding) {
  const std::pair<const char*, const char*> cases[] = {
      {"fake-text.txt", "us-ascii"},           {"fake-text-utf-32.txt", "utf-32le"},
      {"fake-text-utf-16-le.txt", "utf-16le"},  // no BOM: libmagic alone says octet-stream
      {"fake-text-utf-16-be.txt", "utf-16be"}, {"book-war-and-peace-1p.txt", "us-ascii"},
  };
  for (const auto& [name, encoding] : cases) {
    Result<DetectedType> t = DetectFileType(kOffice + name, name);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->mime_type, "text/plain") << name;
    EXPECT_EQ(t->encoding, encoding) << name;
    EXPECT_TRUE(IsSupportedType(t->mime_type));
  }
}

TEST(Detect, MarkdownNameRefinesTextOnly) {
  EXPECT_EQ(DetectFileType(kOffice + "README.md", "README.md")->mime_type, "text/markdown");
  EXPECT_EQ(DetectFileType(kOffice + "README.md", "notes.MARKDOWN")->mime_type, "text/markdown");
  EXPECT_EQ(DetectFileType(kOffice + "README.md", "README")->mime_type, "text/plain");
  // Markdown with HTML code blocks looks like HTML to libmagic; the name settles it.
  EXPECT_EQ(DetectFileType(kOffice + "codeblock.md", "")->mime_type, "text/html");
  EXPECT_EQ(DetectFileType(kOffice + "codeblock.md", "codeblock.md")->mime_type, "text/markdown");
  EXPECT_EQ(DetectFileType(kOffice + "fake.odt", "fake.md")->mime_type,
            "application/vnd.oasis.opendocument.text");
}

TEST(Detect, EmptyRandomMissingAndDirectory) {
  Result<DetectedType> empty = DetectFileType(kOffice + "empty.txt", "empty.txt");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->mime_type, kEmptyFileMimeType);
  EXPECT_FALSE(IsSupportedType(empty->mime_type));

  testutil::TempDir dir;
  std::mt19937 rng(42);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  WriteBytes(dir.File("noise.pdf"), noise);
  EXPECT_EQ(DetectFileType(dir.File("noise.pdf"), "noise.pdf")->mime_type, "application/octet-stream");

  EXPECT_EQ(DetectFileType(dir.File("missing"), "").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(DetectFileType(dir.path(), "").status().code(), StatusCode::kInvalidArgument);
}

// ---- Extractor registry ----------------------------------------------------------------------

TEST(Extractors, SupportedTypes) {
  for (const char* t : {"application/pdf", "Application/PDF", "text/plain", "text/plain; charset=utf-8",
                        "text/markdown", "text/x-c", "text/x-shellscript", "text/x-tex", "text/html",
                        "application/xhtml+xml", "text/rtf", "application/rtf", "image/png", "image/jpeg",
                        "image/tiff", "image/bmp", "image/x-ms-bmp", "image/gif", "image/webp", "application/zip"}) {
    EXPECT_TRUE(IsSupportedType(t)) << t;
    EXPECT_NE(ExtractorFor(t), nullptr) << t;
  }
  for (const char* t : {"text/xml", "application/x-empty", "application/octet-stream",
                        "image/svg+xml", "image/x-icon", "", "text/plainx"}) {
    EXPECT_FALSE(IsSupportedType(t)) << t;
    EXPECT_EQ(ExtractorFor(t), nullptr) << t;
  }
}

// ---- Text extractor --------------------------------------------------------------------------

TEST(TextExtractor, OneUtf8PageFromAnyEncoding) {
  const std::string expected = DecodeToUtf8(ReadBytes(kOffice + "fake-text-utf-32.txt"));
  for (const char* name : {"fake-text-utf-16-le.txt", "fake-text-utf-32.txt"}) {
    CollectingSink sink;
    ASSERT_TRUE(ExtractFile("text/plain", kOffice + name, sink).ok()) << name;
    ASSERT_EQ(sink.pages.size(), 1u);
    EXPECT_EQ(sink.pages[0].number, 1);
    EXPECT_EQ(sink.pages[0].count, 1);
    EXPECT_EQ(sink.pages[0].text, expected) << name;
  }
}

TEST(TextExtractor, CrLfBomAndInvalidBytes) {
  testutil::TempDir dir;
  WriteBytes(dir.File("a.md"), "\xEF\xBB\xBF# Title\r\n\r\ncaf\xE9\r\n");
  CollectingSink sink;
  ASSERT_TRUE(ExtractFile("text/markdown", dir.File("a.md"), sink).ok());
  ASSERT_EQ(sink.pages.size(), 1u);
  EXPECT_EQ(sink.pages[0].text, "# Title\n\ncaf\xEF\xBF\xBD\n");
}

TEST(TextExtractor, EmptyFileIsOneEmptyPage) {
  CollectingSink sink;
  ASSERT_TRUE(ExtractFile("text/plain", kOffice + "empty.txt", sink).ok());
  ASSERT_EQ(sink.pages.size(), 1u);
  EXPECT_EQ(sink.pages[0].text, "");
}

TEST(TextExtractor, SizeLimitAndMissingFile) {
  ExtractLimits limits;
  limits.max_text_bytes = 100;
  CollectingSink sink;
  const std::string path = kOffice + "book-war-and-peace-1p.txt";
  Status s = ExtractFile("text/plain", path, sink, limits);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "the text file has " + std::to_string(fs::file_size(path)) + " bytes; the limit is 100");
  EXPECT_TRUE(sink.pages.empty());
  EXPECT_EQ(ExtractFile("text/plain", kOffice + "no-such-file.txt", sink).code(), StatusCode::kNotFound);
  EXPECT_EQ(ExtractFile("text/plain", kOffice, sink).code(), StatusCode::kInvalidArgument);
}

// ---- PDF extractor ---------------------------------------------------------------------------

TEST(PdfExtractor, TrivialDocumentMatchesItsTexSource) {
  std::string body;
  std::istringstream tex(ReadBytes(kPdfSamples + "001-trivial/minimal-document.tex"));
  for (std::string line; std::getline(tex, line);) {
    if (!line.starts_with("\\")) body += line + "\n";
  }
  CollectingSink sink;
  ASSERT_TRUE(ExtractFile("application/pdf", kTrivialPdf, sink).ok());
  ASSERT_EQ(sink.pages.size(), 1u);
  EXPECT_EQ(sink.pages[0].number, 1);
  EXPECT_EQ(sink.pages[0].count, 1);
  // Every word in order ("taki-mata", hyphenated at a line end, joined again), then the
  // page number LaTeX prints in the footer.
  std::vector<std::string> expected = Words(body);
  expected.push_back("1");
  EXPECT_EQ(Words(sink.pages[0].text), expected);
}

TEST(PdfExtractor, FourPagesInOrderEachWithItsNumber) {
  CollectingSink sink;
  ASSERT_TRUE(ExtractFile("application/pdf", kFourPagesPdf, sink).ok());
  ASSERT_EQ(sink.pages.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const Page& p = sink.pages[i];
    EXPECT_EQ(p.number, i + 1);
    EXPECT_EQ(p.count, 4);
    const std::string footer = "\n\n" + std::to_string(i + 1);
    EXPECT_TRUE(p.text.ends_with(footer))
        << "page " << i + 1 << " ends with: " << p.text.substr(p.text.size() - 40);
  }
  EXPECT_TRUE(sink.pages[0].text.starts_with("Hello, here is some text without a meaning."));
  EXPECT_TRUE(sink.pages[1].text.starts_with("information. Really? Is there no information?"));
}

TEST(PdfExtractor, SectionHeadingsFromTheTexSourceOnTheirPages) {
  // \section{Foo|Bar|Baz} nine times; the table of contents on page 1 puts 4 of them on
  // page 2, 3 on page 3 and 2 on page 4. Each heading is a paragraph of its own.
  const std::vector<std::string> headings =
      TexArguments(ReadBytes(kPdfSamples + "006-pdflatex-outline/pdflatex-outline.tex"), "section");
  ASSERT_EQ(headings.size(), 9u);

  CollectingSink sink;
  ASSERT_TRUE(
      ExtractFile("application/pdf", kPdfSamples + "006-pdflatex-outline/pdflatex-outline.pdf", sink).ok());
  ASSERT_EQ(sink.pages.size(), 4u);
  EXPECT_TRUE(sink.pages[0].text.starts_with("Contents\n"));
  std::vector<std::string> found;
  std::vector<int> per_page;
  for (size_t p = 1; p < 4; ++p) {
    int n = 0;
    std::istringstream lines(sink.pages[p].text);
    for (std::string line; std::getline(lines, line);) {
      if (line == "Foo" || line == "Bar" || line == "Baz") {
        found.push_back(line);
        ++n;
      }
    }
    per_page.push_back(n);
  }
  EXPECT_EQ(found, headings);
  EXPECT_EQ(per_page, (std::vector<int>{4, 3, 2}));
}

TEST(PdfExtractor, TwoColumnsComeOutColumnByColumn) {
  CollectingSink sink;
  ASSERT_TRUE(
      ExtractFile("application/pdf", kPdfSamples + "026-latex-multicolumn/multicolumn.pdf", sink).ok());
  ASSERT_FALSE(sink.pages.empty());
  // One sentence of the left column, unbroken by the right column's lines and hyphens.
  EXPECT_NE(
      sink.pages[0].text.find("Lorem ipsum dolor sit amet, consectetuer adipiscing elit. Ut purus elit, "
                              "vestibulum ut, placerat"),
      std::string::npos)
      << sink.pages[0].text;
}

TEST(PdfExtractor, EncryptedPdfNeedsAPassword) {
  CollectingSink sink;
  Status s =
      ExtractFile("application/pdf",
                  kPdfSamples + "005-libreoffice-writer-password/libreoffice-writer-password.pdf", sink);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "the PDF is encrypted and needs a password");
  EXPECT_TRUE(sink.pages.empty());
}

TEST(PdfExtractor, NtsbReportsHaveAllTheirPages) {
  // Page counts as `pdfinfo` (poppler-utils) reports them.
  const std::pair<const char*, int> reports[] = {
      {"20071229X02007", 4}, {"20071231X02009", 4}, {"20080102X00002", 3}, {"20080102X00005", 4},
      {"20080104X00020", 5}, {"20080108X00029", 3}, {"20080108X00031", 3}, {"20080109X00035", 5},
      {"20080111X00040", 4}, {"20080111X00041", 5}, {"20080114X00043", 4}, {"20080115X00053", 5},
      {"20080116X00055", 4}, {"20080116X00061", 4}, {"20080117X00064", 3}, {"20080117X00072", 4},
      {"20080122X00080", 4}, {"20080123X00097", 4}, {"20080124X00100", 5}, {"20080124X00101", 4},
  };
  for (const auto& [name, pages] : reports) {
    CollectingSink sink;
    ASSERT_TRUE(ExtractFile("application/pdf", kNtsb + name + ".pdf", sink).ok()) << name;
    ASSERT_EQ(sink.pages.size(), static_cast<size_t>(pages)) << name;
    for (const Page& p : sink.pages) {
      EXPECT_EQ(p.count, pages);
      EXPECT_GT(p.text.size(), 200u) << name << " page " << p.number;
      // Each page prints "Page i of n": the text is from the page it claims to be.
      const std::string footer = "Page " + std::to_string(p.number) + " of " + std::to_string(pages);
      EXPECT_NE(p.text.find(footer), std::string::npos) << name << " page " << p.number;
    }
  }
}

TEST(PdfExtractor, TruncatedPdfFailsCleanlyOrYieldsWhatItCan) {
  testutil::TempDir dir;
  for (const std::string& source : {kFourPagesPdf, kNtsb + "20080111X00041.pdf"}) {
    const std::string bytes = ReadBytes(source);
    WriteBytes(dir.File("half.pdf"), std::string_view(bytes).substr(0, bytes.size() / 2));
    CollectingSink sink;
    Status s = ExtractFile("application/pdf", dir.File("half.pdf"), sink);
    EXPECT_TRUE(s.ok() || s.code() == StatusCode::kInvalidArgument) << s.ToString();
    for (const Page& p : sink.pages) EXPECT_TRUE(IsValidUtf8(p.text));
  }
}

TEST(PdfExtractor, RandomBytesAreNotAPdf) {
  testutil::TempDir dir;
  std::mt19937 rng(7);
  std::string noise(64 * 1024, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  WriteBytes(dir.File("noise.pdf"), noise);
  CollectingSink sink;
  Status s = ExtractFile("application/pdf", dir.File("noise.pdf"), sink);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(s.message().starts_with("not a readable PDF file")) << s.message();
  EXPECT_TRUE(sink.pages.empty());
  EXPECT_EQ(ExtractFile("application/pdf", dir.File("missing.pdf"), sink).code(), StatusCode::kNotFound);
  EXPECT_EQ(ExtractFile("application/pdf", dir.path(), sink).code(), StatusCode::kInvalidArgument);
}

TEST(PdfExtractor, PageLimitIsCheckedBeforeExtracting) {
  ExtractLimits limits;
  limits.max_pages = 3;
  CollectingSink sink;
  Status s = ExtractFile("application/pdf", kFourPagesPdf, sink, limits);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "document has 4 pages; the limit is 3");
  EXPECT_TRUE(sink.pages.empty());
  limits.max_pages = 4;
  EXPECT_TRUE(ExtractFile("application/pdf", kFourPagesPdf, sink, limits).ok());
}

TEST(PdfExtractor, SinkErrorStopsTheExtraction) {
  CollectingSink sink;
  sink.fail_at_page = 2;
  Status s = ExtractFile("application/pdf", kFourPagesPdf, sink);
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message(), "sink is full");
  EXPECT_EQ(sink.pages.size(), 2u);
}

TEST(PdfExtractor, EverySampleFileGivesCleanTextOrAClearError) {
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(kPdfSamples)) {
    if (entry.path().extension() != ".pdf") continue;
    ++files;
    CollectingSink sink;
    Status s = ExtractFile("application/pdf", entry.path().string(), sink);
    EXPECT_TRUE(s.ok() || s.code() == StatusCode::kInvalidArgument) << entry.path() << ": " << s.ToString();
    for (const Page& p : sink.pages) {
      EXPECT_TRUE(IsValidUtf8(p.text)) << entry.path() << " page " << p.number;
      EXPECT_EQ(p.text.find_first_of("\r\f"s + '\0'), std::string::npos) << entry.path();
      EXPECT_EQ(p.text.find("\n\n\n"), std::string::npos) << entry.path();
      EXPECT_EQ(p.text.find("  "), std::string::npos) << entry.path();
    }
  }
  EXPECT_GE(files, 26);
}

}  // namespace
}  // namespace betterdev::extract
