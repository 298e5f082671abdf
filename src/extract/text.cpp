// text/plain, text/markdown and text/x-*: the whole file is page 1, in any encoding (charset.hpp).
//
// Memory: the file is copied whole out of its mapping because the sink takes a
// page as one string; the raw bytes are freed before the sink runs. Peak is the file plus its
// UTF-8 form (up to 3x the bytes for ill-formed input), which ExtractLimits::max_text_bytes
// bounds. A streaming decoder would not lower the peak while a page is one string.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "extract/formats.hpp"
#include "extract/charset.hpp"

namespace betterdev::extract {
namespace {

Status TooLarge(int64_t size, int64_t limit) {
  return Status::InvalidArgument("the text file has " + std::to_string(size) + " bytes; the limit is " +
                                 std::to_string(limit));
}

}  // namespace

Result<std::string> ReadTextFile(const InputFile& file, int64_t limit) {
  if (file.size() > limit) return TooLarge(file.size(), limit);
  return std::string(file.bytes());
}

namespace {

class TextExtractor final : public Extractor {
 public:
  Status Extract(const InputFile& file, const ExtractLimits& limits, PageSink& sink) override {
    std::string text;
    {
      Result<std::string> bytes = ReadTextFile(file, limits.max_text_bytes);
      if (!bytes.ok()) return bytes.status();
      text = DecodeText(*bytes);
    }
    return sink.OnPage(1, 1, text);
  }
};

}  // namespace

std::unique_ptr<Extractor> NewTextExtractor() { return std::make_unique<TextExtractor>(); }

}  // namespace betterdev::extract
