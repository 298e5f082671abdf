// Cryptographically secure randomness and the text encodings used for ids, tokens and cursors.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.hpp"

namespace betterdev {

// Fills `out` with `n` bytes from the operating system's CSPRNG (libsodium). Thread-safe.
void SecureRandomBytes(void* out, size_t n);

std::string HexEncode(std::string_view bytes);
// SHA-256 of `bytes`, as 64 lower-case hex digits.
std::string Sha256Hex(std::string_view bytes);
std::string Base64UrlEncode(std::string_view bytes);  // no padding
std::optional<std::string> Base64UrlDecode(std::string_view text);
// Standard base64 (RFC 4648 section 4) with '=' padding; nullopt on anything else.
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

// Generates opaque ids: `<prefix>_<26 chars>` where the 26 characters are a ULID (48-bit
// millisecond time + 80 random bits, Crockford base32). Ids from one generator sort in
// creation order, also within one millisecond (the random part is incremented), which is
// what keyset pagination ("newest first") relies on. Thread-safe.
class IdGenerator {
 public:
  explicit IdGenerator(const Clock& clock) : clock_(clock) {}
  std::string New(std::string_view prefix);

 private:
  const Clock& clock_;
  std::mutex mu_;
  int64_t last_ms_ = -1;   // guarded by mu_
  uint64_t hi_ = 0;        // upper 16 of the 80 random bits; guarded by mu_
  uint64_t lo_ = 0;        // lower 64 random bits; guarded by mu_
};

}  // namespace betterdev
