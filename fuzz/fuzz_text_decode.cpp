// Text decoding and charset detection, which every text, HTML and RTF file goes through: for any
// bytes, each decoder answers well-formed UTF-8 and never crashes; decoding UTF-8 output again
// changes nothing.
#include <cstdint>
#include <string>

#include "extract/charset.hpp"
#include "extract/text_decode.hpp"
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace betterdev;
  using namespace betterdev::extract;
  const std::string_view bytes = fuzz::Bytes(data, size);

  const std::string decoded = DecodeToUtf8(bytes);
  BD_FUZZ_CHECK(IsValidUtf8(decoded));
  BD_FUZZ_CHECK(decoded.find('\0') == std::string::npos);
  BD_FUZZ_CHECK(decoded.find('\r') == std::string::npos);

  const std::string normalized = NormalizeExtractedText(bytes);
  BD_FUZZ_CHECK(IsValidUtf8(normalized));
  BD_FUZZ_CHECK(NormalizeExtractedText(normalized) == normalized);  // already clean stays as it is

  (void)SniffEncoding(bytes);
  (void)DetectCharset(bytes);
  BD_FUZZ_CHECK(IsValidUtf8(DecodeText(bytes)));
  // A declared charset, as an HTML <meta> would name it: the first byte picks one.
  static constexpr std::string_view kDeclared[] = {"utf-8", "windows-1252", "iso-8859-8", "koi8-r", "shift_jis",
                                                   "gb18030", "utf-16", "no-such-charset", ""};
  const std::string_view declared = size > 0 ? kDeclared[data[0] % std::size(kDeclared)] : "";
  BD_FUZZ_CHECK(IsValidUtf8(DecodeText(bytes, declared)));
  if (!declared.empty()) BD_FUZZ_CHECK(IsValidUtf8(DecodeCharset(bytes, declared)));
  return 0;
}
