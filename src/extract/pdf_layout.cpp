// Tables from the page's physical layout; see pdf_layout.hpp. Distances are in the layout's
// units: a line vertically, a character horizontally.
#include "extract/pdf_layout.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <vector>
#include <string_view>

namespace betterdev::extract {
namespace {

// Two spaces or more between two words start a new segment (a table cell): the layout writes
// one space between the words of a phrase.
constexpr double kCellGap = 2;
// A blank line between two lines is a paragraph break.
constexpr double kParagraphGap = 0.5;
// More than two blank lines between two rows end a table.
constexpr double kRowGap = 2.5;
// At most this many lines above a table's first row are read as its header.
constexpr int kMaxHeaderLines = 6;
// More columns than this is not a table a person would read (and would cost rows x columns
// to write out): the page keeps its reading order.
constexpr size_t kMaxColumns = 32;

struct Segment {
  std::string text;
  double x0 = 0, x1 = 0;
  // Where the text after a currency sign starts: "$" stands wherever the typesetter put it,
  // often at the left edge of the column's space, so columns are placed by the figures.
  double core_x0 = 0;
  bool numeric = false;
};

enum class Kind {
  kText,   // prose, a title, a page footer
  kRow,    // a label (maybe none) and figures
  kLabel,  // one short segment that is not a figure: a row of a table without figures ("Net sales:")
  kYears,  // only years ("2023  2022"): header material, not a row
};

struct Line {
  double y0 = 0, y1 = 0;  // the layout's line number and the next
  std::vector<Segment> segs;
  Kind kind = Kind::kText;
  bool used = false;  // taken by a table
};

bool IsCurrency(std::string_view s) { return s == "$" || s == "\xE2\x82\xAC" || s == "\xC2\xA3" || s == "\xC2\xA5"; }

bool StartsWithCurrency(std::string_view s) {
  for (size_t n = 1; n <= 3 && n <= s.size(); ++n)
    if (IsCurrency(s.substr(0, n))) return true;
  return false;
}

bool IsDash(std::string_view s) {
  return s == "-" || s == "\xE2\x80\x94" || s == "\xE2\x80\x93" || s == "\xE2\x80\x92" || s == "\xE2\x88\x92";
}

// A figure: "60,584", "$60,584", "(265)", "17.5%", "$(0.26)", "-3", or a dash standing for
// nothing ("—").
bool IsFigure(std::string_view s) {
  if (IsDash(s)) return true;
  auto strip_front = [&](std::string_view p) {
    if (s.starts_with(p)) {
      s.remove_prefix(p.size());
      return true;
    }
    return false;
  };
  auto strip_back = [&](std::string_view p) {
    if (s.ends_with(p)) {
      s.remove_suffix(p.size());
      return true;
    }
    return false;
  };
  for (bool again = true; again && !s.empty();) {
    again = strip_front("(") || strip_front("$") || strip_front("\xE2\x82\xAC") || strip_front("\xC2\xA3") ||
            strip_front("\xC2\xA5") || strip_front("-") || strip_front("\xE2\x88\x92") || strip_front("+") ||
            strip_front(" ");
  }
  for (bool again = true; again && !s.empty();) {
    again = strip_back(")") || strip_back("%") || strip_back("*") || strip_back(" ");
  }
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s.front())) || s.front() == '.')) return false;
  bool digit = false;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digit = true;
    } else if (c != ',' && c != '.') {
      return false;
    }
  }
  return digit;
}

bool IsYear(std::string_view s) {
  return s.size() == 4 && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
         (s.starts_with("19") || s.starts_with("20"));
}


// One code point or one UTF-8 byte that starts none: a column of the layout.
size_t CodePointLength(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  const size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  return std::min(n, s.size() - i);
}

