// application/pdf through poppler-cpp, one page at a time.
//
// Layout mode: poppler's reading order (non_raw_non_physical_layout, what `pdftotext` does by
// default). Measured on the sample PDFs it keeps multi-column text in column order (physical
// layout interleaves the columns line by line), joins words hyphenated at line ends and marks
// paragraphs with blank lines, which the chunker cuts at. Its cost: form-like pages (label,
// value) come out as separate short paragraphs rather than one line per row.
//
// Memory: each page is created, its text taken and the page destroyed before the next, so
// only one page's text is alive; poppler keeps the cross-reference table and small per-page
// objects, not content.
#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-page.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "extract/formats.hpp"
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

std::string PageText(const poppler::page& page) {
  const poppler::byte_array utf8 =
      page.text(poppler::rectf(), poppler::page::non_raw_non_physical_layout).to_utf8();
  return NormalizeExtractedText(std::string_view(utf8.data(), utf8.size()));
}

class PdfExtractor final : public Extractor {
 public:
  Status Extract(const std::string& path, const ExtractLimits& limits, PageSink& sink) override {
    std::error_code ec;
    const auto kind = std::filesystem::status(path, ec).type();
    if (kind == std::filesystem::file_type::not_found) return Status::NotFound("no such file: " + path);
    if (kind != std::filesystem::file_type::regular)
      return Status::InvalidArgument("not a regular file: " + path);

    MessageScope messages;
    std::unique_ptr<poppler::document> doc(poppler::document::load_from_file(path));
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
    for (int i = 0; i < count; ++i) {
      // A page poppler cannot build (broken page tree) is sent empty so numbering holds.
      std::unique_ptr<poppler::page> page(doc->create_page(i));
      const std::string text = page ? PageText(*page) : std::string();
      BD_RETURN_IF_ERROR(sink.OnPage(i + 1, count, text));
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Extractor> NewPdfExtractor() { return std::make_unique<PdfExtractor>(); }

}  // namespace betterdev::extract
