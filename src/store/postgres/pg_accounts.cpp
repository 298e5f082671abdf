// Users, access tokens, API keys, conversations and messages on PostgreSQL.
#include <algorithm>

#include "store/postgres/pg_repositories.hpp"

namespace betterdev::store::pg {
namespace {

// Ids are ASCII and compare bytewise (COLLATE "C"): "~" sorts after every id.
constexpr const char* kAfterAll = "~";

Status NotFoundIfNone(const Rows& rows, const char* what) {
  return rows.affected() == 0 ? Status::NotFound(what) : Status::Ok();
}

User ReadUser(const Rows& r, int i) { return User{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Int(i, 3)}; }

AccessToken ReadToken(const Rows& r, int i) {
  return AccessToken{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Int(i, 3), r.Int(i, 4), r.OptionalInt(i, 5)};
}

ApiKey ReadApiKey(const Rows& r, int i) {
  return ApiKey{r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3), r.Text(i, 4), r.Int(i, 5), r.OptionalInt(i, 6)};
}

template <typename T, typename Read>
Result<T> One(Result<Rows> rows, Read read, const char* what) {
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::NotFound(what);
  return read(*rows, 0);
}

class Users final : public UserRepository {
 public:
  explicit Users(Pool& pool) : pool_(pool) {}
  Status Create(const User& u) override {
    Status s = WithRetry(pool_, [&](Connection& c) -> Status {
      return c.Exec("INSERT INTO users(id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
                    Params().Add(u.id).Add(u.email).Add(u.password_hash).Add(u.created_at))
          .status();
    });
    if (s.code() == StatusCode::kConflict) return Status::Conflict("a user with this e-mail already exists");
    return s;
  }
  Result<User> FindByEmail(const std::string& email) override {
    return WithRetry(pool_, [&](Connection& c) {
      return One<User>(c.Exec("SELECT id, email, password_hash, created_at FROM users WHERE lower(email) = lower($1)",
                              Params().Add(email)),
                       ReadUser, "no such user");
    });
  }
  Result<User> FindById(const std::string& id) override {
    return WithRetry(pool_, [&](Connection& c) {
      return One<User>(c.Exec("SELECT id, email, password_hash, created_at FROM users WHERE id = $1", Params().Add(id)),
                       ReadUser, "no such user");
    });
  }

 private:
  Pool& pool_;
};

class Tokens final : public TokenRepository {
 public:
  explicit Tokens(Pool& pool) : pool_(pool) {}
  Status Create(const AccessToken& t) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      return c.Exec("INSERT INTO access_tokens(id, user_id, token_hash, created_at, expires_at, revoked_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    Params().Add(t.id).Add(t.user_id).Add(t.token_hash).Add(t.created_at).Add(t.expires_at).Add(t.revoked_at))
          .status();
    });
  }
  Result<AccessToken> FindByHash(const std::string& token_hash) override {
    return WithRetry(pool_, [&](Connection& c) {
      return One<AccessToken>(c.Exec("SELECT id, user_id, token_hash, created_at, expires_at, revoked_at "
                                     "FROM access_tokens WHERE token_hash = $1",
                                     Params().Add(token_hash)),
                              ReadToken, "no such token");
    });
  }
  Status Revoke(const std::string& user_id, const std::string& token_id, int64_t now) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      PG_ROWS(r, c.Exec("UPDATE access_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 AND user_id = $3",
                        Params().Add(now).Add(token_id).Add(user_id)));
      return NotFoundIfNone(r, "no such token");
    });
  }
  Result<int64_t> DeleteExpired(int64_t now) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<int64_t> {
      PG_ROWS(r, c.Exec("DELETE FROM access_tokens WHERE expires_at < $1", Params().Add(now)));
      return r.affected();
    });
  }

 private:
  Pool& pool_;
};

