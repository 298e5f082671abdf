#include "chunk/headings.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "chunk/chunker.hpp"

namespace betterdev::chunk {
namespace {

std::vector<std::string> Texts(const std::vector<Heading>& headings) {
  std::vector<std::string> out;
  for (const Heading& h : headings) out.push_back(std::to_string(h.level) + " " + h.text);
  return out;
}

// The shape of a 10-Q filing's text as the PDF extractor gives it.
const char* kFiling =
    "PART I — FINANCIAL INFORMATION\n"
    "Item 1.\n"
    "Financial Statements\n"
    "\n"
    "Apple Inc.\n"
    "\n"
    "CONDENSED CONSOLIDATED BALANCE SHEETS (Unaudited)\n"
    "(In millions)\n"
    "\n"
    "| July 1, 2023 | September 24, 2022\n"
    "Inventories | 7,351 | 4,946\n"
    "Total current assets | 122,659 | 135,405\n"
    "\n"
    "Apple Inc. | Q3 2023 Form 10-Q | 3\n"
    "\n"
    "Note 3 – Financial Instruments\n"
    "\n"
    "Cash, Cash Equivalents and Marketable Securities\n"
    "The following tables show the Company's cash, cash equivalents and marketable securities.\n"
    "\n"
    "PART I — FINANCIAL INFORMATION\n"
    "\n"
    "More of note 3 on the next page, which the running part heading must not close.\n"
    "\n"
    "Item 2.\n"
    "\n"
    "Management's Discussion and Analysis of Financial Condition and Results of Operations\n"
    "\n"
    "Gross Margin\n"
    "\n"
    "Products and Services gross margin and gross margin percentage for the quarter were as follows.\n"
    "\n"
    "PART II — OTHER INFORMATION\n"
    "\n"
    "Item 1A.\n"
    "\n"
    "Risk Factors\n"
    "\n"
    "The Company's business can be affected by many factors, set out in the annual report.\n";

TEST(Headings, TheShapesOfAFilingsHeadings) {
  const std::vector<Heading> h = FindHeadings(kFiling);
  EXPECT_EQ(Texts(h), (std::vector<std::string>{
                          "1 PART I — FINANCIAL INFORMATION",
                          "2 Item 1. Financial Statements",
                          "3 CONDENSED CONSOLIDATED BALANCE SHEETS (Unaudited)",
                          "3 Note 3 – Financial Instruments",
                          "4 Cash, Cash Equivalents and Marketable Securities",
                          "2 Item 2. Management's Discussion and Analysis of Financial Condition and Results of Operations",
                          "4 Gross Margin",
                          "1 PART II — OTHER INFORMATION",
                          "2 Item 1A. Risk Factors",
                      }));
}

TEST(Headings, EveryChunkCarriesThePathAboveIt) {
  DocumentText doc;
  doc.AddPage(1, kFiling);
  const std::vector<Chunk> chunks = ChunkText(doc, {120, 20});
  auto section_of = [&](const std::string& words) {
    for (const Chunk& c : chunks)
      if (c.text.find(words) != std::string::npos) return c.section;
    return std::string("(not found)");
  };
  const std::string part1 = "PART I — FINANCIAL INFORMATION";
  EXPECT_EQ(section_of("Inventories | 7,351"),
            part1 + " › Item 1. Financial Statements › CONDENSED CONSOLIDATED BALANCE SHEETS (Unaudited)");
  EXPECT_EQ(section_of("More of note 3"), part1 + " › Item 1. Financial Statements › Note 3 – Financial Instruments › "
                                                  "Cash, Cash Equivalents and Marketable Securities");
  EXPECT_EQ(section_of("gross margin percentage"),
            part1 + " › Item 2. Management's Discussion and Analysis of Financial Condition and Results of Operations"
                    " › Gross Margin");
  // A chunk starting with headings is under them all (up to "Apple Inc.", which is text).
  EXPECT_EQ(chunks.front().section, part1 + " › Item 1. Financial Statements");
}

TEST(Headings, MarkdownLevelsAndWhatIsNotAHeading) {
  const std::string text =
      "# Guide\n\nIntro text.\n\n## Install\n\nRun it.\n\n### On Debian\n\napt-get install.\n\n## Use\n\n"
      "Products\nServices\nTotal net sales\n\n"      // labels of a table read column by column
      "This Sentence Ends With A Period.\n\n"          // prose in title case
      "Net sales:\n\n"                                 // a label
      "Table of Contents\n\nx\n\nTable of Contents\n\ny\n\nTable of Contents\n\nz\n\nTable of Contents\n\n"
      "Region | Sales\nEMEA | 10\n";                   // a table row
  EXPECT_EQ(Texts(FindHeadings(text)),
            (std::vector<std::string>{"1 Guide", "2 Install", "3 On Debian", "2 Use"}));
  HeadingPath path(FindHeadings(text), text);
  EXPECT_EQ(path.At(0, text.size()), "Guide");  // "# Guide" then its text
  EXPECT_EQ(path.At(text.find("apt-get"), text.size()), "Guide › Install › On Debian");
  EXPECT_EQ(path.At(text.find("Products"), text.size()), "Guide › Use");
  EXPECT_EQ(path.At(text.size(), text.size()), "Guide › Use");
}

TEST(Headings, AChunkStartingWithHeadingsOpensOnlyDeeperOnesWithinIt) {
  // A table of contents read line by line: the first chunk is under "Item 1.", not "Item 3."
  const std::string toc = "Item 1.\n\nItem 2.\n\nItem 3.\n\nBody text of the first item, long enough to read.\n";
  EXPECT_EQ(Texts(FindHeadings(toc)), (std::vector<std::string>{"2 Item 1.", "2 Item 2.", "2 Item 3."}));
  HeadingPath path(FindHeadings(toc), toc);
  EXPECT_EQ(path.At(0, toc.size()), "Item 1.");
  // Nor past the chunk's end: "# A" then "## B" right after, but the chunk ends before "## B".
  const std::string md = "# A\n\n## B\n\ntext";
  HeadingPath short_chunk(FindHeadings(md), md);
  EXPECT_EQ(short_chunk.At(0, 3), "A");
  // An item's title is never the next part or item.
  EXPECT_EQ(Texts(FindHeadings("Item 4.\nPART II\n\nItem 1.\nLegal Proceedings\n")),
            (std::vector<std::string>{"2 Item 4.", "1 PART II", "2 Item 1. Legal Proceedings"}));
  // A table row is never a heading, whatever its case, also with an empty first or last cell.
  EXPECT_TRUE(FindHeadings("NET SALES: |\n| 2023 | 2022\nTOTAL | 100\n").empty());
}

TEST(Headings, AFormsValuesAreNotHeadings) {
  // An accident report's form: values in title case or capitals, one per line.
  const std::string form =
      "Aircraft Damage:\n\nSubstantial\n1 None\n\nKADM\n\nLycoming\nELT: Installed\n\n"
      "Analysis\n\nThe airplane landed when the wind switched from a crosswind to a tailwind.\n";
  EXPECT_EQ(Texts(FindHeadings(form)), (std::vector<std::string>{"4 Analysis"}));
}

TEST(Headings, NoHeadingsNoPath) {
  EXPECT_TRUE(FindHeadings("").empty());
  EXPECT_TRUE(FindHeadings("just some prose, and more of it.\nsecond line of prose here.\n").empty());
  DocumentText doc;
  doc.AddPage(1, "just some prose, and more of it.");
  const std::vector<Chunk> chunks = ChunkText(doc, {500, 100});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].section, "");
}

