// PDF tables row by row (pdf_layout.hpp): the layout rules on hand-written layouts, then PDFs
// this test writes from a known table, then the statements of the shared SEC 10-Q filings
// checked row by row against what a person reads on the page.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "extract/extract_testutil.hpp"
#include "extract/pdf_layout.hpp"

namespace betterdev::extract {
namespace {

using testing::CollectingSink;
using testing::ExtractFile;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool HasLine(const std::string& text, const std::string& line) {
  for (const std::string& l : Lines(text))
    if (l == line) return true;
  return false;
}

// ---- The layout rules ---------------------------------------------------------------------

// What poppler's physical layout gives for a statement (shape of Apple's 10-Q, page 1).
const char* kStatement =
    "                         CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS (Unaudited)\n"
    "                                  (In millions, except per share amounts)\n"
    "\n"
    "                                                          Three Months Ended              Nine Months Ended\n"
    "                                                       July 1,         June 25,        July 1,        June 25,\n"
    "                                                        2023             2022           2023            2022\n"
    "Net sales:\n"
    "  Products                                        $    60,584    $     63,355   $   230,901   $    245,241\n"
    "  Services                                             21,213          19,604        62,886         58,941\n"
    "     Total net sales                                   81,797          82,959       293,787        304,182\n"
    "\n"
    "Other income/(expense), net                              (265)            (10)         (594)           (97)\n"
    "Acquisition termination cost                               —               —             —           1,353\n"
    "Depreciation and amortization of property and equipment and capitalized content\n"
    "costs, operating lease assets, and other                9,716          11,589        18,909         22,712\n"
    "Earnings per share:\n"
    "    Basic                                         $      1.27   $         1.20  $      4.69   $       4.86\n"
    "\n"
    "                  See accompanying Notes to Condensed Consolidated Financial Statements.\n";

TEST(PdfLayout, AStatementComesOutRowByRowUnderItsHeader) {
  const std::string text = PageTextWithTables(kStatement);
  const std::vector<std::string> expected = {
      "CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS (Unaudited)",
      "(In millions, except per share amounts)",
      "",
      " | Three Months Ended July 1, 2023 | Three Months Ended June 25, 2022 | Nine Months Ended July 1, 2023 | "
      "Nine Months Ended June 25, 2022",
      "Net sales: |  |  |  | ",
      "Products | $60,584 | $63,355 | $230,901 | $245,241",
      "Services | 21,213 | 19,604 | 62,886 | 58,941",
      "Total net sales | 81,797 | 82,959 | 293,787 | 304,182",
      "Other income/(expense), net | (265) | (10) | (594) | (97)",
      "Acquisition termination cost | — | — | — | 1,353",
      "Depreciation and amortization of property and equipment and capitalized content costs, operating lease assets, "
      "and other | 9,716 | 11,589 | 18,909 | 22,712",
      "Earnings per share: |  |  |  | ",
      "Basic | $1.27 | $1.20 | $4.69 | $4.86",
      "",
      "See accompanying Notes to Condensed Consolidated Financial Statements.",
  };
  EXPECT_EQ(Lines(text), expected) << text;
}

TEST(PdfLayout, ARowWithoutACellKeepsItsColumnsInPlace) {
  // The second row has nothing in the second column: its third figure must not move left.
  const std::string text = PageTextWithTables(
      "                       2023        2022        2021\n"
      "Revenue              1,000       2,000       3,000\n"
      "Interest               400                     600\n"
      "Other                    7           8           9\n");
  EXPECT_TRUE(HasLine(text, "Interest | 400 |  | 600")) << text;
  EXPECT_TRUE(HasLine(text, " | 2023 | 2022 | 2021")) << text;
}

TEST(PdfLayout, FiguresAFewCharactersOffTheirColumnStayInIt) {
  // The layout's character grid shifts short figures after a "$" to the right: still the same
  // four columns, since no row fills both of the would-be neighbours.
  const std::string text = PageTextWithTables(
      "Net income              $   19,442 $    21,744        $   79,082 $    74,129\n"
      "Basic                   $         1.20   $       1.31  $       4.86  $       4.42\n"
      "Diluted                 $         1.20   $       1.30  $       4.82  $       4.38\n");
  EXPECT_TRUE(HasLine(text, "Net income | $19,442 | $21,744 | $79,082 | $74,129")) << text;
  EXPECT_TRUE(HasLine(text, "Basic | $1.20 | $1.31 | $4.86 | $4.42")) << text;
}

TEST(PdfLayout, PagesWithoutTablesOrInColumnsOfProseAreLeftToTheReadingOrder) {
  EXPECT_EQ(PageTextWithTables("A heading\n\nSome prose that runs on for a while, with 12 apples and 2023 in it.\n"),
            "");
  EXPECT_EQ(PageTextWithTables(""), "");
  // One row with figures is not a table.
  EXPECT_EQ(PageTextWithTables("Total                    1,000      2,000\nAnd then prose follows here.\n"), "");
  // Two columns of prose beside a small table: the lines run across both columns.
  std::string two_columns;
  for (int i = 0; i < 8; ++i) {
    two_columns += "The left column has a sentence here     the right column has another one here\n";
  }
  two_columns += "Revenue       100      200\nCost           50       70\n";
  EXPECT_EQ(PageTextWithTables(two_columns), "");
}

TEST(PdfLayout, ATableAfterProseKeepsTheProseParagraphs) {
  const std::string text = PageTextWithTables(
      "Our revenue grew in the quarter, led by hardware and services.\n"
      "It grew in every region.\n"
      "\n"
      "Region                 2023         2022\n"
      "Americas              1,200        1,100\n"
      "Europe                  800          750\n"
      "\n"
      "The figures are in millions of dol-\n"
      "lars.\n");
  EXPECT_EQ(Lines(text), (std::vector<std::string>{
                             "Our revenue grew in the quarter, led by hardware and services.",
                             "It grew in every region.",
                             "",
                             "Region | 2023 | 2022",
                             "Americas | 1,200 | 1,100",
                             "Europe | 800 | 750",
                             "",
                             "The figures are in millions of dollars.",
                         }))
      << text;
}

TEST(PdfLayout, OneColumnTablesAndTooManyColumns) {
  const std::string one = PageTextWithTables("           2023\nLand       1,000\nBuildings  2,000\n");
  EXPECT_EQ(Lines(one), (std::vector<std::string>{" | 2023", "Land | 1,000", "Buildings | 2,000", ""})) << one;
  // Forty columns of figures is no table a person reads (and would cost rows x columns).
  std::string wide;
  for (int i = 0; i < 40; ++i) wide += "1  ";
  EXPECT_EQ(PageTextWithTables(wide + "\n" + wide + "\n"), "");
}

TEST(PdfLayout, OnlyReadingOrdersWithFiguresOnTheirOwnLinesAreLaidOutAgain) {
  EXPECT_TRUE(MayHoldTable("Products\nServices\nTotal\n60,584\n21,213\n$\n81,797\n"));
  EXPECT_TRUE(MayHoldTable("Products 60,584 63,355\nServices 21,213 19,604\nTotal 81,797 82,959\n"));
  EXPECT_FALSE(MayHoldTable("In 2023 we sold 1,200 units.\nPage 3\n\n4\n"));
  EXPECT_FALSE(MayHoldTable(""));
}

// ---- PDFs written from a known table --------------------------------------------------------

// A one-page PDF (Helvetica, a standard font: nothing embedded) with text at given positions.
struct Placed {
  double x, y;  // points from the bottom left, as PDF places text
  std::string text;
};

std::string PdfString(const std::string& s) {
  std::string out = "(";
  for (char c : s) {
    if (c == '(' || c == ')' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + ")";
}

std::string MakePdf(const std::vector<Placed>& items, double font_size = 9) {
  std::string stream = "BT\n/F1 " + std::to_string(font_size) + " Tf\n";
  for (const Placed& p : items) {
    char at[64];
    std::snprintf(at, sizeof at, "1 0 0 1 %.2f %.2f Tm ", p.x, p.y);
    stream += at + PdfString(p.text) + " Tj\n";
  }
  stream += "ET\n";
  return testing::PdfOf({
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
      "<< /Length " + std::to_string(stream.size()) + " >>\nstream\n" + stream + "endstream",
  });
}

// A statement laid out as 10-Q filings are: labels at the left margin, figures right-aligned
// in four columns far to the right, "$" at the left of the column's space, a two-line
// heading over each pair of columns. Returns the page's text.
std::string ExtractStatement(const std::vector<std::vector<std::string>>& rows) {
  // Helvetica's digits are 0.556 em wide, ",", "." and "(" ")" narrower: right-aligning by an
  // estimate of the width is enough here.
  auto width = [](const std::string& s) {
    double w = 0;
    for (char c : s) w += (c == ',' || c == '.') ? 0.278 : (c == '(' || c == ')') ? 0.333 : 0.556;
    return w * 9;
  };
  const double right[] = {330, 400, 470, 540};
  std::vector<Placed> items = {
      {200, 740, "CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS"},
      {285, 715, "Three Months Ended"}, {425, 715, "Nine Months Ended"},
      {300, 703, "July 1,"},  {370, 703, "June 25,"}, {440, 703, "July 1,"}, {510, 703, "June 25,"},
      {305, 691, "2023"},     {375, 691, "2022"},     {445, 691, "2023"},    {515, 691, "2022"},
  };
  double y = 676;
  for (const std::vector<std::string>& row : rows) {
    items.push_back({40, y, row[0]});
    for (size_t c = 1; c < row.size(); ++c) {
      std::string cell = row[c];
      if (cell.starts_with("$")) {
        items.push_back({right[c - 1] - 58, y, "$"});
        cell.erase(0, 1);
      }
      items.push_back({right[c - 1] - width(cell), y, cell});
    }
    y -= 12;
  }
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/statement-" + std::to_string(rows.size()) + ".pdf";
  testing::WriteBytes(path, MakePdf(items));
  CollectingSink sink;
  EXPECT_TRUE(ExtractFile("application/pdf", path, sink).ok());
  std::filesystem::remove(path);
  return sink.pages.empty() ? "" : sink.pages[0].text;
}

TEST(PdfTables, AWrittenStatementComesOutRowByRowWithItsHeader) {
  const std::vector<std::vector<std::string>> rows = {
      {"Products", "$60,584", "$63,355", "$230,901", "$245,241"},
      {"Services", "21,213", "19,604", "62,886", "58,941"},
      {"Total net sales", "81,797", "82,959", "293,787", "304,182"},
      {"Research and development", "7,442", "6,797", "22,608", "19,490"},
      {"Other income/(expense), net", "(265)", "(10)", "(594)", "(97)"},
      {"Net income", "$19,881", "$19,442", "$74,039", "$79,082"},
  };
  const std::string text = ExtractStatement(rows);
  // Every row on one line, its cells in column order: a split row or mixed columns fail.
  for (const auto& row : rows) {
    std::string line = row[0];
    for (size_t c = 1; c < row.size(); ++c) line += " | " + row[c];
    EXPECT_TRUE(HasLine(text, line)) << "missing row: " << line << "\n" << text;
  }
  EXPECT_TRUE(HasLine(text, "| Three Months Ended July 1, 2023 | Three Months Ended June 25, 2022 | "
                            "Nine Months Ended July 1, 2023 | Nine Months Ended June 25, 2022"))
      << text;
  EXPECT_TRUE(text.starts_with("CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS\n\n")) << text;
}

TEST(PdfTables, ProsePagesAreReadAsBefore) {
  // Text without figures standing alone keeps poppler's reading order: the two-column sample
  // comes out column by column (also checked in extract_test), the trivial one word for word.
  CollectingSink sink;
  ASSERT_TRUE(ExtractFile("application/pdf",
                          testing::kData + "/pdf/py-pdf-sample-files/026-latex-multicolumn/multicolumn.pdf", sink)
                  .ok());
  ASSERT_FALSE(sink.pages.empty());
  EXPECT_EQ(sink.pages[0].text.find(" | "), std::string::npos);
  EXPECT_NE(sink.pages[0].text.find("Lorem ipsum dolor sit amet, consectetuer adipiscing elit."), std::string::npos);
}

// ---- The shared SEC 10-Q filings ----------------------------------------------------------

const std::string kFilings = testing::kData + "/qa/docugami-sec-10-q/docs/";

std::string PageOf(const std::string& file, int page) {
  CollectingSink sink;
  EXPECT_TRUE(ExtractFile("application/pdf", kFilings + file, sink).ok());
  for (const auto& p : sink.pages)
    if (p.number == page) return p.text;
  ADD_FAILURE() << file << " has no page " << page;
  return "";
}

// Rows as they read on the printed page (checked by eye against `pdftoppm` renderings).
TEST(PdfTables, TenQStatementsRowByRow) {
  struct Case {
    const char* file;
    int page;
    std::vector<std::string> lines;
  };
  const std::vector<Case> cases = {
      {"2023 Q3 AAPL.pdf", 4,
       {"| Three Months Ended July 1, 2023 | Three Months Ended June 25, 2022 | Nine Months Ended July 1, 2023 | "
        "Nine Months Ended June 25, 2022",
        "Products | $60,584 | $63,355 | $230,901 | $245,241",
        "Total net sales | 81,797 | 82,959 | 293,787 | 304,182",
        "Research and development | 7,442 | 6,797 | 22,608 | 19,490",
        "Other income/(expense), net | (265) | (10) | (594) | (97)",
        "Net income | $19,881 | $19,442 | $74,039 | $79,082",
        "Diluted | 15,775,021 | 16,262,203 | 15,859,263 | 16,394,937"}},
      {"2022 Q3 AAPL.pdf", 4,
       {"Basic | $1.20 | $1.31 | $4.86 | $4.42",  // short figures a few characters off their columns
        "Total net sales | 82,959 | 81,434 | 304,182 | 282,457"}},
      {"2023 Q2 NVDA.pdf", 3,
       {"Revenue | $13,507 | $6,704 | $20,699 | $14,992",
        "Acquisition termination cost | — | — | — | 1,353",
        "Interest expense | (65) | (65) | (131) | (132)"}},
      {"2023 Q2 INTC.pdf", 6,
       {"Net revenue | $12,949 | $15,321 | $24,664 | $33,674",
        "Net income (loss) | $1,473 | $(454) | $(1,295) | $7,659"}},
      {"2023 Q2 INTC.pdf", 32,  // amounts and their share of revenue side by side
       {"Net revenue | $12,949 | 100.0% | $15,321 | 100.0% | $24,664 | 100.0% | $33,674 | 100.0%",
        "Restructuring and other charges | 200 | 1.5% | 87 | 0.6% | 264 | 1.1% | (1,124) | (3.3)%"}},
      {"2023 Q2 AMZN.pdf", 3,
       {"Depreciation and amortization of property and equipment and capitalized content costs, operating lease "
        "assets, and other | 9,716 | 11,589 | 18,909 | 22,712 | 37,748 | 45,724",  // a label on two lines
        "Common stock repurchased | (3,334) | — | (6,000) | — | (6,000) | —"}},
      {"2023 Q2 MSFT.pdf", 3,
       {"Product | $15,588 | $17,366 | $47,846 | $54,776",
        "Other income (expense), net | 321 | (174) | 315 | 380"}},
  };
  for (const Case& c : cases) {
    const std::string text = PageOf(c.file, c.page);
    for (const std::string& line : c.lines) {
      EXPECT_TRUE(HasLine(text, line)) << c.file << " page " << c.page << ": missing\n  " << line << "\n" << text;
    }
  }
}

}  // namespace
}  // namespace betterdev::extract
