// Accounts, sessions and API keys.
//
// Register/Login hash with argon2id and are CPU-heavy by design (tens of milliseconds): call
// them off the I/O threads. Authenticate is cheap (one SHA-256 and one indexed lookup).
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "auth/password.hpp"
#include "auth/throttle.hpp"
#include "core/config.hpp"
#include "core/random.hpp"
#include "core/status.hpp"
#include "core/time.hpp"
#include "store/store.hpp"

namespace betterdev::auth {

struct Principal {
  enum class Kind { kAccessToken, kApiKey };
  std::string user_id;
  Kind kind = Kind::kAccessToken;
  std::string credential_id;  // the access token's or API key's id
};

struct IssuedToken {
  std::string access_token;
  int64_t expires_in_seconds = 0;
};

struct CreatedApiKey {
  store::ApiKey key;
  std::string secret;  // shown once
};

class AuthService {
 public:
  AuthService(store::Store& store, const Clock& clock, IdGenerator& ids, const AuthConfig& config);

  // InvalidArgument for a malformed e-mail or an unacceptable password; Conflict when taken.
  Result<store::User> Register(const std::string& email, const std::string& password);
  // Unauthenticated for a wrong e-mail or password (the same message for both);
  // ResourceExhausted with retry_after_seconds while the account or address is locked.
  Result<IssuedToken> Login(const std::string& email, const std::string& password, const std::string& remote);
  // Revokes the access token in use; InvalidArgument when the principal is an API key.
  Status Logout(const Principal& who);
  // Unauthenticated for unknown, expired or revoked credentials.
  Result<Principal> Authenticate(const std::string& bearer);
  Result<store::User> Me(const Principal& who);

  // InvalidArgument for an empty or over-long name.
  Result<CreatedApiKey> CreateApiKey(const Principal& who, const std::string& name);
  Result<store::Page<store::ApiKey>> ListApiKeys(const Principal& who, const store::PageRequest& page);
  Status DeleteApiKey(const Principal& who, const std::string& id);

  // Deletes access tokens that have expired (they no longer authenticate either way); how many.
  // The process calls it at start and periodically.
  Result<int64_t> PurgeExpiredTokens();

  static Status ValidateEmail(const std::string& email);
  static Status ValidatePassword(const std::string& password);

 private:
  store::Store& store_;
  const Clock& clock_;
  IdGenerator& ids_;
  AuthConfig config_;
  PasswordHasher hasher_;
  Throttle account_throttle_;
  Throttle address_throttle_;
};

}  // namespace betterdev::auth