// ---- From the document's own outline --------------------------------------------------------

// Three pages of a filing with its bookmarks (titles as their author wrote them, not as the
// page prints them).
DocumentText FilingWithOutline(std::vector<OutlineEntry> outline) {
  DocumentText doc;
  doc.AddPage(1, "Intel Corporation\n\nForm 10-Q for the quarter ended April 1, 2023.");
  doc.AddPage(2,
              "Consolidated Condensed Statements of Income (In Millions; Unaudited)\n\n"
              "Net revenue | $ 11,715 | $ 18,353\n"
              "Gross margin | 4,032 | 9,974\n\n"
              "Consolidated Condensed Balance Sheets (In Millions; Unaudited)\n\n"
              "Total current assets | 43,262 | 50,407");
  doc.AddPage(4, "Revenue was down for the quarter, which we describe at length on this page, "
                 "with balance sheet words in prose that are no title at all.");
  for (OutlineEntry& e : outline) doc.AddOutlineEntry(std::move(e));
  return doc;
}

TEST(OutlineHeadings, EachOpensAtItsTitlesLineOnItsPageElseAtThePagesStart) {
  const DocumentText doc = FilingWithOutline({{1, 1, "Cover"},
                                              {1, 2, "Financial Statements"},
                                              {2, 2, "Statement of Income"},
                                              {2, 2, "Balance Sheet"},
                                              {1, 3, "MD&A"},      // page 3 has no text: page 4's start
                                              {2, 4, "Revenue"}});  // its line is prose: page 4's start
  const std::string text = doc.text();
  const std::vector<Heading> h = OutlineHeadings(doc);
  ASSERT_EQ(h.size(), 6u);
  EXPECT_EQ(Texts(h), (std::vector<std::string>{"1 Cover", "1 Financial Statements", "2 Statement of Income",
                                                "2 Balance Sheet", "1 MD&A", "2 Revenue"}));
  EXPECT_EQ(h[0].byte, 0u);
  EXPECT_EQ(h[1].byte, text.find("Consolidated Condensed Statements of Income"));  // page 2's start
  EXPECT_EQ(h[2].byte, text.find("Consolidated Condensed Statements of Income"));
  EXPECT_EQ(text.substr(h[3].byte, h[3].end - h[3].byte), "Consolidated Condensed Balance Sheets (In Millions; Unaudited)");
  EXPECT_EQ(h[4].byte, text.find("Revenue was down"));
  EXPECT_EQ(h[5].byte, h[4].byte);

  const std::vector<Chunk> chunks = ChunkText(doc, {80, 10});
  auto section_of = [&](const std::string& words) {
    for (const Chunk& c : chunks)
      if (c.text.find(words) != std::string::npos) return c.section;
    return std::string("(not found)");
  };
  EXPECT_EQ(section_of("Form 10-Q"), "Cover");
  EXPECT_EQ(section_of("Net revenue | $ 11,715"), "Financial Statements › Statement of Income");
  EXPECT_EQ(section_of("Total current assets"), "Financial Statements › Balance Sheet");
  EXPECT_EQ(section_of("no title at all"), "MD&A › Revenue");
}

