// Where a chunk sits: the headings above it, found in the document's text.
//
// Extractors give text, not structure, so headings are recognised by their shape, one line
// at a time (a table row, cells joined by " | ", is never a heading):
//   level 1  "# Title" (Markdown, 1-6 '#' give levels 1-6), "PART I", "Part II — Other Information"
//   level 2  "Item 1. Financial Statements", "ITEM 2." (with the next line when that is the
//            item's title: "Item 1." then "Financial Statements")
//   level 3  "Note 4 — Debt", "NOTE 11 — INCOME TAXES", and lines in capitals of 2 to 14 words
//            ("CONDENSED CONSOLIDATED BALANCE SHEETS (Unaudited)")
//   level 4  a short line in title case standing at a paragraph's start and followed by prose
//            (a line of 40 bytes or more, maybe after a blank line): "Gross Margin",
//            "Liquidity and Capital Resources"; not a form's values ("Lycoming", "KADM")
// A line repeated on more than three pages' worth of places (running headers and footers:
// "Table of Contents", a company name) is not a heading unless it is a part or an item; a
// heading equal to the one already open at its level (a running "PART I" on every page)
// changes nothing. A heading closes those of its level and deeper.
//
// A document with its own outline (a PDF's bookmarks, two entries or more) takes its headings
// from there instead (OutlineHeadings): the author's structure, with the author's titles.
//
// Pure; linear in the text (OutlineHeadings: in the text of the pages its entries open).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chunk/chunker.hpp"

namespace betterdev::chunk {

struct Heading {
  size_t byte = 0;  // where its line starts in the text
  size_t end = 0;   // where its (last) line ends
  int level = 1;    // 1 outermost
  std::string text;
};

// The text's headings in order.
std::vector<Heading> FindHeadings(std::string_view text);

// The headings of `doc`'s outline, in its order, at its levels, with its titles. Each opens on
// its page: at the first line there (after the entry before it, when that is on the same
// page) that holds the title's letters and digits (case aside) and not much more (a line of
// prose or a table row is not a title), else at the page's start. An entry whose page ends
// before the entry above it is placed is left out (headings stay in text order).
std::vector<Heading> OutlineHeadings(const DocumentText& doc);

// The heading path of what starts at a place: the headings at or before it, outermost first,
// and when headings open there, each deeper than the one before it ("Item 1." then a
// statement's title, then its rows), those too up to `end` (the chunk's end), for the text
// under them. Joined by " › "; "" when there is none. Places must come in order (not
// decreasing): each heading is looked at once. `headings` as FindHeadings gives them for
// `text`, which must outlive this.
class HeadingPath {
 public:
  HeadingPath(std::vector<Heading> headings, std::string_view text) : headings_(std::move(headings)), text_(text) {}
  std::string At(size_t byte, size_t end);

 private:
  void Open(const Heading& h);

  std::vector<Heading> headings_;
  std::string_view text_;
  size_t next_ = 0;
  std::vector<const Heading*> open_;
};

}  // namespace betterdev::chunk
