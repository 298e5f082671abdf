#include "auth/secrets.hpp"

#include <sodium.h>

#include "core/random.hpp"

namespace betterdev::auth {

Secret NewSecret(std::string_view prefix) {
  unsigned char bytes[32];
  SecureRandomBytes(bytes, sizeof bytes);
  Secret s;
  s.value = std::string(prefix) + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
  sodium_memzero(bytes, sizeof bytes);
  s.hash = HashSecret(s.value);
  return s;
}

std::string HashSecret(std::string_view value) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(value.data()), value.size());
  return HexEncode(std::string_view(reinterpret_cast<char*>(digest), sizeof digest));
}

}  // namespace betterdev::auth