TEST(OutlineHeadings, ATableRowIsNoTitleAndEntriesStayInTextOrder) {
  // "Gross margin" names a row, not a title; "Balance Sheet" after page 4 points back.
  const DocumentText doc = FilingWithOutline({{1, 2, "Gross Margin"}, {1, 4, "Later"}, {1, 2, "Balance Sheet"}});
  const std::vector<Heading> h = OutlineHeadings(doc);
  EXPECT_EQ(Texts(h), (std::vector<std::string>{"1 Gross Margin", "1 Later"}));
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].byte, doc.text().find("Consolidated Condensed Statements of Income"));
}

TEST(OutlineHeadings, OneBookmarkIsNoStructure) {
  // A lone bookmark ("Cover") would name every chunk: the headings in the text are kept.
  DocumentText doc;
  doc.AddPage(1, kFiling);
  doc.AddOutlineEntry({1, 1, "Cover"});
  const std::vector<Chunk> chunks = ChunkText(doc, {120, 20});
  EXPECT_EQ(chunks.front().section, "PART I — FINANCIAL INFORMATION › Item 1. Financial Statements");
}

TEST(DocumentText, PageBytesOfAPageOrTheNextWithText) {
  DocumentText doc;
  doc.AddPage(1, "one");
  doc.AddPage(3, "three");
  EXPECT_EQ(doc.PageBytes(1), (std::pair<size_t, size_t>{0, 3}));
  EXPECT_EQ(doc.PageBytes(2), (std::pair<size_t, size_t>{5, 10}));
  EXPECT_EQ(doc.PageBytes(3), (std::pair<size_t, size_t>{5, 10}));
  EXPECT_EQ(doc.PageBytes(4), (std::pair<size_t, size_t>{10, 10}));
}

}  // namespace
}  // namespace betterdev::chunk