// The layout's lines (blank ones are the vertical space between them), each cut into words
// at spaces and the words into segments at two spaces or more. A currency sign standing alone
// belongs to the figure after it, a lone ")" or "%" to the one before.
std::vector<Line> ParseLayout(std::string_view text) {
  std::vector<Line> lines;
  double row = 0;
  for (size_t at = 0; at <= text.size(); row += 1) {
    size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view raw = text.substr(at, eol - at);
    at = eol + 1;
    std::vector<Segment> words;
    double column = 0;
    for (size_t i = 0; i < raw.size();) {
      if (raw[i] == ' ' || raw[i] == '\f' || raw[i] == '\r' || raw[i] == '\t') {
        ++i;
        column += 1;
        continue;
      }
      Segment w;
      w.x0 = w.core_x0 = column;
      while (i < raw.size() && raw[i] != ' ' && raw[i] != '\f' && raw[i] != '\r' && raw[i] != '\t') {
        const size_t n = CodePointLength(raw, i);
        w.text.append(raw, i, n);
        i += n;
        column += 1;
      }
      w.x1 = column;
      if ((w.text == ")" || w.text == "%") && !words.empty() && w.x0 - words.back().x1 <= 1) {
        words.back().text += w.text;
        words.back().x1 = w.x1;
      } else if (!words.empty() && IsCurrency(words.back().text)) {
        words.back().text += w.text;
        words.back().x1 = w.x1;
        words.back().core_x0 = w.x0;
      } else {
        words.push_back(std::move(w));
      }
    }
    if (words.empty()) continue;
    Line line;
    line.y0 = row;
    line.y1 = row + 1;
    for (Segment& w : words) {
      const bool fresh = line.segs.empty() || w.x0 - line.segs.back().x1 >= kCellGap || StartsWithCurrency(w.text);
      if (fresh) {
        line.segs.push_back(std::move(w));
        continue;
      }
      Segment& s = line.segs.back();
      s.text.push_back(' ');
      s.text += w.text;
      s.x1 = w.x1;
    }
    for (Segment& s : line.segs) s.numeric = IsFigure(s.text);
    lines.push_back(std::move(line));
  }
  return lines;
}

Kind KindOf(const Line& line) {
  const auto& s = line.segs;
  if (s.size() == 1) return s[0].numeric ? Kind::kText : Kind::kLabel;
  const size_t figures = static_cast<size_t>(std::count_if(s.begin(), s.end(), [](const Segment& x) { return x.numeric; }));
  if (figures == s.size()) {
    return std::all_of(s.begin(), s.end(), [](const Segment& x) { return IsYear(x.text); }) ? Kind::kYears : Kind::kRow;
  }
  // A label, then cells that are mostly figures.
  if (!s[0].numeric && figures * 2 >= s.size() - 1) return Kind::kRow;
  return Kind::kText;
}

// A column: where its figures stand [x0, x1), and its space from `left` (where its currency
// signs start) for the headings over it.
struct Column {
  double x0 = 0, x1 = 0, left = 0;
};

struct Table {
  size_t header_begin = 0, begin = 0, end = 0;  // lines [header_begin, begin) header, [begin, end) rows
  std::vector<Column> columns;
};

// A label, unless the row starts with a figure in the columns.
bool HasLabel(const Line& line, const std::vector<Column>& columns) {
  return !line.segs.empty() && !(line.segs[0].numeric && line.segs[0].x1 > columns.front().x0);
}

// The column a cell belongs to: the one holding its centre, else the nearest.
size_t ColumnOf(const std::vector<Column>& columns, double x0, double x1);

