// Bearer secrets: 256 random bits, base64url, with a readable kind prefix. Only their SHA-256
// is stored, so a leaked database does not leak usable tokens.
#pragma once

#include <string>
#include <string_view>

namespace betterdev::auth {

inline constexpr std::string_view kAccessTokenPrefix = "bd_at_";
inline constexpr std::string_view kApiKeyPrefix = "bd_sk_";

struct Secret {
  std::string value;  // shown to the client once
  std::string hash;   // hex SHA-256 of value; what the store keeps
};

Secret NewSecret(std::string_view prefix);
std::string HashSecret(std::string_view value);

}  // namespace betterdev::auth
