#include "chunk/headings.hpp"

#include <algorithm>
#include <cctype>
#include <unordered_map>

namespace betterdev::chunk {
namespace {

constexpr size_t kMaxHeadingBytes = 120;
constexpr int kMaxRepeats = 3;      // more places than this: a running header or footer
constexpr int kMaxCapitalWords = 14;
constexpr int kMaxTitleWords = 8;
constexpr size_t kProseBytes = 40;  // a following line this long is prose

struct Line {
  size_t byte = 0;
  size_t end = 0;         // its '\n' (or the text's end)
  std::string_view text;  // trimmed
  bool paragraph_start = false;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool StartsWithWord(std::string_view s, std::string_view word) {
  if (s.size() < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != word[i]) return false;
  }
  return s.size() == word.size() || s[word.size()] == ' ' || s[word.size()] == '.';
}

// "PART I", "Part II — Other Information"
bool IsPart(std::string_view s) {
  if (!StartsWithWord(s, "part") || s.size() < 6) return false;
  const std::string_view rest = s.substr(5);
  size_t n = 0;
  while (n < rest.size() && (rest[n] == 'I' || rest[n] == 'V' || rest[n] == 'X')) ++n;
  return n > 0 && (n == rest.size() || rest[n] == ' ' || rest[n] == '.' || rest[n] == ',');
}

// "Item 1.", "ITEM 1A. RISK FACTORS", "Item 2 Management's ..."
bool IsItem(std::string_view s) {
  if (!StartsWithWord(s, "item") || s.size() < 6) return false;
  return std::isdigit(static_cast<unsigned char>(s[5])) != 0;
}

// "Note 4 — Debt", "NOTE 11 — INCOME TAXES"
bool IsNote(std::string_view s) {
  if (!StartsWithWord(s, "note") || s.size() < 6) return false;
  return std::isdigit(static_cast<unsigned char>(s[5])) != 0;
}

int Words(std::string_view s) {
  int n = 0;
  bool in = false;
  for (char c : s) {
    const bool space = c == ' ';
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

bool EndsLikeASentence(std::string_view s) {
  const char c = s.back();
  return c == '.' || c == ',' || c == ';' || c == ':' || c == '?' || c == '!';
}

// Capitals: at least four ASCII letters, three in four of them upper case ("BALANCE SHEETS
// (Unaudited)"), more letters than digits.
bool InCapitals(std::string_view s) {
  int upper = 0, lower = 0, digits = 0;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isupper(u)) ++upper;
    else if (std::islower(u)) ++lower;
    else if (std::isdigit(u)) ++digits;
  }
  return upper >= 4 && lower * 3 <= upper && upper + lower > digits;
}

// Title case: every word of four letters or more starts with a capital, the first word too.
bool InTitleCase(std::string_view s) {
  if (!std::isupper(static_cast<unsigned char>(s.front()))) return false;
  size_t i = 0;
  int letters_words = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    const size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    std::string_view word = s.substr(start, i - start);
    while (!word.empty() && (word.back() == ',' || word.back() == ';')) word.remove_suffix(1);
    if (word.empty()) continue;
    const bool alpha = std::all_of(word.begin(), word.end(), [](char c) {
      return std::isalpha(static_cast<unsigned char>(c)) || c == '\'' || c == '-' || (c & 0x80) != 0;
    });
    if (!alpha) return false;
    ++letters_words;
    if (word.size() >= 4 && !std::isupper(static_cast<unsigned char>(word.front()))) return false;
  }
  return letters_words > 0;
}

// How extractors write a table row (chunk/chunker.hpp): cells joined by " | ", the first or
// last of them maybe empty.
bool IsTableRow(std::string_view s) {
  return s.find(" | ") != std::string_view::npos || s.starts_with("| ") || s.ends_with(" |") || s == "|";
}

std::vector<Line> SplitLines(std::string_view text) {
  std::vector<Line> lines;
  bool blank_before = true;
  for (size_t at = 0; at < text.size();) {
    size_t eol = text.find('\n', at);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view line = Trim(text.substr(at, eol - at));
    if (line.empty()) {
      blank_before = true;
    } else {
      lines.push_back({at, eol, line, blank_before});
      blank_before = false;
    }
    at = eol + 1;
  }
  return lines;
}

}  // namespace