class ApiKeys final : public ApiKeyRepository {
 public:
  explicit ApiKeys(Pool& pool) : pool_(pool) {}
  Status Create(const ApiKey& k) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      return c.Exec("INSERT INTO api_keys(id, user_id, name, prefix, key_hash, created_at, last_used_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    Params().Add(k.id).Add(k.user_id).Add(k.name).Add(k.prefix).Add(k.key_hash).Add(k.created_at).Add(
                        k.last_used_at))
          .status();
    });
  }
  Result<Page<ApiKey>> List(const std::string& user_id, const PageRequest& page) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<Page<ApiKey>> {
      PG_ROWS(r, c.Exec("SELECT id, user_id, name, prefix, key_hash, created_at, last_used_at FROM api_keys "
                        "WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                        Params().Add(user_id).Add(page.after_id.value_or(kAfterAll)).Add(int64_t{page.limit} + 1)));
      return ReadPage<ApiKey>(r, page.limit, ReadApiKey);
    });
  }
  Result<ApiKey> FindByHash(const std::string& key_hash) override {
    return WithRetry(pool_, [&](Connection& c) {
      return One<ApiKey>(c.Exec("SELECT id, user_id, name, prefix, key_hash, created_at, last_used_at FROM api_keys "
                                "WHERE key_hash = $1",
                                Params().Add(key_hash)),
                         ReadApiKey, "no such API key");
    });
  }
  Status Delete(const std::string& user_id, const std::string& id) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      PG_ROWS(r, c.Exec("DELETE FROM api_keys WHERE id = $1 AND user_id = $2", Params().Add(id).Add(user_id)));
      return NotFoundIfNone(r, "no such API key");
    });
  }
  Status TouchLastUsed(const std::string& id, int64_t now) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      return c.Exec("UPDATE api_keys SET last_used_at = $1 WHERE id = $2", Params().Add(now).Add(id)).status();
    });
  }

 private:
  Pool& pool_;
};


#define CONVERSATION_COLUMNS \
  "user_id, id, title, document_ids, created_at, updated_at, prompt_tokens, completion_tokens, cost_usd"

Conversation ReadConversation(const Rows& r, int i) {
  return Conversation{r.Text(i, 1), r.Text(i, 0), r.Text(i, 2), SplitIds(r.Text(i, 3)), r.Int(i, 4), r.Int(i, 5),
                      Usage{r.Int(i, 6), r.Int(i, 7), r.Double(i, 8)}};
}

Result<Conversation> GetConversation(Connection& c, const std::string& user_id, const std::string& id) {
  return One<Conversation>(
      c.Exec("SELECT " CONVERSATION_COLUMNS " FROM conversations WHERE user_id = $1 AND id = $2", Params().Add(user_id).Add(id)),
      ReadConversation, "no such conversation");
}

class Conversations final : public ConversationRepository {
 public:
  explicit Conversations(Pool& pool) : pool_(pool) {}
  Status Create(const Conversation& v) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      return c.Exec("INSERT INTO conversations(user_id, id, title, document_ids, created_at, updated_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6)",
                    Params().Add(v.user_id).Add(v.id).Add(v.title).Add(JoinIds(v.document_ids)).Add(v.created_at).Add(
                        v.updated_at))
          .status();
    });
  }
  Result<Conversation> Get(const std::string& user_id, const std::string& id) override {
    return WithRetry(pool_, [&](Connection& c) { return GetConversation(c, user_id, id); });
  }
  Result<Page<Conversation>> List(const std::string& user_id, const PageRequest& page) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<Page<Conversation>> {
      PG_ROWS(r, c.Exec("SELECT " CONVERSATION_COLUMNS " FROM conversations WHERE user_id = $1 AND id < $2 "
                        "ORDER BY id DESC LIMIT $3",
                        Params().Add(user_id).Add(page.after_id.value_or(kAfterAll)).Add(int64_t{page.limit} + 1)));
      return ReadPage<Conversation>(r, page.limit, ReadConversation);
    });
  }
  Result<Conversation> Update(const std::string& user_id, const std::string& id, const ConversationPatch& patch,
                              int64_t now) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<Conversation> {
      Params p;
      p.Add(patch.title);
      if (patch.document_ids) p.Add(JoinIds(*patch.document_ids));
      else p.AddNull();
      PG_ROWS(r, c.Exec("UPDATE conversations SET title = coalesce($1, title), document_ids = coalesce($2, document_ids), "
                        "updated_at = $3 WHERE user_id = $4 AND id = $5 RETURNING " CONVERSATION_COLUMNS,
                        p.Add(now).Add(user_id).Add(id)));
      if (r.empty()) return Status::NotFound("no such conversation");
      return ReadConversation(r, 0);
    });
  }
  Status Delete(const std::string& user_id, const std::string& id) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      PG_ROWS(r, c.Exec("DELETE FROM conversations WHERE user_id = $1 AND id = $2", Params().Add(user_id).Add(id)));
      return NotFoundIfNone(r, "no such conversation");
    });
  }

 private:
  Pool& pool_;
};

