// application/pdf through poppler-cpp, one page at a time.
//
// Layout mode: poppler's reading order (non_raw_non_physical_layout, what `pdftotext` does by
// default). Measured on the sample PDFs it keeps multi-column text in column order (physical
// layout interleaves the columns line by line), joins words hyphenated at line ends and marks
// paragraphs with blank lines, which the chunker cuts at. Its cost: tables and form-like pages
// (label, value) come out column by column. A page where that shows (figures alone on their
// lines) is read again in physical layout and its tables written row by row (pdf_layout.hpp).
//
// Scans: a page whose text layer is not usable (UsableText: empty, a few stray characters, or
// mostly undecodable glyphs) is rendered to grayscale at OcrOptions::dpi (lower when the page
// is so large that the image would pass ExtractLimits::max_image_pixels) and read by OCR. The
// decision is per page, so a PDF mixing typed and scanned pages reads both; the OCR engine is
// loaded on the first page that needs it, so text PDFs never pay for it.
//
// Bookmarks: the outline's entries, with the pages they open, go to the sink before the first
// page (pdf_outline.hpp); the chunker takes heading paths from them.
//
// Memory: each page is created, its text taken and the page destroyed before the next, so
// only one page's text (or one rendered page, ~9 MB at 300 dpi for A4) is alive; poppler
// keeps the cross-reference table and small per-page objects, not content.
#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-page-renderer.h>
#include <poppler/cpp/poppler-page.h>
#include <poppler/cpp/poppler-toc.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cmath>
#include <cctype>
#include <limits>
#include <memory>
#include <mutex>
#include <string>

#include "extract/formats.hpp"
#include "extract/ocr.hpp"
#include "extract/pdf_layout.hpp"
#include "extract/pdf_outline.hpp"
#include "extract/text_decode.hpp"

namespace betterdev::extract {
namespace {

// poppler reports problems through one process-wide function (by default to stderr, where a
// damaged file can write thousands of lines). Ours keeps the last message of the extraction
// running on this thread, which for a file that does not load is the fatal one ("Couldn't
// read xref table"), and drops the rest.
thread_local std::string* tls_last_message = nullptr;

void OnPopplerMessage(const std::string& message, void* /*closure*/) {
  if (tls_last_message != nullptr) tls_last_message->assign(message, 0, 200);
}

// Collects poppler's messages for the lifetime of one extraction on this thread.
class MessageScope {
 public:
  MessageScope() {
    static std::once_flag once;
    std::call_once(once, [] { poppler::set_debug_error_function(&OnPopplerMessage, nullptr); });
    tls_last_message = &last_;
  }
  ~MessageScope() { tls_last_message = nullptr; }
  MessageScope(const MessageScope&) = delete;
  MessageScope& operator=(const MessageScope&) = delete;

  // poppler's last message without its "error (offset): " prefix, or "".
  std::string Last() const {
    std::string m = last_;
    if (m.starts_with("error")) {
      const size_t colon = m.find(": ");
      if (colon != std::string::npos) m.erase(0, colon + 2);
    }
    return m;
  }

 private:
  std::string last_;
};

std::string LayoutText(const poppler::page& page, poppler::page::text_layout_enum layout) {
  const poppler::byte_array utf8 = page.text(poppler::rectf(), layout).to_utf8();
  return std::string(utf8.data(), utf8.size());
}

// Reading order, except on a page with tables, whose rows come from the physical layout
// (pdf_layout.hpp). The second pass costs about as much as the first and is made only when
// the reading order shows figures standing alone on their lines.
std::string PageText(const poppler::page& page) {
  std::string text = LayoutText(page, poppler::page::non_raw_non_physical_layout);
  if (MayHoldTable(text)) {
    std::string with_tables = PageTextWithTables(LayoutText(page, poppler::page::physical_layout));
    if (!with_tables.empty()) text = std::move(with_tables);
  }
  return NormalizeExtractedText(text);
}

// A text layer worth keeping: at least kMinUsableCharacters letters or digits, and few
// characters that say the glyphs could not be decoded (U+FFFD, private-use code points that
// fonts without a Unicode map produce). Otherwise the page is read by OCR.
constexpr int kMinUsableCharacters = 16;

bool UsableText(std::string_view utf8) {
  int good = 0;
  int bad = 0;
  for (size_t i = 0; i < utf8.size();) {
    const unsigned char c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      good += std::isalnum(c) != 0 ? 1 : 0;
      ++i;
      continue;
    }
    const size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    char32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < len && i + k < utf8.size(); ++k) cp = (cp << 6) | (utf8[i + k] & 0x3F);
    const bool undecodable = cp == 0xFFFD || (cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000;
    (undecodable ? bad : good) += 1;
    i += len;
  }
  return good >= kMinUsableCharacters && bad * 10 <= good;
}

class PdfExtractor final : public Extractor {
 public:
  explicit PdfExtractor(OcrOptions ocr) : ocr_(std::move(ocr)) {}