// The columns of rows [begin, end): the spans of their cells, overlapping spans merged; then
// neighbours that no row fills both of are merged too. The layout places words on a grid of
// characters, so a row whose figures are short or follow a "$" can sit a few characters off
// its column, far enough to look like a column of its own.
std::vector<Column> ColumnsOf(const std::vector<Line>& lines, size_t begin, size_t end) {
  std::vector<Column> cells;
  for (size_t i = begin; i < end; ++i) {
    if (lines[i].kind != Kind::kRow) continue;
    const auto& s = lines[i].segs;
    for (size_t k = s[0].numeric ? 0 : 1; k < s.size(); ++k) cells.push_back({s[k].core_x0, s[k].x1, s[k].x0});
  }
  std::sort(cells.begin(), cells.end(), [](const Column& a, const Column& b) { return a.x0 < b.x0; });
  std::vector<Column> columns;
  for (const Column& c : cells) {
    if (!columns.empty() && c.x0 < columns.back().x1) {
      columns.back().x1 = std::max(columns.back().x1, c.x1);
      columns.back().left = std::min(columns.back().left, c.left);
    } else {
      columns.push_back(c);
    }
  }
  if (columns.size() > kMaxColumns) return {};  // not a table a person would read
  // filled[r][c]: row r has a cell in column c.
  std::vector<std::vector<bool>> filled;
  for (size_t i = begin; i < end; ++i) {
    if (lines[i].kind != Kind::kRow) continue;
    const auto& s = lines[i].segs;
    std::vector<bool>& row = filled.emplace_back(columns.size(), false);
    for (size_t k = s[0].numeric ? 0 : 1; k < s.size(); ++k) row[ColumnOf(columns, s[k].core_x0, s[k].x1)] = true;
  }
  for (size_t c = 0; c + 1 < columns.size();) {
    const bool both = std::any_of(filled.begin(), filled.end(), [&](const std::vector<bool>& r) { return r[c] && r[c + 1]; });
    if (both) {
      ++c;
      continue;
    }
    columns[c].x1 = std::max(columns[c].x1, columns[c + 1].x1);
    columns[c].left = std::min(columns[c].left, columns[c + 1].left);
    columns.erase(columns.begin() + static_cast<std::ptrdiff_t>(c) + 1);
    for (std::vector<bool>& r : filled) {
      r[c] = r[c] || r[c + 1];
      r.erase(r.begin() + static_cast<std::ptrdiff_t>(c) + 1);
    }
  }
  return columns;
}

// The column a cell belongs to: the one holding its centre, else the nearest.
size_t ColumnOf(const std::vector<Column>& columns, double x0, double x1) {
  const double centre = (x0 + x1) / 2;
  size_t best = 0;
  double best_distance = 1e300;
  for (size_t c = 0; c < columns.size(); ++c) {
    const double d = centre < columns[c].x0 ? columns[c].x0 - centre : centre > columns[c].x1 ? centre - columns[c].x1 : 0;
    if (d < best_distance) best = c, best_distance = d;
  }
  return best;
}

// A heading standing left of the columns' space, clear of it: the label column's ("(In millions)").
bool IsLabelHeading(const Line& line, const Segment& s, const std::vector<Column>& columns) {
  return &s == &line.segs.front() && s.x1 < columns.front().left - 1;
}

// A line of column headings: every segment over the columns' space, except maybe a label
// column's heading beside them. A title across the page starts left of the columns.
bool IsHeaderLine(const Line& line, const std::vector<Column>& columns) {
  if (line.kind == Kind::kRow) return false;
  for (const Segment& s : line.segs) {
    if (s.x0 >= columns.front().left - 2) continue;
    if (line.segs.size() < 2 || !IsLabelHeading(line, s, columns)) return false;
  }
  return true;
}