Status CheckOwned(Connection& c, const std::string& user_id, const std::string& conversation_id) {
  PG_ROWS(r, c.Exec("SELECT 1 FROM conversations WHERE user_id = $1 AND id = $2", Params().Add(user_id).Add(conversation_id)));
  return r.empty() ? Status::NotFound("no such conversation") : Status::Ok();
}

#define MESSAGE_COLUMNS                                                                                       \
  "id, conversation_id, role, content, created_at, status, model, invalid_citations, prompt_tokens, "        \
  "completion_tokens, cost_usd, error, retrieval_ms, first_token_ms, total_ms, rewritten_query"

Message ReadMessage(const Rows& r, int i) {
  Message m;
  m.id = r.Text(i, 0);
  m.conversation_id = r.Text(i, 1);
  m.role = ParseMessageRole(r.Text(i, 2)).value_or(MessageRole::kUser);
  m.content = r.Text(i, 3);
  m.created_at = r.Int(i, 4);
  m.status = r.Text(i, 5) == "incomplete" ? MessageStatus::kIncomplete : MessageStatus::kComplete;
  m.model = r.Text(i, 6);
  m.invalid_citations = static_cast<int>(r.Int(i, 7));
  m.usage = Usage{r.Int(i, 8), r.Int(i, 9), r.Double(i, 10)};
  m.error = r.Text(i, 11);
  m.retrieval_ms = r.Int(i, 12);
  m.first_token_ms = r.Int(i, 13);
  m.total_ms = r.Int(i, 14);
  m.rewritten_query = r.Text(i, 15);
  return m;
}

Status LoadCitations(Connection& c, std::vector<Message>& messages) {
  for (Message& m : messages) {
    if (m.role != MessageRole::kAssistant) continue;
    PG_ROWS(r, c.Exec("SELECT n, chunk_id, document_id, document_name, page_start, page_end, char_start, char_end, "
                      "section FROM message_citations WHERE message_id = $1 ORDER BY n",
                      Params().Add(m.id)));
    for (int i = 0; i < r.size(); ++i)
      m.citations.push_back(Citation{static_cast<int>(r.Int(i, 0)), r.Text(i, 1), r.Text(i, 2), r.Text(i, 3),
                                     static_cast<int>(r.Int(i, 4)), static_cast<int>(r.Int(i, 5)), r.Int(i, 6),
                                     r.Int(i, 7), r.Text(i, 8)});
  }
  return Status::Ok();
}

