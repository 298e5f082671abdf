#include "ingest/job_process.hpp"

#include <unistd.h>

#include <cerrno>
#include <new>

#include "core/json_text.hpp"

namespace betterdev::ingest {
namespace {

// Buffered writer to the worker's pipe. Pages and stages are flushed at once (they are
// progress); chunks are written in large blocks.
class Out {
 public:
  explicit Out(int fd) : fd_(fd) {}
  ~Out() { Flush(); }
  void Line(std::string_view line, bool flush) {
    buf_.append(line);
    buf_.push_back('\n');
    if (flush || buf_.size() >= 64 * 1024) Flush();
  }
  void Flush() {
    std::string_view rest(buf_);
    while (!rest.empty()) {
      ssize_t n = ::write(fd_, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) _exit(1);  // the worker is gone: nobody wants the result
      rest.remove_prefix(static_cast<size_t>(n));
    }
    buf_.clear();
  }

 private:
  int fd_;
  std::string buf_;
};

class Collect final : public extract::PageSink {
 public:
  Collect(chunk::DocumentText& doc, Out& out) : doc_(doc), out_(out) {}
  void OnOcr(int, int mean_confidence) override { ocr_confidence_ = mean_confidence; }
  void OnOutlineEntry(int level, int page_number, std::string_view title) override {
    doc_.AddOutlineEntry({level, page_number, std::string(title)});
  }
  Status OnPage(int page_number, int page_count, std::string_view text) override {
    if (ocr_confidence_ >= 0) {  // weighted by the page's text: a near-empty page says little
      ++ocr_pages_;
      ocr_weighted_ += static_cast<double>(ocr_confidence_) * static_cast<double>(text.size());
      ocr_bytes_ += static_cast<double>(text.size());
      ocr_confidence_ = -1;
    }
    doc_.AddPage(page_number, text);
    page_count_ = std::max(page_count_, std::max(page_count, page_number));
    out_.Line("{\"t\":\"page\",\"page\":" + std::to_string(page_number) + ",\"pages\":" + std::to_string(page_count) + "}",
              true);
    return Status::Ok();
  }
  int page_count() const { return page_count_; }
  int ocr_pages() const { return ocr_pages_; }
  // Mean confidence of the OCR'd text, weighted by each page's text; 100 without any.
  int ocr_confidence() const { return ocr_bytes_ > 0 ? static_cast<int>(ocr_weighted_ / ocr_bytes_ + 0.5) : 100; }

 private:
  chunk::DocumentText& doc_;
  Out& out_;
  int page_count_ = 0;
  int ocr_confidence_ = -1;  // of the page about to be sent, when it was read by OCR
  int ocr_pages_ = 0;
  double ocr_weighted_ = 0, ocr_bytes_ = 0;
};

int64_t CountCodePoints(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

int Run(const ExtractJobSpec& spec, const extract::InputFile& input, Out& out) {
  auto error = [&](std::string_view reason) {
    std::string line = "{\"t\":\"error\",\"reason\":";
    AppendJsonString(line, reason);
    line.push_back('}');
    out.Line(line, true);
  };
  std::unique_ptr<extract::Extractor> extractor = extract::ExtractorFor(spec.content_type, spec.ocr);
  if (!extractor) {
    error("files of type " + spec.content_type + " are not supported");
    return kJobExitRejected;
  }
  chunk::DocumentText doc;
  Collect pages(doc, out);
  Status s = extractor->Extract(input, spec.limits, pages);
  if (!s.ok()) {
    error(s.message());
    return s.code() == StatusCode::kInvalidArgument ? kJobExitRejected : 1;
  }
  out.Line("{\"t\":\"stage\",\"stage\":\"chunking\"}", true);
  std::vector<chunk::Chunk> chunks = chunk::ChunkText(doc, spec.chunking);
  if (chunks.empty()) {
    error("no text found in the file");
    return kJobExitRejected;
  }
  std::string line;
  for (const chunk::Chunk& c : chunks) {
    line = "{\"t\":\"chunk\",\"ordinal\":" + std::to_string(c.ordinal) + ",\"page_start\":" + std::to_string(c.page_start) +
           ",\"page_end\":" + std::to_string(c.page_end) + ",\"char_start\":" + std::to_string(c.char_start) +
           ",\"char_end\":" + std::to_string(c.char_end) + ",\"text\":";
    AppendJsonString(line, c.text);
    if (!c.context.empty()) {
      line += ",\"context\":";
      AppendJsonString(line, c.context);
    }
    if (!c.section.empty()) {
      line += ",\"section\":";
      AppendJsonString(line, c.section);
    }
    line.push_back('}');
    out.Line(line, false);
  }
  out.Line("{\"t\":\"done\",\"pages\":" + std::to_string(pages.page_count()) +
               ",\"chars\":" + std::to_string(CountCodePoints(doc.text())) + ",\"chunks\":" + std::to_string(chunks.size()) +
               ",\"ocr_pages\":" + std::to_string(pages.ocr_pages()) +
               ",\"ocr_confidence\":" + std::to_string(pages.ocr_confidence()) + "}",
           true);
  return kJobExitOk;
}

}  // namespace

ExtractJobSpec MakeExtractJobSpec(const IngestConfig& config, std::string content_type) {
  ExtractJobSpec spec;
  spec.content_type = std::move(content_type);
  spec.limits.max_pages = config.max_pages;
  spec.limits.max_image_pixels = int64_t{config.max_image_megapixels} * 1'000'000;
  spec.limits.ocr_page_timeout_seconds = config.ocr_page_timeout_seconds;
  spec.ocr.languages = config.ocr_languages;
  spec.ocr.dpi = config.ocr_dpi;
  spec.chunking.size = static_cast<size_t>(config.chunk_size);
  spec.chunking.overlap = static_cast<size_t>(config.chunk_overlap);
  return spec;
}

int RunExtractJob(const ExtractJobSpec& spec, const extract::InputFile& input, int out_fd) {
  Out out(out_fd);
  try {
    return Run(spec, input, out);
  } catch (const std::bad_alloc&) {
    out.Line("{\"t\":\"error\",\"reason\":\"out of memory\"}", true);
    return kJobExitOutOfMemory;
  }
}

}  // namespace betterdev::ingest
