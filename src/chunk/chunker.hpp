// Cuts a document's extracted text into overlapping chunks for retrieval.
//
// Sizes and offsets count Unicode code points ("characters"), never bytes, and a cut never
// falls inside a UTF-8 sequence. Bytes that are not part of a well-formed UTF-8 sequence count
// as one character each, so invalid input is chunked, not rejected. The result depends only on
// the input and the options. All functions are pure; a DocumentText is not safe to modify from
// one thread while another reads it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.hpp"

namespace betterdev::chunk {

struct ChunkOptions {
  size_t size = 500;     // Default: 500. Most characters in one chunk; must be > 0.
  size_t overlap = 100;  // Default: 100. Most characters the next chunk repeats; < size.
};

// Returns InvalidArgument when size is 0 or overlap >= size ("chunk overlap must be smaller
// than the chunk size"). Call it where the options are loaded.
Status ValidateOptions(const ChunkOptions& options);

// The extracted text of a whole document: pages appended in order, each page's text
// separated from the next by "\n\n". Page numbers start at 1 and need not be contiguous
// (a page without text is simply absent: AddPage ignores empty text).
// One entry of a document's own outline (a PDF's bookmarks).
struct OutlineEntry {
  int level = 1;  // 1 outermost
  int page = 0;   // the page it opens
  std::string title;
};

class DocumentText {
 public:
  void AddPage(int page_number, std::string_view text);
  const std::string& text() const { return text_; }
  // Page that holds the byte at `byte_offset` (the last page whose start is <= it); the
  // "\n\n" separator belongs to the page before it. 0 when there are no pages.
  int PageAt(size_t byte_offset) const;
  size_t page_count() const { return starts_.size(); }
  // Bytes [first, second) of the first page numbered `page_number` or later that has text;
  // (size, size) of the text when there is none.
  std::pair<size_t, size_t> PageBytes(int page_number) const;

  // The document's outline in its own order, when the file has one (see headings.hpp: with
  // two entries or more it gives the chunks' heading paths).
  void AddOutlineEntry(OutlineEntry entry) { outline_.push_back(std::move(entry)); }
  const std::vector<OutlineEntry>& outline() const { return outline_; }

 private:
  std::string text_;
  std::vector<std::pair<size_t, int>> starts_;  // (byte offset where the page starts, page number)
  std::vector<OutlineEntry> outline_;
};

struct Chunk {
  int ordinal = 0;     // 0, 1, 2, ... in document order
  int page_start = 0;  // pages of the chunk's first and last character
  int page_end = 0;
  int64_t char_start = 0;  // code point offsets into DocumentText::text(), end exclusive
  int64_t char_end = 0;
  std::string text;  // exactly the code points [char_start, char_end) of DocumentText::text()
  // The header row of the table the chunk starts in, when it starts after that row (a table
  // split across chunks); "" otherwise. Not part of `text` or the offsets: retrieval shows and
  // embeds it with the chunk so the cells keep their column names.
  std::string context;
  // The headings above the chunk's first character, outermost first, joined by " › "
  // ("Item 1. Financial Statements › CONDENSED CONSOLIDATED BALANCE SHEETS"); "" when none.
  // See headings.hpp. Not part of `text` or the offsets; indexed, embedded and cited with it.
  std::string section;
};

// Each chunk's window is the `size` characters from its start. The chunk ends at the last
// paragraph end ("\n\n", whitespace between the newlines allowed) in the last third of the
// window, else at the last sentence end there (".", "?" or "!", optionally followed by a closing
// quote or bracket, then whitespace; or "。", "！", "？"), else at the last whitespace there,
// else hard at the size. Leading and trailing whitespace (Unicode White_Space) is trimmed from
// each chunk's text and offsets follow the trimmed text; no chunk is only whitespace.
//
// The next chunk starts at most `overlap` characters before the first character the previous
// chunk did not hold (so whitespace between them uses up part of the overlap), at the first word
// start in that range when there is one. Hence, for consecutive chunks a and b:
//   a.char_start < b.char_start,  a.char_end < b.char_end,  a.char_end - b.char_start <= overlap,
// and every non-whitespace character lies in at least one chunk. Empty or whitespace-only text
// gives no chunks. Time is linear in the text length for a fixed size.
//
// Tables: extractors write a table as lines of cells joined by " | " (a line whose first or
// last cell is empty may start with "| " or end with " |" once trimmed); two or more such lines
// in a row are a table, its first line the header. A window that ends inside a table is cut at a
// row end (after a paragraph end in the last third, before sentence and space ends, and
// anywhere past the previous chunk, so rows are kept whole); the next chunk then starts at the
// next row without overlap and carries the header row as its `context`.
//
// Options should have passed ValidateOptions; invalid ones are clamped (size 0 acts as 1,
// overlap as at most size - 1) rather than looping or crashing.
std::vector<Chunk> ChunkText(const DocumentText& doc, const ChunkOptions& options);

}  // namespace betterdev::chunk
