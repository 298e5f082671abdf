// Internal to extract/: a PDF's outline (its bookmarks), each entry with the page it opens.
//
// poppler-cpp's toc gives the titles but not where they point, so the outline is read through
// poppler's own API (PDFDoc, Outline, LinkGoTo) over the same bytes: a second parse of the
// cross-reference table (milliseconds), no page content. Direct and named destinations are
// followed; an entry that points elsewhere (a URI, another file) or at no page of this
// document is left out, its children kept at their own depth.
//
// Hostile outlines: poppler refuses cycles among an item's siblings and ancestors; on top of
// that, at most kMaxOutlineEntries entries are sent and nothing deeper than kMaxOutlineDepth
// is read. Titles are cleaned like page text: control characters become spaces, runs of
// spaces one, at most kMaxOutlineTitleBytes bytes (cut at a character's start), and an entry
// whose title is empty is left out.
#pragma once

#include <cstddef>

#include "extract/extractor.hpp"
#include "extract/input_file.hpp"

namespace betterdev::extract {

inline constexpr int kMaxOutlineEntries = 500;
inline constexpr int kMaxOutlineDepth = 16;
inline constexpr size_t kMaxOutlineTitleBytes = 200;

// Sends the outline of the PDF in `file` (which has `page_count` pages) to `sink`, entry by
// entry in the outline's order (depth first), before any page. Nothing when the file has no
// outline or poppler cannot read it. Must run while a poppler::document of the file is alive
// (poppler's global parameters exist only then).
void SendOutline(const InputFile& file, int page_count, PageSink& sink);

}  // namespace betterdev::extract