class Messages final : public MessageRepository {
 public:
  explicit Messages(Pool& pool) : pool_(pool) {}
  Status Append(const std::string& user_id, const Message& m) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      Transaction tx(c);
      BD_RETURN_IF_ERROR(tx.begin_status());
      BD_RETURN_IF_ERROR(CheckOwned(c, user_id, m.conversation_id));
      BD_RETURN_IF_ERROR(
          c.Exec("INSERT INTO messages(" MESSAGE_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                 "$13, $14, $15, $16)",
                 Params()
                     .Add(m.id)
                     .Add(m.conversation_id)
                     .Add(MessageRoleName(m.role))
                     .Add(m.content)
                     .Add(m.created_at)
                     .Add(MessageStatusName(m.status))
                     .Add(m.model)
                     .Add(m.invalid_citations)
                     .Add(m.usage.prompt_tokens)
                     .Add(m.usage.completion_tokens)
                     .Add(m.usage.cost_usd)
                     .Add(m.error)
                     .Add(m.retrieval_ms)
                     .Add(m.first_token_ms)
                     .Add(m.total_ms)
                     .Add(m.rewritten_query))
              .status());
      for (const Citation& ci : m.citations) {
        BD_RETURN_IF_ERROR(c.Exec("INSERT INTO message_citations(message_id, n, chunk_id, document_id, document_name, "
                                  "page_start, page_end, char_start, char_end, section) "
                                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                                  Params()
                                      .Add(m.id)
                                      .Add(ci.n)
                                      .Add(ci.chunk_id)
                                      .Add(ci.document_id)
                                      .Add(ci.document_name)
                                      .Add(ci.page_start)
                                      .Add(ci.page_end)
                                      .Add(ci.char_start)
                                      .Add(ci.char_end)
                                      .Add(ci.section))
                               .status());
      }
      if (m.usage.prompt_tokens != 0 || m.usage.completion_tokens != 0 || m.usage.cost_usd != 0) {
        BD_RETURN_IF_ERROR(c.Exec("UPDATE conversations SET prompt_tokens = prompt_tokens + $1, completion_tokens = "
                                  "completion_tokens + $2, cost_usd = cost_usd + $3 WHERE user_id = $4 AND id = $5",
                                  Params()
                                      .Add(m.usage.prompt_tokens)
                                      .Add(m.usage.completion_tokens)
                                      .Add(m.usage.cost_usd)
                                      .Add(user_id)
                                      .Add(m.conversation_id))
                               .status());
      }
      return tx.Commit();
    });
  }
  Result<Page<Message>> List(const std::string& user_id, const std::string& conversation_id,
                             const PageRequest& page) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<Page<Message>> {
      BD_RETURN_IF_ERROR(CheckOwned(c, user_id, conversation_id));
      PG_ROWS(r, c.Exec("SELECT " MESSAGE_COLUMNS " FROM messages WHERE conversation_id = $1 AND id > $2 "
                        "ORDER BY id LIMIT $3",
                        Params().Add(conversation_id).Add(page.after_id.value_or("")).Add(int64_t{page.limit} + 1)));
      Page<Message> out = ReadPage<Message>(r, page.limit, ReadMessage);
      BD_RETURN_IF_ERROR(LoadCitations(c, out.items));
      return out;
    });
  }
  Result<std::vector<Message>> Recent(const std::string& user_id, const std::string& conversation_id,
                                      int limit) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<std::vector<Message>> {
      BD_RETURN_IF_ERROR(CheckOwned(c, user_id, conversation_id));
      PG_ROWS(r, c.Exec("SELECT " MESSAGE_COLUMNS " FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2",
                        Params().Add(conversation_id).Add(limit)));
      std::vector<Message> out;
      for (int i = r.size() - 1; i >= 0; --i) out.push_back(ReadMessage(r, i));
      return out;
    });
  }

 private:
  Pool& pool_;
};

}  // namespace

std::unique_ptr<UserRepository> NewUsers(Pool& pool) { return std::make_unique<Users>(pool); }
std::unique_ptr<TokenRepository> NewTokens(Pool& pool) { return std::make_unique<Tokens>(pool); }
std::unique_ptr<ApiKeyRepository> NewApiKeys(Pool& pool) { return std::make_unique<ApiKeys>(pool); }
std::unique_ptr<ConversationRepository> NewConversations(Pool& pool) { return std::make_unique<Conversations>(pool); }
std::unique_ptr<MessageRepository> NewMessages(Pool& pool) { return std::make_unique<Messages>(pool); }

}  // namespace betterdev::store::pg
