// A PDF's bookmarks with the pages they open: files whose truth is known (a LaTeX source, a
// filing's bookmarks as a PDF viewer shows them) and hostile outlines written here.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "extract/extract_testutil.hpp"
#include "extract/extractor.hpp"
#include "extract/pdf_outline.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::extract {
namespace {

using namespace testing;  // NOLINT: the module's test helpers
const std::string kPdfSamples = kData + "/pdf/py-pdf-sample-files/";

struct Entry {
  int level;
  int page;
  std::string title;
  bool operator==(const Entry&) const = default;
};

std::vector<Entry> Outline(const CollectingSink& sink) {
  std::vector<Entry> out;
  for (const Page& e : sink.outline) out.push_back({e.number, e.count, e.text});
  return out;
}

std::ostream& operator<<(std::ostream& os, const Entry& e) {
  return os << "{" << e.level << ", p" << e.page << ", \"" << e.title << "\"}";
}

TEST(PdfOutline, TheTexSourcesSectionsOnThePagesTheyOpen) {
  // hyperref bookmarks each \section; pages as the table of contents on page 1 prints them
  // (the extractor's test SectionHeadingsFromTheTexSourceOnTheirPages reads the same there).
  const std::vector<std::string> sections =
      TexArguments(ReadBytes(kPdfSamples + "006-pdflatex-outline/pdflatex-outline.tex"), "section");
  ASSERT_EQ(sections.size(), 9u);
  const int pages[] = {2, 2, 2, 2, 3, 3, 3, 4, 4};
  std::vector<Entry> expected;
  for (size_t i = 0; i < sections.size(); ++i) expected.push_back({1, pages[i], sections[i]});

  CollectingSink sink;
  ASSERT_TRUE(ExtractFile("application/pdf", kPdfSamples + "006-pdflatex-outline/pdflatex-outline.pdf", sink).ok());
  EXPECT_EQ(Outline(sink), expected);
  EXPECT_EQ(sink.pages.size(), 4u);
}

TEST(PdfOutline, AFilingsBookmarksNestedWithTheirPages) {
  CollectingSink sink;
  ASSERT_TRUE(ExtractFile("application/pdf", kData + "/qa/docugami-sec-10-q/docs/2023 Q1 INTC.pdf", sink).ok());
  const std::vector<Entry> outline = Outline(sink);
  ASSERT_EQ(outline.size(), 55u);
  // As a viewer's bookmark panel shows them, each checked against the page it opens.
  EXPECT_EQ(outline[0], (Entry{1, 1, "Cover"}));
  EXPECT_EQ(outline[4], (Entry{1, 5, "Financial Statements"}));
  EXPECT_EQ(outline[7], (Entry{2, 8, "Balance Sheet"}));
  EXPECT_EQ(outline[16], (Entry{4, 13, "Accounts Receivable"}));
  EXPECT_EQ(outline[29], (Entry{1, 24, "Management's Discussion and Analysis of Financial Condition and Results of Operations"}));
  EXPECT_EQ(outline.back(), (Entry{1, 43, "Signatures"}));
  EXPECT_NE(sink.pages[7].text.find("Balance Sheets"), std::string::npos);
  EXPECT_NE(sink.pages[12].text.find("Accounts Receivable"), std::string::npos);
}

TEST(PdfOutline, NoneWithoutBookmarks) {
  CollectingSink sink;
  ASSERT_TRUE(ExtractFile("application/pdf", kPdfSamples + "004-pdflatex-4-pages/pdflatex-4-pages.pdf", sink).ok());
  EXPECT_TRUE(sink.outline.empty());
  EXPECT_EQ(sink.pages.size(), 4u);
}

// Two blank pages (objects 3, 4) and the outline's items from object 6 on.
std::string PdfWithOutline(const std::vector<std::string>& items, const std::string& catalog_extra = "") {
  std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R /Outlines 5 0 R " + catalog_extra + ">>",
      "<< /Type /Pages /Count 2 /Kids [3 0 R 4 0 R] >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
      "<< /Type /Outlines /First 6 0 R /Last " + std::to_string(5 + items.size()) + " 0 R >>",
  };
  objects.insert(objects.end(), items.begin(), items.end());
  return PdfOf(objects);
}

Status ExtractBytes(const std::string& pdf, CollectingSink& sink) {
  testutil::TempDir dir;
  const std::string path = dir.path() + "/outline.pdf";
  WriteBytes(path, pdf);
  return ExtractFile("application/pdf", path, sink);
}

