// The HTML and RTF readers (gumbo behind a nesting prescan; our own RTF reader), on any bytes:
// they never crash, and whatever they send as page text is well-formed UTF-8 (the extractor
// contract, extractor.hpp). The first byte picks the reader.
#include <cstdint>
#include <memory>
#include <string>

#include "extract/charset.hpp"
#include "extract/extractor.hpp"
#include "extract/formats.hpp"
#include "fuzz_util.hpp"

namespace betterdev::fuzz {
namespace {

class CheckingSink final : public extract::PageSink {
 public:
  Status OnPage(int page_number, int page_count, std::string_view utf8_text) override {
    BD_FUZZ_CHECK(page_number >= 1);
    BD_FUZZ_CHECK(page_count >= 0);
    BD_FUZZ_CHECK(extract::IsValidUtf8(utf8_text));
    return Status::Ok();
  }
};

}  // namespace
}  // namespace betterdev::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace betterdev;
  if (size < 1) return 0;
  static const std::unique_ptr<extract::Extractor> html = extract::NewHtmlExtractor();
  static const std::unique_ptr<extract::Extractor> rtf = extract::NewRtfExtractor();
  BD_FUZZ_CHECK(html && rtf);
  extract::Extractor& reader = (data[0] & 1) ? *rtf : *html;
  const extract::InputFile input = fuzz::MemoryInput(fuzz::Bytes(data + 1, size - 1));
  extract::ExtractLimits limits;
  limits.max_text_bytes = 1 << 20;
  fuzz::CheckingSink sink;
  const Status status = reader.Extract(input, limits, sink);
  // Expected failures are InvalidArgument with a reason (too deep, not RTF, ...); nothing else.
  BD_FUZZ_CHECK(status.ok() || status.code() == StatusCode::kInvalidArgument);
  return 0;
}
