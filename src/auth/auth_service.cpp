#include "auth/auth_service.hpp"

#include <algorithm>

#include "auth/secrets.hpp"

namespace betterdev::auth {
namespace {

constexpr size_t kMinPasswordLength = 8;
constexpr size_t kMaxPasswordLength = 1024;
constexpr size_t kMaxEmailLength = 254;
constexpr size_t kMaxApiKeyName = 100;
// last_used_at is a hint, not an audit log: write it at most once a minute per key.
constexpr int64_t kTouchIntervalMs = 60 * 1000;

std::string AsciiLower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

ThrottlePolicy Policy(const AuthConfig& c, int max_failures) {
  ThrottlePolicy p;
  p.max_failures = max_failures;
  p.window_ms = int64_t{c.login_window_seconds} * 1000;
  p.lockout_base_ms = int64_t{c.login_lockout_base_seconds} * 1000;
  p.lockout_max_ms = int64_t{c.login_lockout_max_seconds} * 1000;
  return p;
}

}  // namespace

AuthService::AuthService(store::Store& store, const Clock& clock, IdGenerator& ids, const AuthConfig& config)
    : store_(store),
      clock_(clock),
      ids_(ids),
      config_(config),
      hasher_(config.argon2_memlimit_kib, config.argon2_opslimit),
      account_throttle_(Policy(config, config.login_max_failures), clock),
      address_throttle_(Policy(config, config.login_ip_max_failures), clock) {}

Status AuthService::ValidateEmail(const std::string& email) {
  if (email.empty()) return Status::InvalidArgument("email must not be empty");
  if (email.size() > kMaxEmailLength) return Status::InvalidArgument("email is longer than 254 characters");
  size_t at = email.find('@');
  if (at == std::string::npos || at == 0 || email.find('@', at + 1) != std::string::npos)
    return Status::InvalidArgument("email is not a valid address");
  std::string_view domain = std::string_view(email).substr(at + 1);
  size_t dot = domain.find('.');
  if (domain.empty() || dot == std::string_view::npos || dot == 0 || domain.back() == '.' ||
      domain.find("..") != std::string_view::npos)
    return Status::InvalidArgument("email is not a valid address");
  for (unsigned char c : email)
    if (c <= 0x20 || c == 0x7F || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' || c == ';' ||
        c == ':' || c == '\\' || c == '"' || c == '[' || c == ']')
      return Status::InvalidArgument("email is not a valid address");
  return Status::Ok();
}

Status AuthService::ValidatePassword(const std::string& password) {
  if (password.empty()) return Status::InvalidArgument("password must not be empty");
  if (password.size() < kMinPasswordLength)
    return Status::InvalidArgument("password must be at least 8 characters long");
  if (password.size() > kMaxPasswordLength)
    return Status::InvalidArgument("password must be at most 1024 characters long");
  return Status::Ok();
}

Result<store::User> AuthService::Register(const std::string& email, const std::string& password) {
  BD_RETURN_IF_ERROR(ValidateEmail(email));
  BD_RETURN_IF_ERROR(ValidatePassword(password));
  auto hash = hasher_.Hash(password);
  if (!hash.ok()) return hash.status();
  store::User u{ids_.New("usr"), email, std::move(*hash), clock_.NowMillis()};
  BD_RETURN_IF_ERROR(store_.users().Create(u));
  return u;
}

Result<IssuedToken> AuthService::Login(const std::string& email, const std::string& password,
                                       const std::string& remote) {
  const std::string account_key = AsciiLower(email);
  const std::string address_key = remote;
  int wait = std::max(account_throttle_.RetryAfterSeconds(account_key), address_throttle_.RetryAfterSeconds(address_key));
  if (wait > 0)
    return Status::ResourceExhausted("too many failed logins; try again in " + std::to_string(wait) + " s", wait);

  auto user = store_.users().FindByEmail(email);
  bool ok;
  if (user.ok()) {
    ok = hasher_.Verify(password, user->password_hash);
  } else if (user.status().code() == StatusCode::kNotFound) {
    hasher_.VerifyDummy(password);
    ok = false;
  } else {
    return user.status();
  }
  if (!ok) {
    account_throttle_.RecordFailure(account_key);
    address_throttle_.RecordFailure(address_key);
    return Status::Unauthenticated("wrong e-mail or password");
  }
  account_throttle_.RecordSuccess(account_key);

  Secret secret = NewSecret(kAccessTokenPrefix);
  int64_t now = clock_.NowMillis();
  store::AccessToken t{ids_.New("tok"), user->id, secret.hash, now, now + config_.token_ttl_seconds * 1000, {}};
  BD_RETURN_IF_ERROR(store_.tokens().Create(t));
  return IssuedToken{std::move(secret.value), config_.token_ttl_seconds};
}

Status AuthService::Logout(const Principal& who) {
  if (who.kind != Principal::Kind::kAccessToken)
    return Status::InvalidArgument("logout revokes access tokens; delete an API key with DELETE /v1/api-keys/{id}");
  return store_.tokens().Revoke(who.user_id, who.credential_id, clock_.NowMillis());
}

Result<Principal> AuthService::Authenticate(const std::string& bearer) {
  static const Status kBad = Status::Unauthenticated("invalid or expired token");
  int64_t now = clock_.NowMillis();
  if (bearer.starts_with(kAccessTokenPrefix)) {
    auto t = store_.tokens().FindByHash(HashSecret(bearer));
    if (!t.ok()) return t.status().code() == StatusCode::kNotFound ? kBad : t.status();
    if (t->revoked_at || t->expires_at <= now) return kBad;
    return Principal{t->user_id, Principal::Kind::kAccessToken, t->id};
  }
  if (bearer.starts_with(kApiKeyPrefix)) {
    auto k = store_.api_keys().FindByHash(HashSecret(bearer));
    if (!k.ok()) return k.status().code() == StatusCode::kNotFound ? kBad : k.status();
    if (!k->last_used_at || now - *k->last_used_at >= kTouchIntervalMs)
      (void)store_.api_keys().TouchLastUsed(k->id, now);  // best effort
    return Principal{k->user_id, Principal::Kind::kApiKey, k->id};
  }
  return kBad;
}

Result<store::User> AuthService::Me(const Principal& who) { return store_.users().FindById(who.user_id); }

namespace {

// A leaked key must not mint another that outlives its revocation, nor revoke the owner's.
Status NeedsSession(const Principal& who) {
  if (who.kind == Principal::Kind::kAccessToken) return Status::Ok();
  return Status::PermissionDenied("API keys are managed with a login session (an access token), not with an API key");
}

}  // namespace

Result<int64_t> AuthService::PurgeExpiredTokens() { return store_.tokens().DeleteExpired(clock_.NowMillis()); }

Result<CreatedApiKey> AuthService::CreateApiKey(const Principal& who, const std::string& name) {
  BD_RETURN_IF_ERROR(NeedsSession(who));
  if (name.empty()) return Status::InvalidArgument("name must not be empty");
  if (name.size() > kMaxApiKeyName) return Status::InvalidArgument("name must be at most 100 characters long");
  Secret secret = NewSecret(kApiKeyPrefix);
  store::ApiKey k{ids_.New("key"), who.user_id, name, secret.value.substr(0, kApiKeyPrefix.size() + 6),
                  secret.hash, clock_.NowMillis(), {}};
  BD_RETURN_IF_ERROR(store_.api_keys().Create(k));
  return CreatedApiKey{std::move(k), std::move(secret.value)};
}

Result<store::Page<store::ApiKey>> AuthService::ListApiKeys(const Principal& who, const store::PageRequest& page) {
  BD_RETURN_IF_ERROR(NeedsSession(who));
  return store_.api_keys().List(who.user_id, page);
}

Status AuthService::DeleteApiKey(const Principal& who, const std::string& id) {
  BD_RETURN_IF_ERROR(NeedsSession(who));
  return store_.api_keys().Delete(who.user_id, id);
}

}  // namespace betterdev::auth
