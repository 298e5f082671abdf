// Internal to extract/: a PDF page's text with its tables row by row.
//
// poppler's reading order walks a financial statement column by column when the label column
// and the figures are far apart, so "Total net sales" and "$82,959" end up paragraphs apart
// (usually in different chunks). Its physical layout (`pdftotext -layout`) keeps each row on
// one line, placing words at their columns. Here that layout's lines are cut into segments at
// two spaces or more, and runs of lines that hold a label and figures in aligned columns
// become a table: one line per row, "label | cell | cell", cells in column order (empty where
// a row has none), with the header (the lines above the first row whose text sits over the
// columns: "Three Months Ended", "July 1,", "2023") folded into one row that names each
// column. That is the extractors' table format (see chunk/chunker.hpp), so the chunker keeps
// rows whole and carries the header row into every chunk of the table (a table without
// heading lines starts with its first row, which then stands as its header, as in office
// tables). A table of more than 32 columns is not taken for one.
//
// Why the layout text and not poppler's word boxes (page::text_list): same geometry for this
// purpose, and poppler-cpp's text_list copies the document's cross-reference table for every
// page, which made it cost 3.6x the page's text (8.5 vs 2.3 ms a page on the 10-Q filings).
//
// Pure and without poppler: pdf.cpp gives it the text. Time and memory are linear in the text
// plus O(rows * columns) per table.
#pragma once

#include <string>
#include <string_view>

namespace betterdev::extract {

// The page's text with every table found in `layout_text` (poppler's physical layout of the
// page) written row by row, the rest line by line in top-to-bottom order ("\n" between the
// lines of a paragraph, "\n\n" between paragraphs and around tables). "" when the page has
// no table, or looks set in two or more columns of prose (where the layout's lines run across
// the columns): the caller then keeps poppler's reading order.
std::string PageTextWithTables(std::string_view layout_text);

// Whether poppler's reading-order text of a page may hold a table it read column by column:
// three lines or more that are a figure alone ("60,584", "$", "(265)"). Cheap; pages without
// such lines are not laid out again.
bool MayHoldTable(std::string_view reading_order_text);

}  // namespace betterdev::extract
