// Conversations and messages on SQLite.
#include "store/sqlite/repositories.hpp"

namespace betterdev::store::sqlite {
namespace {


Status CheckOwned(Connection& conn, const std::string& user_id, const std::string& conversation_id) {
  Statement q = conn.Prepare("SELECT 1 FROM conversations WHERE user_id = ? AND id = ?");
  q.Bind(1, user_id).Bind(2, conversation_id);
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  return *row ? Status::Ok() : Status::NotFound("no such conversation");
}

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) {
    if (!out.empty()) out.push_back(',');
    out += id;
  }
  return out;
}

std::vector<std::string> SplitIds(std::string_view joined) {
  std::vector<std::string> out;
  while (!joined.empty()) {
    size_t comma = joined.find(',');
    out.emplace_back(joined.substr(0, comma));
    joined = comma == std::string_view::npos ? std::string_view{} : joined.substr(comma + 1);
  }
  return out;
}

// Columns: user_id, id, title, document_ids, created_at, updated_at.
Conversation ReadConversation(const Statement& q) {
  return Conversation{q.Text(1), q.Text(0), q.Text(2), SplitIds(q.Text(3)), q.Int(4), q.Int(5)};
}

Result<Conversation> GetWith(Connection& conn, const std::string& user_id, const std::string& id) {
  Statement q = conn.Prepare(
      "SELECT user_id, id, title, document_ids, created_at, updated_at FROM conversations "
      "WHERE user_id = ? AND id = ?");
  q.Bind(1, user_id).Bind(2, id);
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no such conversation");
  return ReadConversation(q);
}

}  // namespace

Status SqliteConversations::Create(const Conversation& c) {
  auto conn = pool_.Acquire();
  return conn
      ->Prepare("INSERT INTO conversations(user_id, id, title, document_ids, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)")
      .Bind(1, c.user_id)
      .Bind(2, c.id)
      .Bind(3, c.title)
      .Bind(4, JoinIds(c.document_ids))
      .Bind(5, c.created_at)
      .Bind(6, c.updated_at)
      .Run();
}

Result<Conversation> SqliteConversations::Get(const std::string& user_id, const std::string& id) {
  auto conn = pool_.Acquire();
  return GetWith(*conn, user_id, id);
}

Result<Page<Conversation>> SqliteConversations::List(const std::string& user_id, const PageRequest& page) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare(
      "SELECT user_id, id, title, document_ids, created_at, updated_at FROM conversations "
      "WHERE user_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3");
  q.Bind(1, user_id).Bind(2, page.after_id.value_or(std::string(kAfterAll))).Bind(3, int64_t{page.limit} + 1);
  return ReadPage<Conversation>(q, page.limit, ReadConversation);
}

Result<Conversation> SqliteConversations::Update(const std::string& user_id, const std::string& id,
                                                 const ConversationPatch& patch, int64_t now) {
  auto conn = pool_.Acquire();
  Transaction tx(*conn);
  BD_RETURN_IF_ERROR(tx.begin_status());
  Statement u = conn->Prepare(
      "UPDATE conversations SET title = coalesce(?1, title), document_ids = coalesce(?2, document_ids), "
      "updated_at = ?3 WHERE user_id = ?4 AND id = ?5");
  if (patch.title) u.Bind(1, *patch.title);
  if (patch.document_ids) u.Bind(2, JoinIds(*patch.document_ids));
  BD_RETURN_IF_ERROR(u.Bind(3, now).Bind(4, user_id).Bind(5, id).Run());
  if (conn->Changes() == 0) return Status::NotFound("no such conversation");
  auto c = GetWith(*conn, user_id, id);
  if (!c.ok()) return c.status();
  BD_RETURN_IF_ERROR(tx.Commit());
  return c;
}

Status SqliteConversations::Delete(const std::string& user_id, const std::string& id) {
  auto conn = pool_.Acquire();
  BD_RETURN_IF_ERROR(
      conn->Prepare("DELETE FROM conversations WHERE user_id = ? AND id = ?").Bind(1, user_id).Bind(2, id).Run());
  return conn->Changes() == 0 ? Status::NotFound("no such conversation") : Status::Ok();
}

Status SqliteMessages::Append(const std::string& user_id, const Message& m) {
  auto conn = pool_.Acquire();
  Transaction tx(*conn);
  BD_RETURN_IF_ERROR(tx.begin_status());
  BD_RETURN_IF_ERROR(CheckOwned(*conn, user_id, m.conversation_id));
  BD_RETURN_IF_ERROR(
      conn->Prepare("INSERT INTO messages(id, conversation_id, role, content, created_at) VALUES (?, ?, ?, ?, ?)")
          .Bind(1, m.id)
          .Bind(2, m.conversation_id)
          .Bind(3, MessageRoleName(m.role))
          .Bind(4, m.content)
          .Bind(5, m.created_at)
          .Run());
  return tx.Commit();
}

Result<Page<Message>> SqliteMessages::List(const std::string& user_id, const std::string& conversation_id,
                                           const PageRequest& page) {
  auto conn = pool_.Acquire();
  BD_RETURN_IF_ERROR(CheckOwned(*conn, user_id, conversation_id));
  Statement q = conn->Prepare(
      "SELECT id, conversation_id, role, content, created_at FROM messages "
      "WHERE conversation_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
  q.Bind(1, conversation_id).Bind(2, page.after_id.value_or("")).Bind(3, int64_t{page.limit} + 1);
  return ReadPage<Message>(q, page.limit, [](const Statement& r) {
    return Message{r.Text(0), r.Text(1), ParseMessageRole(r.Text(2)).value_or(MessageRole::kUser), r.Text(3), r.Int(4)};
  });
}

}  // namespace betterdev::store::sqlite
