#include "chunk/chunker.hpp"

#include <algorithm>
#include <iterator>

#include "chunk/headings.hpp"

namespace betterdev::chunk {

Status ValidateOptions(const ChunkOptions& options) {
  if (options.size == 0) return Status::InvalidArgument("chunk size must be positive");
  if (options.overlap >= options.size) {
    return Status::InvalidArgument("chunk overlap must be smaller than the chunk size");
  }
  return Status::Ok();
}

void DocumentText::AddPage(int page_number, std::string_view text) {
  if (text.empty()) return;
  if (!text_.empty()) text_ += "\n\n";
  starts_.emplace_back(text_.size(), page_number);
  text_ += text;
}

int DocumentText::PageAt(size_t byte_offset) const {
  auto after =
      std::upper_bound(starts_.begin(), starts_.end(), byte_offset,
                       [](size_t offset, const auto& start) { return offset < start.first; });
  return after == starts_.begin() ? 0 : std::prev(after)->second;
}

std::pair<size_t, size_t> DocumentText::PageBytes(int page_number) const {
  auto at = std::lower_bound(starts_.begin(), starts_.end(), page_number,
                             [](const auto& start, int page) { return start.second < page; });
  if (at == starts_.end()) return {text_.size(), text_.size()};
  const size_t end = std::next(at) == starts_.end() ? text_.size() : std::next(at)->first - 2;  // before "\n\n"
  return {at->first, end};
}

namespace {

constexpr char32_t kBadByte = 0xFFFD;
// Code points decoded past the window so that a paragraph end ("\r\n\r\n" at worst) or a
// sentence end right at the window's edge is still recognised.
constexpr size_t kLookahead = 4;

struct CodePoint {
  char32_t value;
  size_t length;  // bytes
};

bool InRange(unsigned char b, unsigned char lo, unsigned char hi) { return b >= lo && b <= hi; }

// Only well-formed sequences (Unicode table 3-7) decode; every other byte is a character of its
// own, so a cut may fall between bad bytes but never inside a good sequence.
CodePoint DecodeAt(std::string_view text, size_t i) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  if (b0 < 0x80) return {b0, 1};
  size_t length = 0;
  unsigned char lo = 0x80;  // allowed range of the second byte; narrower after some leads to
  unsigned char hi = 0xBF;  // exclude overlong forms, surrogates and values above U+10FFFF
  if (InRange(b0, 0xC2, 0xDF)) {
    length = 2;
  } else if (InRange(b0, 0xE0, 0xEF)) {
    length = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (InRange(b0, 0xF0, 0xF4)) {
    length = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  }
  if (length == 0 || length > text.size() - i) return {kBadByte, 1};
  char32_t value = b0 & (0xFFu >> (length + 1));
  for (size_t k = 1; k < length; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if (!InRange(b, k == 1 ? lo : 0x80, k == 1 ? hi : 0xBF)) return {kBadByte, 1};
    value = (value << 6) | (b & 0x3Fu);
  }
  return {value, length};
}

bool IsSpace(char32_t c) {  // Unicode White_Space
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool IsCjkSentenceEnd(char32_t c) { return c == 0x3002 || c == 0xFF01 || c == 0xFF1F; }
bool IsSentenceEnd(char32_t c) { return c == '.' || c == '?' || c == '!'; }
bool IsCloser(char32_t c) {
  return c == '"' || c == '\'' || c == ')' || c == ']' || c == 0x2019 || c == 0x201D;
}

struct Position {
  size_t byte = 0;
  size_t cp = 0;  // code points before `byte`
};

Position SkipSpaces(std::string_view text, Position at) {
  while (at.byte < text.size()) {
    const CodePoint c = DecodeAt(text, at.byte);
    if (!IsSpace(c.value)) break;
    at.byte += c.length;
    ++at.cp;
  }
  return at;
}

// The code points of one window plus a short lookahead, with the byte offset of each and one
// more offset just past the last. Reused between windows to avoid reallocating.
struct Window {
  std::vector<char32_t> cp;
  std::vector<size_t> byte;
  size_t count = 0;     // code points inside the window; the rest of `cp` is lookahead
  bool at_end = false;  // nothing follows the window
};

void Fill(std::string_view text, size_t start_byte, size_t size, Window& w) {
  w.cp.clear();
  w.byte.clear();
  size_t at = start_byte;
  while (at < text.size() && (w.cp.size() < size || w.cp.size() - size < kLookahead)) {
    const CodePoint c = DecodeAt(text, at);
    w.cp.push_back(c.value);
    w.byte.push_back(at);
    at += c.length;
  }
  w.byte.push_back(at);
  w.count = std::min(w.cp.size(), size);
  w.at_end = w.cp.size() <= size;
}

// A cut at i ends the chunk before cp[i].
bool EndsSentence(const std::vector<char32_t>& cp, size_t i) {
  if (IsCjkSentenceEnd(cp[i - 1])) return true;
  if (!IsSpace(cp[i])) return false;
  if (IsSentenceEnd(cp[i - 1])) return true;
  return i >= 2 && IsCloser(cp[i - 1]) && IsSentenceEnd(cp[i - 2]);
}

// A run of at least two consecutive lines holding " | " (how extractors write table rows; a
// row whose first or last cell is empty, trimmed, starts with "| " or ends with " |"); byte
// offsets into the document text.
struct Table {
  size_t start = 0;       // first row
  size_t header_end = 0;  // end of the first row (its "\n" not included)
  size_t end = 0;         // end of the last row
};

std::vector<Table> FindTables(std::string_view text) {
  std::vector<Table> tables;
  Table current;
  int rows = 0;
  auto close = [&] {
    if (rows >= 2) tables.push_back(current);
    rows = 0;
  };
  for (size_t line = 0; line < text.size();) {
    size_t eol = text.find('\n', line);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view row = text.substr(line, eol - line);
    if (row.find(" | ") != std::string_view::npos || row.starts_with("| ") || row.ends_with(" |")) {
      if (rows == 0) current = {line, eol, eol};
      current.end = eol;
      ++rows;
    } else {
      close();
    }
    line = eol + 1;
  }
  close();
  return tables;
}

// The table whose rows after the header hold the byte at `offset`, or nullptr.
const Table* TableAfterHeader(const std::vector<Table>& tables, size_t offset) {
  auto after = std::upper_bound(tables.begin(), tables.end(), offset,
                                [](size_t o, const Table& t) { return o < t.start; });
  if (after == tables.begin()) return nullptr;
  const Table& t = *std::prev(after);
  return offset > t.header_end && offset < t.end ? &t : nullptr;
}

// The last row end (a "\n" after a non-space, inside `t`) in [lo, w.count], or 0.
size_t LastRowEnd(const Window& w, const Table& t, size_t lo) {
  for (size_t i = w.count; i >= std::max<size_t>(lo, 1); --i) {
    if (i < w.cp.size() && w.cp[i] == '\n' && !IsSpace(w.cp[i - 1]) && w.byte[i] > t.start && w.byte[i] <= t.end) {
      return i;
    }
  }
  return 0;
}

// The best cut in [lo, w.count], by the preference the header states. Every candidate follows
// a non-space, so the chunk needs no trimming; only the hard cut may. `row_end` (0: none) is
// a table row end preferred over sentences and spaces.
size_t ChooseCut(const Window& w, size_t lo, size_t row_end) {
  size_t paragraph = 0, sentence = 0, space = 0;
  size_t run_start = 0, newlines = 0;  // the current whitespace run
  for (size_t i = 1; i < w.cp.size(); ++i) {
    const bool prev_space = IsSpace(w.cp[i - 1]);
    const bool space_here = IsSpace(w.cp[i]);
    if (!prev_space && i >= lo && i <= w.count) {
      if (space_here) space = i;
      if (EndsSentence(w.cp, i)) sentence = i;
    }
    if (!space_here) continue;
    if (!prev_space) {
      run_start = i;
      newlines = 0;
    }
    if (w.cp[i] == '\n' && ++newlines == 2 && run_start >= lo && run_start <= w.count) {
      paragraph = run_start;
    }
  }
  if (paragraph != 0) return paragraph;
  if (row_end != 0) return row_end;
  if (sentence != 0) return sentence;
  if (space != 0) return space;
  return w.count;
}

Chunk MakeChunk(const DocumentText& doc, const std::vector<Table>& tables, HeadingPath& path, const Window& w,
                size_t start_cp, size_t end, int ordinal) {
  const size_t first = w.byte[0], last = w.byte[end];
  Chunk chunk;
  chunk.ordinal = ordinal;
  chunk.page_start = doc.PageAt(first);
  chunk.page_end = doc.PageAt(last - 1);
  chunk.char_start = static_cast<int64_t>(start_cp);
  chunk.char_end = static_cast<int64_t>(start_cp + end);
  chunk.text = doc.text().substr(first, last - first);
  if (const Table* t = TableAfterHeader(tables, first)) chunk.context = doc.text().substr(t->start, t->header_end - t->start);
  chunk.section = path.At(first, last);
  return chunk;
}

// Window index where the next chunk starts, or 0 to start it at the unseen text itself.
// `unseen` is the window index of the first character the chunk [0, end) did not hold.
size_t NextStart(const Window& w, size_t end, size_t unseen, size_t overlap) {
  const size_t from = std::max<size_t>(1, unseen > overlap ? unseen - overlap : 0);
  if (from >= end) return 0;
  for (size_t i = from; i < end; ++i) {
    if (IsSpace(w.cp[i - 1]) && !IsSpace(w.cp[i])) return i;
  }
  return from;  // inside one long word; cp[from] is not a space, or a word would start after it
}

}  // namespace

std::vector<Chunk> ChunkText(const DocumentText& doc, const ChunkOptions& options) {
  const std::string_view text = doc.text();
  const size_t size = std::max<size_t>(options.size, 1);
  const size_t overlap = std::min(options.overlap, size - 1);
  const size_t min_cut = size - size / 3;

  const std::vector<Table> tables = FindTables(text);
  HeadingPath path(doc.outline().size() >= 2 ? OutlineHeadings(doc) : FindHeadings(text), text);
  std::vector<Chunk> chunks;
  Window w;
  Position start = SkipSpaces(text, {});
  size_t must_pass = 0;  // window index of the first character the previous chunk did not hold
  while (start.byte < text.size()) {
    Fill(text, start.byte, size, w);
    size_t end = w.count;
    if (!w.at_end) {
      // Inside a table, the chunk ends at a row end even well before the window's last third.
      const Table* table = TableAfterHeader(tables, w.byte[w.count]);
      if (table == nullptr && !tables.empty()) {  // the window may end inside the header row
        auto after = std::upper_bound(tables.begin(), tables.end(), w.byte[w.count],
                                      [](size_t o, const Table& t) { return o < t.start; });
        if (after != tables.begin() && w.byte[w.count] < std::prev(after)->end) table = &*std::prev(after);
      }
      const size_t row_end = table ? LastRowEnd(w, *table, must_pass + 1) : 0;
      end = ChooseCut(w, std::max(min_cut, must_pass + 1), row_end);
    }
    while (IsSpace(w.cp[end - 1])) --end;  // stops: every window starts with a non-space
    chunks.push_back(MakeChunk(doc, tables, path, w, start.cp, end, static_cast<int>(chunks.size())));

    const Position unseen = SkipSpaces(text, {w.byte[end], start.cp + end});
    if (unseen.byte == text.size()) break;
    // The overlap counts from the unseen text, so the window always reaches it (overlap < size)
    // and every chunk both starts and ends later than the one before.
    // Between table rows there is no overlap: the next chunk starts at the next row, and the
    // header row travels with it as its context.
    const bool between_rows = TableAfterHeader(tables, unseen.byte) != nullptr && text[unseen.byte - 1] == '\n';
    const size_t next = between_rows ? 0 : NextStart(w, end, unseen.cp - start.cp, overlap);
    if (next == 0) {
      start = unseen;
      must_pass = 0;
    } else {
      must_pass = unseen.cp - start.cp - next;
      start = {w.byte[next], start.cp + next};
    }
  }
  return chunks;
}

}  // namespace betterdev::chunk
