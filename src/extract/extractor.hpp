// Text extraction: one extractor per format behind one interface, page by page.
//
// Extractors run inside the sandboxed job process (see ingest/), never in the API. They stream
// pages to a sink so memory stays bounded however long the document is.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.hpp"
#include "extract/input_file.hpp"

namespace betterdev::extract {

struct ExtractLimits {
  int max_pages = 5000;  // more pages: InvalidArgument "document has N pages; the limit is M"
  // A text file is one page and is held in memory whole (about 2-4x its size while decoding),
  // so its size is capped. Larger: InvalidArgument "the text file has N bytes; the limit is M".
  int64_t max_text_bytes = int64_t{64} << 20;
  // Office files (DOCX, PPTX, XLSX, ODT) are zip archives of XML parts; these caps keep a zip
  // bomb from exhausting memory or time. Sizes are counted while inflating, not taken from the
  // archive's (forgeable) directory. Over a cap: InvalidArgument naming the cap.
  // pugixml's tree of a part costs up to ~16x its size for pathological XML (measured: 64 MB of
  // "<a/>" took 1.1 GB), about 8x for real markup; hence 32 MB per part (a sheet of ~300k rows).
  int max_zip_entries = 10000;
  int64_t max_office_part_bytes = int64_t{32} << 20;    // one XML part, inflated
  int64_t max_office_total_bytes = int64_t{200} << 20;  // all parts read from one file, inflated
  // An image (or a PDF page rendered for OCR) is decoded to about 1-4 bytes per pixel and
  // OCR keeps a few copies, so the pixel count is capped. The size is read from the file's
  // header before anything is decoded (a 50,000 x 50,000 PNG of a few bytes is a
  // decompression bomb). A PDF page is rendered at a lower resolution instead of failing.
  int64_t max_image_pixels = 100'000'000;
  // OCR of one page or image that takes longer fails the document, naming the page.
  int ocr_page_timeout_seconds = 180;
};

// How pages without usable text and images are read (Tesseract). Configuration, not limits:
// given when an extractor is made.
struct OcrOptions {
  // Tesseract language codes joined by '+' ("eng", "eng+deu"): each needs its traineddata
  // installed (Debian: tesseract-ocr-<code>). An unknown language fails the job with a
  // message naming it.
  std::string languages = "eng";
  std::string data_dir;  // tessdata folder; empty: Tesseract's own default (TESSDATA_PREFIX)
  int dpi = 300;         // resolution PDF pages are rendered at for OCR
  // Turned pages (90/180/270 degrees) are detected (Tesseract's orientation detection, osd)
  // when the upright reading looks poor, and read the right way up.
  bool detect_rotation = true;
};

// Receives pages in order. `page_number` starts at 1 (slides, sheets: their numbers);
// `page_count` is the total when known, else 0. Returning an error stops the extraction and
// the extractor returns that error.
class PageSink {
 public:
  virtual ~PageSink() = default;
  virtual Status OnPage(int page_number, int page_count, std::string_view utf8_text) = 0;
  // The page about to be sent was read by OCR, with Tesseract's mean word confidence (0..100).
  virtual void OnOcr(int page_number, int mean_confidence) {
    (void)page_number;
    (void)mean_confidence;
  }
  // One entry of the document's own outline (a PDF's bookmarks), sent in the outline's order
  // (depth first) before the first page: `level` 1 outermost, the page it opens (1-based, a
  // page of this document), its title (UTF-8, one line, not empty). Formats without an
  // outline send none.
  virtual void OnOutlineEntry(int level, int page_number, std::string_view title) {
    (void)level;
    (void)page_number;
    (void)title;
  }
};

class Extractor {
 public:
  virtual ~Extractor() = default;
  // Reads `file` and sends its text, valid UTF-8 with "\n" line ends and "\n\n" between
  // paragraphs, to `sink`. Every page is sent, also one without text (a scan: "" so the caller
  // can tell a document that needs OCR). Expected failures are InvalidArgument with a reason a
  // person understands ("the PDF is encrypted and needs a password", "not a readable PDF file:
  // ..."). Reads only the file's bytes: opens no path but Tesseract's data and fonts.
  virtual Status Extract(const InputFile& file, const ExtractLimits& limits, PageSink& sink) = 0;
};

// The extractor for a detected MIME type, or nullptr when the type is not supported.
// Supported: application/pdf; text/plain, text/markdown and text/x-* (libmagic's guesses for
// source code, scripts, TeX, diffs, ... which are plain text to read; it also gives them to
// prose that merely looks like code); DOCX, PPTX, XLSX (the OOXML types) and ODT
// (application/vnd.oasis.opendocument.text); text/html and application/xhtml+xml; text/rtf
// (and application/rtf); images (image/png, jpeg, tiff, bmp, x-ms-bmp, gif, webp), read by OCR.
// PDF pages without usable text are read by OCR too. application/zip (an office file libmagic
// could not name from its first entries) is read as the office file its entries make it, and
// refused (InvalidArgument) when it is none. Not supported:
// .doc/.ppt/.xls, ODS/ODP, text/xml that is not HTML. MIME parameters (";charset=...") and case
// are ignored. Extractors hold no state between calls but are not meant to be shared by threads.
std::unique_ptr<Extractor> ExtractorFor(std::string_view mime_type, const OcrOptions& ocr = {});
bool IsSupportedType(std::string_view mime_type);

// The most bytes a file of this type can have to be read: text formats (plain text, Markdown,
// HTML, RTF) are held whole, up to `limits.max_text_bytes`; 0 for types without such a cap.
// Uploads over it are refused up front rather than failing in the worker.
int64_t MaxFileBytes(std::string_view mime_type, const ExtractLimits& limits = {});

// The supported types for people, e.g. for an "unsupported file type" message:
// "PDF, Word (DOCX), ..., images (PNG, JPEG, TIFF, BMP, GIF, WebP)".
std::string_view SupportedTypesDescription();

}  // namespace betterdev::extract
