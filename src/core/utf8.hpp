// Strict UTF-8 decoding, one character at a time (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF).
#pragma once

#include <cstddef>
#include <string_view>

namespace betterdev {

struct Utf8Char {
  size_t length = 0;  // bytes of the sequence at the position; 0 when it is not valid UTF-8
  char32_t code_point = 0;
};

// The character starting at s[i] (i < s.size()).
Utf8Char DecodeUtf8At(std::string_view s, size_t i);

}  // namespace betterdev
