#include "chat/tokens.hpp"

namespace betterdev::chat {

int64_t EstimateTokens(std::string_view text) {
  int64_t tokens = 0;
  int64_t ascii_run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++ascii_run;
    } else if ((c & 0xC0) != 0x80) {  // the first byte of a code point outside ASCII
      tokens += (ascii_run + 3) / 4 + 1;
      ascii_run = 0;
    }
  }
  return tokens + (ascii_run + 3) / 4;
}

}  // namespace betterdev::chat