TEST(PdfOutline, HostileEntriesAreLeftOutAndCyclesEnd) {
  std::string long_title = "<FEFF";  // UTF-16BE: 150 times U+00E9, 300 bytes of UTF-8
  for (int i = 0; i < 150; ++i) long_title += "00E9";
  long_title += ">";
  const std::string pdf = PdfWithOutline(
      {
          // 6: control characters and spaces in the title; its first child is itself.
          "<< /Title (\\001Intro\\t\\tduction  ) /Parent 5 0 R /Dest [3 0 R /Fit] /First 6 0 R /Last 6 0 R /Count 1 "
          "/Next 7 0 R >>",
          // 7: a link to a web page: no page of this document.
          "<< /Title (Web) /Parent 5 0 R /A << /S /URI /URI (http://127.0.0.1/) >> /Prev 6 0 R /Next 8 0 R >>",
          // 8: a named destination on page 2, from the catalog's /Dests.
          "<< /Title (Chapter 2) /Parent 5 0 R /Dest /chap2 /Prev 7 0 R /Next 9 0 R >>",
          // 9: a destination that is not a page; its child is kept, one level down.
          "<< /Title (Nowhere) /Parent 5 0 R /Dest [5 0 R /Fit] /First 11 0 R /Last 11 0 R /Count 1 /Prev 8 0 R "
          "/Next 10 0 R >>",
          // 10: a long title; then back to the first item (a cycle among siblings).
          "<< /Title " + long_title + " /Parent 5 0 R /Dest [4 0 R /XYZ 0 700 0] /Prev 9 0 R /Next 6 0 R >>",
          // 11: the child of 9, its page given by number (0: the first).
          "<< /Title (Child) /Parent 9 0 R /Dest [0 /Fit] >>",
      },
      "/Dests << /chap2 [4 0 R /Fit] >> ");
  CollectingSink sink;
  ASSERT_TRUE(ExtractBytes(pdf, sink).ok());
  std::string expected_long;
  for (int i = 0; i < 100; ++i) expected_long += "\xC3\xA9";  // cut at 200 bytes, between characters
  const std::vector<Entry> expected = {
      {1, 1, "Intro duction"}, {1, 2, "Chapter 2"}, {2, 1, "Child"}, {1, 2, expected_long}};
  EXPECT_EQ(Outline(sink), expected);
  EXPECT_EQ(sink.pages.size(), 2u);
}

TEST(PdfOutline, DepthAndCountAreBounded) {
  // A chain of 40 items, each the only child of the one before.
  std::vector<std::string> chain;
  for (int i = 0; i < 40; ++i) {
    const int self = 6 + i;
    std::string item = "<< /Title (Level " + std::to_string(i + 1) + ") /Dest [3 0 R /Fit] /Parent " +
                       std::to_string(i == 0 ? 5 : self - 1) + " 0 R";
    if (i + 1 < 40) item += " /First " + std::to_string(self + 1) + " 0 R /Last " + std::to_string(self + 1) + " 0 R /Count 1";
    chain.push_back(item + " >>");
  }
  CollectingSink deep;
  ASSERT_TRUE(ExtractBytes(PdfWithOutline(chain), deep).ok());
  ASSERT_EQ(deep.outline.size(), static_cast<size_t>(kMaxOutlineDepth));
  EXPECT_EQ(deep.outline.back().number, kMaxOutlineDepth);

  // 700 siblings.
  std::vector<std::string> wide;
  for (int i = 0; i < 700; ++i) {
    const int self = 6 + i;
    std::string item = "<< /Title (Item " + std::to_string(i) + ") /Dest [4 0 R /Fit] /Parent 5 0 R";
    if (i > 0) item += " /Prev " + std::to_string(self - 1) + " 0 R";
    if (i + 1 < 700) item += " /Next " + std::to_string(self + 1) + " 0 R";
    wide.push_back(item + " >>");
  }
  CollectingSink many;
  ASSERT_TRUE(ExtractBytes(PdfWithOutline(wide), many).ok());
  ASSERT_EQ(many.outline.size(), static_cast<size_t>(kMaxOutlineEntries));
  EXPECT_EQ(many.outline.back().text, "Item " + std::to_string(kMaxOutlineEntries - 1));
}

}  // namespace
}  // namespace betterdev::extract
