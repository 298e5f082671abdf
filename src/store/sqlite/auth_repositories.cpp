// Users, access tokens and API keys on SQLite.
#include "store/sqlite/repositories.hpp"

namespace betterdev::store::sqlite {
namespace {

User ReadUser(const Statement& q) { return User{q.Text(0), q.Text(1), q.Text(2), q.Int(3)}; }

AccessToken ReadToken(const Statement& q) {
  return AccessToken{q.Text(0), q.Text(1), q.Text(2), q.Int(3), q.Int(4), q.OptionalInt(5)};
}

ApiKey ReadApiKey(const Statement& q) {
  return ApiKey{q.Text(0), q.Text(1), q.Text(2), q.Text(3), q.Text(4), q.Int(5), q.OptionalInt(6)};
}

// Runs a single-row lookup; NotFound when there is no row.
template <typename T, typename Read>
Result<T> One(Statement& q, Read read, const char* what) {
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound(what);
  return read(q);
}

}  // namespace

Status SqliteUsers::Create(const User& u) {
  auto conn = pool_.Acquire();
  Status s = conn->Prepare("INSERT INTO users(id, email, password_hash, created_at) VALUES (?, ?, ?, ?)")
                 .Bind(1, u.id)
                 .Bind(2, u.email)
                 .Bind(3, u.password_hash)
                 .Bind(4, u.created_at)
                 .Run();
  if (s.code() == StatusCode::kConflict) return Status::Conflict("a user with this e-mail already exists");
  return s;
}

Result<User> SqliteUsers::FindByEmail(const std::string& email) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare("SELECT id, email, password_hash, created_at FROM users WHERE email = ?");
  q.Bind(1, email);
  return One<User>(q, ReadUser, "no such user");
}

Result<User> SqliteUsers::FindById(const std::string& id) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare("SELECT id, email, password_hash, created_at FROM users WHERE id = ?");
  q.Bind(1, id);
  return One<User>(q, ReadUser, "no such user");
}

Status SqliteTokens::Create(const AccessToken& t) {
  auto conn = pool_.Acquire();
  return conn
      ->Prepare("INSERT INTO access_tokens(id, user_id, token_hash, created_at, expires_at, revoked_at) "
                "VALUES (?, ?, ?, ?, ?, ?)")
      .Bind(1, t.id)
      .Bind(2, t.user_id)
      .Bind(3, t.token_hash)
      .Bind(4, t.created_at)
      .Bind(5, t.expires_at)
      .Bind(6, t.revoked_at)
      .Run();
}

Result<AccessToken> SqliteTokens::FindByHash(const std::string& token_hash) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare(
      "SELECT id, user_id, token_hash, created_at, expires_at, revoked_at FROM access_tokens WHERE token_hash = ?");
  q.Bind(1, token_hash);
  return One<AccessToken>(q, ReadToken, "no such token");
}

Status SqliteTokens::Revoke(const std::string& user_id, const std::string& token_id, int64_t now) {
  auto conn = pool_.Acquire();
  BD_RETURN_IF_ERROR(conn->Prepare("UPDATE access_tokens SET revoked_at = coalesce(revoked_at, ?) "
                                   "WHERE id = ? AND user_id = ?")
                         .Bind(1, now)
                         .Bind(2, token_id)
                         .Bind(3, user_id)
                         .Run());
  return conn->Changes() == 0 ? Status::NotFound("no such token") : Status::Ok();
}

Result<int64_t> SqliteTokens::DeleteExpired(int64_t now) {
  auto conn = pool_.Acquire();
  BD_RETURN_IF_ERROR(conn->Prepare("DELETE FROM access_tokens WHERE expires_at < ?").Bind(1, now).Run());
  return conn->Changes();
}

Status SqliteApiKeys::Create(const ApiKey& k) {
  auto conn = pool_.Acquire();
  return conn
      ->Prepare("INSERT INTO api_keys(id, user_id, name, prefix, key_hash, created_at, last_used_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)")
      .Bind(1, k.id)
      .Bind(2, k.user_id)
      .Bind(3, k.name)
      .Bind(4, k.prefix)
      .Bind(5, k.key_hash)
      .Bind(6, k.created_at)
      .Bind(7, k.last_used_at)
      .Run();
}

Result<Page<ApiKey>> SqliteApiKeys::List(const std::string& user_id, const PageRequest& page) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare(
      "SELECT id, user_id, name, prefix, key_hash, created_at, last_used_at FROM api_keys "
      "WHERE user_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3");
  // Ids are ASCII, so "~" sorts after every id: no cursor means "from the newest".
  q.Bind(1, user_id).Bind(2, page.after_id.value_or("~")).Bind(3, int64_t{page.limit} + 1);
  return ReadPage<ApiKey>(q, page.limit, ReadApiKey);
}

Result<ApiKey> SqliteApiKeys::FindByHash(const std::string& key_hash) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare(
      "SELECT id, user_id, name, prefix, key_hash, created_at, last_used_at FROM api_keys WHERE key_hash = ?");
  q.Bind(1, key_hash);
  return One<ApiKey>(q, ReadApiKey, "no such API key");
}

Status SqliteApiKeys::Delete(const std::string& user_id, const std::string& id) {
  auto conn = pool_.Acquire();
  BD_RETURN_IF_ERROR(conn->Prepare("DELETE FROM api_keys WHERE id = ? AND user_id = ?").Bind(1, id).Bind(2, user_id).Run());
  return conn->Changes() == 0 ? Status::NotFound("no such API key") : Status::Ok();
}

Status SqliteApiKeys::TouchLastUsed(const std::string& id, int64_t now) {
  auto conn = pool_.Acquire();
  return conn->Prepare("UPDATE api_keys SET last_used_at = ? WHERE id = ?").Bind(1, now).Bind(2, id).Run();
}

}  // namespace betterdev::store::sqlite
