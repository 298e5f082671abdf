#include "chunk/chunker.hpp"

#include <algorithm>
#include <iterator>

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

// The best cut in [lo, w.count], by the preference the header states. Every candidate follows
// a non-space, so the chunk needs no trimming; only the hard cut may.
size_t ChooseCut(const Window& w, size_t lo) {
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
  if (sentence != 0) return sentence;
  if (space != 0) return space;
  return w.count;
}

Chunk MakeChunk(const DocumentText& doc, const Window& w, size_t start_cp, size_t end,
                int ordinal) {
  const size_t first = w.byte[0], last = w.byte[end];
  Chunk chunk;
  chunk.ordinal = ordinal;
  chunk.page_start = doc.PageAt(first);
  chunk.page_end = doc.PageAt(last - 1);
  chunk.char_start = static_cast<int64_t>(start_cp);
  chunk.char_end = static_cast<int64_t>(start_cp + end);
  chunk.text = doc.text().substr(first, last - first);
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

  std::vector<Chunk> chunks;
  Window w;
  Position start = SkipSpaces(text, {});
  size_t must_pass = 0;  // window index of the first character the previous chunk did not hold
  while (start.byte < text.size()) {
    Fill(text, start.byte, size, w);
    size_t end = w.at_end ? w.count : ChooseCut(w, std::max(min_cut, must_pass + 1));
    while (IsSpace(w.cp[end - 1])) --end;  // stops: every window starts with a non-space
    chunks.push_back(MakeChunk(doc, w, start.cp, end, static_cast<int>(chunks.size())));

    const Position unseen = SkipSpaces(text, {w.byte[end], start.cp + end});
    if (unseen.byte == text.size()) break;
    // The overlap counts from the unseen text, so the window always reaches it (overlap < size)
    // and every chunk both starts and ends later than the one before.
    const size_t next = NextStart(w, end, unseen.cp - start.cp, overlap);
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
