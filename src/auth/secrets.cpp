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

std::string HashSecret(std::string_view value) { return Sha256Hex(value); }

}  // namespace betterdev::auth
