// Password hashing with argon2id (libsodium). Hashes are self-describing PHC strings
// ($argon2id$v=19$m=...,t=...,p=1$salt$hash), so costs can change without breaking old hashes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.hpp"

namespace betterdev::auth {

class PasswordHasher {
 public:
  PasswordHasher(uint64_t memlimit_kib, uint64_t opslimit);
  // Internal when the hash cannot be computed (out of memory).
  Result<std::string> Hash(std::string_view password) const;
  // Constant-time with respect to the password; false for a malformed hash.
  bool Verify(std::string_view password, const std::string& hash) const;
  // Spends the same time as Verify, for unknown accounts, so timing does not reveal which
  // e-mail addresses are registered.
  void VerifyDummy(std::string_view password) const;

 private:
  uint64_t memlimit_bytes_;
  uint64_t opslimit_;
  std::string dummy_hash_;
};

}  // namespace betterdev::auth
