#include "auth/password.hpp"

#include <sodium.h>

#include <stdexcept>

#include "core/random.hpp"

namespace betterdev::auth {

PasswordHasher::PasswordHasher(uint64_t memlimit_kib, uint64_t opslimit)
    : memlimit_bytes_(memlimit_kib * 1024), opslimit_(opslimit) {
  uint8_t probe;
  SecureRandomBytes(&probe, 1);  // makes sure libsodium is initialised
  auto dummy = Hash("betterdev-dummy-password");
  if (!dummy.ok()) throw std::runtime_error("argon2id unavailable: " + dummy.status().message());
  dummy_hash_ = *dummy;
}

Result<std::string> PasswordHasher::Hash(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), opslimit_, memlimit_bytes_,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    return Status::Internal("password hashing failed (out of memory?)");
  return std::string(out);
}

bool PasswordHasher::Verify(std::string_view password, const std::string& hash) const {
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

void PasswordHasher::VerifyDummy(std::string_view password) const { (void)Verify(password, dummy_hash_); }

}  // namespace betterdev::auth