// Finds the tables among `lines` (sorted top to bottom) and marks their lines used.
std::vector<Table> FindTables(std::vector<Line>& lines) {
  std::vector<Table> tables;
  for (size_t i = 0; i < lines.size();) {
    if (lines[i].kind != Kind::kRow) {
      ++i;
      continue;
    }
    size_t end = i + 1;
    int rows = 1;
    for (size_t j = i + 1; j < lines.size();) {
      if (lines[j].y0 - lines[j - 1].y1 > kRowGap) break;
      if (lines[j].kind == Kind::kRow) {
        end = ++j;
        ++rows;
        continue;
      }
      // Up to two label lines, when a row follows ("Operating expenses:", a wrapped label).
      size_t k = j;
      while (k < lines.size() && k < j + 2 && lines[k].kind == Kind::kLabel &&
             lines[k].y0 - lines[k - 1].y1 <= kRowGap)
        ++k;
      if (k == j || k >= lines.size() || lines[k].kind != Kind::kRow || lines[k].y0 - lines[k - 1].y1 > kRowGap) break;
      j = k;
    }
    if (rows < 2) {
      i = end;
      continue;
    }
    Table t;
    t.begin = i;
    t.end = end;
    t.columns = ColumnsOf(lines, i, end);
    if (t.columns.empty()) {
      i = end;
      continue;
    }
    // Section labels just above the first row ("Net sales:").
    while (t.begin > 0 && t.begin + 2 > i && lines[t.begin - 1].kind == Kind::kLabel && !lines[t.begin - 1].used &&
           lines[t.begin - 1].segs[0].text.ends_with(":") && lines[t.begin - 1].segs[0].x1 < t.columns.front().x0 &&
           lines[t.begin].y0 - lines[t.begin - 1].y1 <= kRowGap)
      --t.begin;
    t.header_begin = t.begin;
    while (t.header_begin > 0 && static_cast<int>(t.begin - t.header_begin) < kMaxHeaderLines) {
      const Line& above = lines[t.header_begin - 1];
      if (above.used || lines[t.header_begin].y0 - above.y1 > kRowGap || !IsHeaderLine(above, t.columns)) break;
      --t.header_begin;
    }
    for (size_t k = t.header_begin; k < t.end; ++k) lines[k].used = true;
    tables.push_back(std::move(t));
    i = end;
  }
  return tables;
}

void AppendJoined(std::string& out, const std::vector<std::string>& cells) {
  for (const std::string& c : cells) {
    out += " | ";
    out += c;
  }
}

std::string TableText(const std::vector<Line>& lines, const Table& t) {
  const std::vector<Column>& columns = t.columns;
  std::string out;
  // The header: each column's heading lines top to bottom; a heading over several columns
  // ("Three Months Ended") names each of them.
  if (t.header_begin < t.begin) {
    std::string label;
    std::vector<std::string> heads(columns.size());
    auto add = [](std::string& to, const std::string& text) {
      if (!to.empty()) to.push_back(' ');
      to += text;
    };
    for (size_t i = t.header_begin; i < t.begin; ++i) {
      // Each column takes the heading of this line nearest to its middle, when it is no
      // farther than that heading is wide: a heading centred over two columns ("Three Months
      // Ended") names both, one over the last two columns only names those.
      std::vector<const Segment*> headings;
      for (const Segment& s : lines[i].segs) {
        if (lines[i].segs.size() > 1 && IsLabelHeading(lines[i], s, columns)) {
          add(label, s.text);
        } else {
          headings.push_back(&s);
        }
      }
      if (headings.empty()) continue;
      std::vector<bool> placed(headings.size(), false);
      for (size_t c = 0; c < columns.size(); ++c) {
        const double middle = (columns[c].left + columns[c].x1) / 2;
        size_t best = 0;
        double best_distance = 1e300;
        for (size_t k = 0; k < headings.size(); ++k) {
          const double d = std::max({headings[k]->x0 - middle, middle - headings[k]->x1, 0.0});
          if (d < best_distance) best = k, best_distance = d;
        }
        if (best_distance <= std::max(headings[best]->x1 - headings[best]->x0, 2.0)) {
          add(heads[c], headings[best]->text);
          placed[best] = true;
        }
      }
      for (size_t k = 0; k < headings.size(); ++k) {  // no text is lost
        if (!placed[k]) add(heads[ColumnOf(columns, headings[k]->x0, headings[k]->x1)], headings[k]->text);
      }
    }
    out += label;
    AppendJoined(out, heads);
    out.push_back('\n');
  }
  std::string carried;  // a wrapped label's first line
  for (size_t i = t.begin; i < t.end; ++i) {
    const Line& line = lines[i];
    std::vector<std::string> cells(columns.size());
    if (line.kind == Kind::kLabel) {
      const Segment& s = line.segs[0];
      const double room = columns.front().x0 - s.x0;
      const bool wrapped = !s.text.ends_with(":") && i + 1 < t.end && lines[i + 1].kind == Kind::kRow &&
                           s.x1 - s.x0 > 0.6 * room;
      if (wrapped) {
        carried += (carried.empty() ? "" : " ") + s.text;
        continue;
      }
      out += s.text;
    } else {
      const bool labelled = HasLabel(line, columns);
      std::string label = carried;
      if (labelled) label += (label.empty() ? "" : " ") + line.segs[0].text;
      carried.clear();
      out += label;
      for (size_t k = labelled ? 1 : 0; k < line.segs.size(); ++k) {
        std::string& cell = cells[ColumnOf(columns, line.segs[k].core_x0, line.segs[k].x1)];
        if (!cell.empty()) cell.push_back(' ');
        cell += line.segs[k].text;
      }
    }
    AppendJoined(out, cells);
    out.push_back('\n');
  }
  return out;
}

