// XLSX: each worksheet, in workbook order, is a page; its cells row by row, joined by " | ".
//
// Cell values: shared strings (xl/sharedStrings.xml), inline strings, booleans as TRUE/FALSE,
// numbers and formula results as written in the file (no number formats applied: dates stay
// serial numbers). Memory: the shared strings, plus one sheet's tree and text at a time.
#include <algorithm>
#include <climits>
#include <utility>

#include "extract/formats.hpp"
#include "extract/office_xml.hpp"
#include "extract/text_decode.hpp"

namespace betterdev::extract::office {
namespace {

constexpr int kMaxEmptyCellsInARow = 10;  // gaps in a sheet row: at most this many " | "

// Text of a shared string or inline string: its t elements, without phonetic runs (rPh).
std::string StringItemText(const pugi::xml_node& item) {
  std::string text;
  for (const pugi::xml_node& child : item.children()) {
    const std::string_view name = Local(child);
    if (name == "t")
      text += child.text().get();
    else if (name == "r")
      text += ChildByLocalName(child, "t").text().get();
  }
  return text;
}

// "BC12" -> 54 (0-based column), -1 without a column.
int Column(std::string_view ref) {
  int col = 0;
  size_t i = 0;
  for (; i < ref.size() && i < 3 && ref[i] >= 'A' && ref[i] <= 'Z'; ++i) col = col * 26 + (ref[i] - 'A' + 1);
  return i == 0 ? -1 : col - 1;
}

std::string SheetText(const pugi::xml_node& worksheet, const std::vector<std::string>& shared) {
  // Cells of each row with their columns; gaps become empty cells (at most a few), and the
  // columns left of the leftmost used one in the sheet are dropped.
  std::vector<std::vector<std::pair<int, std::string>>> rows;
  int min_col = INT32_MAX;
  // Matched by local name: some writers (the Open XML SDK) prefix SpreadsheetML with "x:".
  for (const pugi::xml_node& row : ChildByLocalName(worksheet, "sheetData").children()) {
    if (Local(row) != "row") continue;
    std::vector<std::pair<int, std::string>> cells;
    int next_col = 0;
    for (const pugi::xml_node& c : row.children()) {
      if (Local(c) != "c") continue;
      const int col_ref = Column(c.attribute("r").value());
      const int col = col_ref >= 0 ? col_ref : next_col;
      next_col = col + 1;
      const std::string_view type = c.attribute("t").value();
      std::string value;
      if (type == "s") {
        const int index = ChildByLocalName(c, "v").text().as_int(-1);
        if (index >= 0 && static_cast<size_t>(index) < shared.size()) value = shared[static_cast<size_t>(index)];
      } else if (type == "inlineStr") {
        value = StringItemText(ChildByLocalName(c, "is"));
      } else if (type == "b") {
        value = ChildByLocalName(c, "v").text().as_int() != 0 ? "TRUE" : "FALSE";
      } else {
        value = ChildByLocalName(c, "v").text().get();  // numbers (as written), formula strings, errors
      }
      for (char& ch : value) {
        if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
      }
      if (value.find_first_not_of(' ') == std::string::npos) continue;
      min_col = std::min(min_col, col);
      cells.emplace_back(col, std::move(value));
    }
    if (!cells.empty()) rows.push_back(std::move(cells));
  }
  std::string out;
  for (const auto& cells : rows) {
    std::string line;
    int col = min_col;
    for (size_t i = 0; i < cells.size(); ++i) {
      const int gap = std::clamp(cells[i].first - col, 0, kMaxEmptyCellsInARow);
      for (int g = 0; g < gap; ++g) line += i == 0 && g == 0 ? "|" : " |";  // empty cells
      if (i > 0 || gap > 0) line += " | ";
      line += cells[i].second;
      col = cells[i].first + 1;
    }
    out += line;
    out += '\n';
  }
  return out;
}

}  // namespace

Status ExtractXlsx(OfficeZip& zip, const ExtractLimits& limits, PageSink& sink) {
  const std::vector<std::string> sheets = OrderedParts(zip, "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/",
                                                       "sheets", NumberedParts(zip, "xl/worksheets/sheet"));
  if (sheets.empty()) return zip.Unreadable("it has no worksheets");
  BD_RETURN_IF_ERROR(CheckPageCount(sheets.size(), limits));
  std::vector<std::string> shared;
  if (zip.Has("xl/sharedStrings.xml")) {
    Result<std::unique_ptr<XmlPart>> part = ReadXml(zip, "xl/sharedStrings.xml");
    if (!part.ok()) return part.status();
    for (const pugi::xml_node& si : (*part)->doc.document_element().children()) {
      if (Local(si) != "si") continue;
      shared.push_back(StringItemText(si));
    }
  }
  const int count = static_cast<int>(sheets.size());
  for (int i = 0; i < count; ++i) {
    std::string text;
    {  // the sheet's tree is freed before the sink runs
      Result<std::unique_ptr<XmlPart>> part = ReadXml(zip, sheets[static_cast<size_t>(i)]);
      if (!part.ok()) return part.status();
      text = SheetText((*part)->doc.document_element(), shared);
    }
    BD_RETURN_IF_ERROR(sink.OnPage(i + 1, count, NormalizeExtractedText(text)));
  }
  return Status::Ok();
}

}  // namespace betterdev::extract::office