std::vector<Heading> FindHeadings(std::string_view text) {
  const std::vector<Line> lines = SplitLines(text);
  std::unordered_map<std::string_view, int> seen;
  for (const Line& l : lines) {
    if (l.text.size() <= kMaxHeadingBytes) ++seen[l.text];
  }
  std::vector<Heading> out;
  std::vector<std::string> open;  // the heading open at each level (index level - 1)
  size_t end = 0;  // of the line (or lines) being looked at
  auto add = [&](size_t byte, int level, std::string heading) {
    if (static_cast<int>(open.size()) >= level && open[static_cast<size_t>(level) - 1] == heading) return;
    open.resize(static_cast<size_t>(level) - 1);
    open.push_back(heading);
    out.push_back({byte, end, level, std::move(heading)});
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    const Line& l = lines[i];
    const std::string_view s = l.text;
    if (s.size() < 3 || s.size() > kMaxHeadingBytes || IsTableRow(s)) continue;
    const Line* next = i + 1 < lines.size() ? &lines[i + 1] : nullptr;
    end = l.end;
    if (s.front() == '#') {
      size_t level = 0;
      while (level < s.size() && s[level] == '#') ++level;
      if (level <= 6 && level < s.size() && s[level] == ' ') {
        const std::string_view title = Trim(s.substr(level));
        if (!title.empty()) add(l.byte, static_cast<int>(level), std::string(title));
      }
      continue;
    }
    if (IsPart(s)) {
      add(l.byte, 1, std::string(s));
      continue;
    }
    if (IsItem(s)) {
      std::string heading(s);
      // "Item 1." alone on its line: its title is the next line when that is short, no sentence
      // and no other heading; in the same paragraph not a table row, after a blank line in
      // title case.
      const bool titled = Words(s) <= 2 && next != nullptr && next->text.size() <= kMaxHeadingBytes &&
                          !EndsLikeASentence(next->text) && !IsPart(next->text) && !IsItem(next->text) &&
                          !IsNote(next->text) &&
                          (next->paragraph_start ? InTitleCase(next->text) : !IsTableRow(next->text));
      if (titled) {
        heading += " ";
        heading += next->text;
        end = next->end;
        ++i;
      }
      add(l.byte, 2, std::move(heading));
      continue;
    }
    if (seen[s] > kMaxRepeats) continue;
    if (IsNote(s) && !EndsLikeASentence(s)) {
      add(l.byte, 3, std::string(s));
      continue;
    }
    if (EndsLikeASentence(s) && s.back() != '.') continue;
    if (InCapitals(s) && Words(s) >= 2 && Words(s) <= kMaxCapitalWords && s.back() != '.') {
      add(l.byte, 3, std::string(s));
      continue;
    }
    if (l.paragraph_start && s.back() != '.' && Words(s) <= kMaxTitleWords && InTitleCase(s) && next != nullptr &&
        next->text.size() >= kProseBytes && !IsTableRow(next->text)) {
      add(l.byte, 4, std::string(s));
    }
  }
  return out;
}

namespace {

// ASCII letters (lower case) and digits, and every byte of a non-ASCII character: what two
// spellings of a title share ("Statements of Cash Flows" / "STATEMENTS OF CASH FLOWS:").
std::string TitleKey(std::string_view s) {
  std::string key;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0) key.push_back(static_cast<char>(std::tolower(c)));
    else if (c >= 0x80) key.push_back(static_cast<char>(c));
  }
  return key;
}

}  // namespace

std::vector<Heading> OutlineHeadings(const DocumentText& doc) {
  const std::string_view text = doc.text();
  std::vector<Heading> out;
  size_t from = 0;  // where the entry before opened (its line's end when it was found)
  for (const OutlineEntry& e : doc.outline()) {
    auto [first, last] = doc.PageBytes(e.page);
    if (last < from || first >= text.size()) continue;
    first = std::max(first, from);
    const std::string key = TitleKey(e.title);
    Heading h{first, first, std::max(e.level, 1), e.title};
    for (size_t line = first; !key.empty() && line < last;) {
      size_t end = text.find('\n', line);
      if (end == std::string_view::npos || end > last) end = last;
      const std::string_view l = text.substr(line, end - line);
      if (l.find(" | ") == std::string_view::npos) {
        const std::string lkey = TitleKey(l);
        if (lkey.size() <= key.size() * 2 + 40 && lkey.find(key) != std::string::npos) {
          h.byte = line;
          h.end = end;
          break;
        }
      }
      line = end + 1;
    }
    from = h.end;
    out.push_back(std::move(h));
  }
  return out;
}

void HeadingPath::Open(const Heading& h) {
  while (!open_.empty() && open_.back()->level >= h.level) open_.pop_back();
  open_.push_back(&h);
}

std::string HeadingPath::At(size_t byte, size_t end) {
  auto skip_space = [&](size_t at) {
    while (at < text_.size() && (text_[at] == ' ' || text_[at] == '\n' || text_[at] == '\t' || text_[at] == '\r')) ++at;
    return at;
  };
  // Headings at or before the place; then those opening right there, each deeper than the
  // one before it ("Item 1." then a statement's title), within the chunk.
  const size_t start = skip_space(byte);
  while (next_ < headings_.size() && headings_[next_].byte <= start) Open(headings_[next_++]);
  size_t at = start;
  const Heading* opened = !open_.empty() && open_.back()->byte >= start ? open_.back() : nullptr;
  if (opened != nullptr) at = skip_space(opened->end);
  while (opened != nullptr && next_ < headings_.size() && headings_[next_].byte == at && at < end &&
         headings_[next_].level > opened->level) {
    opened = &headings_[next_++];
    Open(*opened);
    at = skip_space(opened->end);
  }
  std::string path;
  for (const Heading* h : open_) {
    if (!path.empty()) path += " \xE2\x80\xBA ";
    path += h->text;
  }
  return path;
}

}  // namespace betterdev::chunk