  Status Extract(const InputFile& file, const ExtractLimits& limits, PageSink& sink) override {
    if (file.size() > std::numeric_limits<int>::max()) {
      return Status::InvalidArgument("the PDF file is larger than 2 GiB, which is not supported");
    }
    MessageScope messages;
    // poppler reads the mapped bytes in place (no copy); they outlive `doc`.
    std::unique_ptr<poppler::document> doc(poppler::document::load_from_raw_data(
        file.bytes().data(), static_cast<int>(file.size())));
    if (!doc) {
      const std::string why = messages.Last();
      return Status::InvalidArgument("not a readable PDF file: it is damaged, cut short or not a PDF" +
                                     (why.empty() ? std::string() : " (" + why + ")"));
    }
    if (doc->is_locked()) return Status::InvalidArgument("the PDF is encrypted and needs a password");

    const int count = doc->pages();
    if (count <= 0) return Status::InvalidArgument("the PDF has no pages");
    if (count > limits.max_pages) {
      return Status::InvalidArgument("document has " + std::to_string(count) + " pages; the limit is " +
                                     std::to_string(limits.max_pages));
    }
    // poppler-cpp tells whether there is an outline from the document already read; only then
    // is the file parsed a second time for the outline's pages (about 6 ms for a 10-Q filing).
    if (std::unique_ptr<poppler::toc>(doc->create_toc()) != nullptr) SendOutline(file, count, sink);
    for (int i = 0; i < count; ++i) {
      // A page poppler cannot build (broken page tree) is sent empty so numbering holds.
      std::unique_ptr<poppler::page> page(doc->create_page(i));
      std::string text = page ? PageText(*page) : std::string();
      // A blank page (no text layer, nothing drawn) is known from a thumbnail and not read by
      // OCR: a PDF of 5,000 blank pages ends in seconds, not hours.
      if (page && !UsableText(text) && !LooksBlank(*page)) {
        Result<OcrPage> read = ReadByOcr(*page, limits);
        if (!read.ok()) {
          return Status(read.status().code(), "page " + std::to_string(i + 1) + ": " + read.status().message());
        }
        // Keep the text layer when OCR finds less (a page with a few typed words and no scan).
        if (read->text.size() > text.size()) {
          text = std::move(read->text);
          sink.OnOcr(i + 1, read->mean_confidence);
        }
      }
      BD_RETURN_IF_ERROR(sink.OnPage(i + 1, count, text));
    }
    return Status::Ok();
  }

 private:
  // Rendered at 24 dpi (a letter page is 204 x 264 pixels, a millisecond or two): blank when
  // fewer than 1 pixel in 2,000 differs from the page's background (its most common grey) by
  // more than 32 levels. A line of 10-point text darkens about 1% of such a thumbnail; a scan's
  // dust and paper grain average out at this size.
  static bool LooksBlank(const poppler::page& page) {
    constexpr double kThumbnailDpi = 24;
    poppler::page_renderer renderer;
    renderer.set_render_hints(poppler::page_renderer::antialiasing);
    renderer.set_image_format(poppler::image::format_gray8);
    const poppler::image image = renderer.render_page(&page, kThumbnailDpi, kThumbnailDpi);
    if (!image.is_valid() || image.width() <= 0 || image.height() <= 0) return false;
    const auto* data = reinterpret_cast<const uint8_t*>(image.const_data());
    const int w = image.width(), h = image.height(), stride = image.bytes_per_row();
    std::array<int64_t, 256> histogram{};
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) ++histogram[data[static_cast<size_t>(y) * stride + x]];
    const int background = static_cast<int>(std::max_element(histogram.begin(), histogram.end()) - histogram.begin());
    int64_t ink = 0;
    for (int v = 0; v < 256; ++v)
      if (std::abs(v - background) > 32) ink += histogram[static_cast<size_t>(v)];
    return ink * 2000 < static_cast<int64_t>(w) * h;
  }

  Result<OcrPage> ReadByOcr(const poppler::page& page, const ExtractLimits& limits) {
    if (!engine_) {
      Result<std::unique_ptr<OcrEngine>> engine = OcrEngine::Open(ocr_);
      if (!engine.ok()) return engine.status();
      engine_ = std::move(*engine);
    }
    // The page's size in points (1/72 inch), turned as it is shown.
    const poppler::rectf box = page.page_rect(poppler::media_box);
    const double width_in = std::max(box.width(), 1.0) / 72.0;
    const double height_in = std::max(box.height(), 1.0) / 72.0;
    double dpi = ocr_.dpi > 0 ? ocr_.dpi : 300;
    const double pixels = width_in * height_in * dpi * dpi;
    if (pixels > static_cast<double>(limits.max_image_pixels)) {
      dpi *= std::sqrt(static_cast<double>(limits.max_image_pixels) / pixels);
    }
    if (dpi < 20) return Status::InvalidArgument("the page is too large to read by OCR");
    poppler::page_renderer renderer;
    renderer.set_render_hints(poppler::page_renderer::antialiasing | poppler::page_renderer::text_antialiasing);
    renderer.set_image_format(poppler::image::format_gray8);
    const poppler::image image = renderer.render_page(&page, dpi, dpi);
    if (!image.is_valid() || image.width() <= 0 || image.height() <= 0) {
      return Status::InvalidArgument("the page could not be rendered for OCR");
    }
    Result<OcrPage> read = engine_->ReadGray(reinterpret_cast<const uint8_t*>(image.const_data()), image.width(),
                                             image.height(), image.bytes_per_row(), static_cast<int>(dpi),
                                             limits.ocr_page_timeout_seconds);
    return read;
  }

  OcrOptions ocr_;
  std::unique_ptr<OcrEngine> engine_;  // loaded on the first page that needs OCR
};

}  // namespace

std::unique_ptr<Extractor> NewPdfExtractor(const OcrOptions& ocr) { return std::make_unique<PdfExtractor>(ocr); }

}  // namespace betterdev::extract