// Two or more columns of prose: lines outside tables that hold two long segments side by side.
bool LooksMultiColumn(const std::vector<Line>& lines) {
  int free = 0, split = 0;
  for (const Line& line : lines) {
    if (line.used) continue;
    ++free;
    int long_segments = 0;
    for (const Segment& s : line.segs) long_segments += s.text.size() >= 20 ? 1 : 0;
    split += long_segments >= 2 ? 1 : 0;
  }
  return split >= 3 && split * 5 >= free;
}

std::string LineText(const Line& line) {
  std::string out;
  for (const Segment& s : line.segs) {
    if (!out.empty()) out.push_back(' ');
    out += s.text;
  }
  return out;
}

bool EndsHyphenated(const std::string& s) {
  return s.size() >= 2 && s.back() == '-' && std::isalpha(static_cast<unsigned char>(s[s.size() - 2]));
}

}  // namespace

bool MayHoldTable(std::string_view text) {
  int hits = 0;
  for (size_t at = 0; at < text.size();) {
    size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(at, eol - at);
    at = eol + 1;
    // The line's last two words.
    std::string_view last, before;
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
    size_t space = line.rfind(' ');
    last = space == std::string_view::npos ? line : line.substr(space + 1);
    if (space != std::string_view::npos) {
      std::string_view rest = line.substr(0, space);
      while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
      const size_t s2 = rest.rfind(' ');
      before = s2 == std::string_view::npos ? rest : rest.substr(s2 + 1);
    }
    const bool alone = space == std::string_view::npos && !last.empty() && (IsFigure(last) || IsCurrency(last));
    const bool two = !before.empty() && IsFigure(last) && IsFigure(before);
    if ((alone || two) && ++hits >= 3) return true;
  }
  return false;
}

std::string PageTextWithTables(std::string_view layout_text) {
  std::vector<Line> lines = ParseLayout(layout_text);
  for (Line& line : lines) line.kind = KindOf(line);
  const std::vector<Table> tables = FindTables(lines);
  if (tables.empty() || LooksMultiColumn(lines)) return "";

  std::string out;
  const Line* previous = nullptr;
  size_t next_table = 0;
  for (size_t i = 0; i < lines.size();) {
    if (next_table < tables.size() && tables[next_table].header_begin == i) {
      const Table& t = tables[next_table++];
      if (!out.empty()) out += "\n\n";
      out += TableText(lines, t);
      out += "\n";
      previous = &lines[t.end - 1];
      i = t.end;
      continue;
    }
    const Line& line = lines[i++];
    const std::string text = LineText(line);
    if (previous != nullptr && !out.empty() && out.back() != '\n') {
      if (line.y0 - previous->y1 > kParagraphGap) {
        out += "\n\n";
      } else if (EndsHyphenated(out) && std::islower(static_cast<unsigned char>(text[0]))) {
        out.pop_back();  // "hyphen-\nated" -> "hyphenated", as poppler joins them
      } else {
        out.push_back('\n');
      }
    } else if (!out.empty() && !out.ends_with("\n\n")) {
      out.push_back('\n');
    }
    out += text;
    previous = &line;
  }
  return out;
}

}  // namespace betterdev::extract
