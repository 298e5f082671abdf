// Conversations and messages on SQLite.
#include <unordered_map>

#include "store/sqlite/repositories.hpp"

namespace betterdev::store::sqlite {
namespace {

// Ids are ASCII: "~" sorts after every id and "" before, so a missing cursor means "from the start".
constexpr std::string_view kAfterAll = "~";

Status CheckOwned(Connection& conn, const std::string& user_id, const std::string& conversation_id) {
  Statement q = conn.Prepare("SELECT 1 FROM conversations WHERE id = ? AND user_id = ?");
  q.Bind(1, conversation_id).Bind(2, user_id);
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  return *row ? Status::Ok() : Status::NotFound("no such conversation");
}

Status ReplaceDocuments(Connection& conn, const std::string& conversation_id, const std::vector<std::string>& ids) {
  BD_RETURN_IF_ERROR(
      conn.Prepare("DELETE FROM conversation_documents WHERE conversation_id = ?").Bind(1, conversation_id).Run());
  int64_t position = 0;
  for (const std::string& doc : ids) {
    BD_RETURN_IF_ERROR(
        conn.Prepare("INSERT INTO conversation_documents(conversation_id, document_id, position) VALUES (?, ?, ?)")
            .Bind(1, conversation_id)
            .Bind(2, doc)
            .Bind(3, position++)
            .Run());
  }
  return Status::Ok();
}

Result<std::vector<std::string>> LoadDocuments(Connection& conn, const std::string& conversation_id) {
  Statement q = conn.Prepare(
      "SELECT document_id FROM conversation_documents WHERE conversation_id = ? ORDER BY position");
  q.Bind(1, conversation_id);
  std::vector<std::string> out;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(q.Text(0));
  }
}

Result<Conversation> GetWith(Connection& conn, const std::string& user_id, const std::string& id) {
  Conversation c;
  {
    Statement q = conn.Prepare(
        "SELECT id, user_id, title, created_at, updated_at FROM conversations WHERE id = ? AND user_id = ?");
    q.Bind(1, id).Bind(2, user_id);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no such conversation");
    c = Conversation{q.Text(0), q.Text(1), q.Text(2), {}, q.Int(3), q.Int(4)};
  }
  auto docs = LoadDocuments(conn, id);
  if (!docs.ok()) return docs.status();
  c.document_ids = std::move(*docs);
  return c;
}

}  // namespace

Status SqliteConversations::Create(const Conversation& c) {
  auto conn = pool_.Acquire();
  Transaction tx(*conn);
  BD_RETURN_IF_ERROR(tx.begin_status());
  BD_RETURN_IF_ERROR(
      conn->Prepare("INSERT INTO conversations(id, user_id, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
          .Bind(1, c.id)
          .Bind(2, c.user_id)
          .Bind(3, c.title)
          .Bind(4, c.created_at)
          .Bind(5, c.updated_at)
          .Run());
  BD_RETURN_IF_ERROR(ReplaceDocuments(*conn, c.id, c.document_ids));
  return tx.Commit();
}

Result<Conversation> SqliteConversations::Get(const std::string& user_id, const std::string& id) {
  auto conn = pool_.Acquire();
  return GetWith(*conn, user_id, id);
}

Result<Page<Conversation>> SqliteConversations::List(const std::string& user_id, const PageRequest& page) {
  auto conn = pool_.Acquire();
  std::string after(page.after_id.value_or(std::string(kAfterAll)));
  Page<Conversation> out;
  {
    Statement q = conn->Prepare(
        "SELECT id, user_id, title, created_at, updated_at FROM conversations "
        "WHERE user_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3");
    q.Bind(1, user_id).Bind(2, after).Bind(3, int64_t{page.limit} + 1);
    for (;;) {
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      if (static_cast<int>(out.items.size()) == page.limit) {
        out.has_more = true;
        break;
      }
      out.items.push_back(Conversation{q.Text(0), q.Text(1), q.Text(2), {}, q.Int(3), q.Int(4)});
    }
  }
  if (out.items.empty()) return out;
  // One query for the page's document lists, merged by conversation id.
  std::unordered_map<std::string, Conversation*> by_id;
  for (Conversation& c : out.items) by_id.emplace(c.id, &c);
  Statement q = conn->Prepare(
      "SELECT d.conversation_id, d.document_id FROM conversation_documents d "
      "JOIN conversations c ON c.id = d.conversation_id "
      "WHERE c.user_id = ?1 AND c.id < ?2 AND c.id >= ?3 ORDER BY d.conversation_id, d.position");
  q.Bind(1, user_id).Bind(2, after).Bind(3, out.items.back().id);
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    auto it = by_id.find(q.Text(0));
    if (it != by_id.end()) it->second->document_ids.push_back(q.Text(1));
  }
  return out;
}

Result<Conversation> SqliteConversations::Update(const std::string& user_id, const std::string& id,
                                                 const ConversationPatch& patch, int64_t now) {
  auto conn = pool_.Acquire();
  Transaction tx(*conn);
  BD_RETURN_IF_ERROR(tx.begin_status());
  BD_RETURN_IF_ERROR(CheckOwned(*conn, user_id, id));
  if (patch.title)
    BD_RETURN_IF_ERROR(
        conn->Prepare("UPDATE conversations SET title = ? WHERE id = ?").Bind(1, *patch.title).Bind(2, id).Run());
  if (patch.document_ids) BD_RETURN_IF_ERROR(ReplaceDocuments(*conn, id, *patch.document_ids));
  BD_RETURN_IF_ERROR(
      conn->Prepare("UPDATE conversations SET updated_at = ? WHERE id = ?").Bind(1, now).Bind(2, id).Run());
  auto c = GetWith(*conn, user_id, id);
  if (!c.ok()) return c.status();
  BD_RETURN_IF_ERROR(tx.Commit());
  return c;
}

Status SqliteConversations::Delete(const std::string& user_id, const std::string& id) {
  auto conn = pool_.Acquire();
  BD_RETURN_IF_ERROR(
      conn->Prepare("DELETE FROM conversations WHERE id = ? AND user_id = ?").Bind(1, id).Bind(2, user_id).Run());
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
  Page<Message> out;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (static_cast<int>(out.items.size()) == page.limit) {
      out.has_more = true;
      break;
    }
    out.items.push_back(
        Message{q.Text(0), q.Text(1), ParseMessageRole(q.Text(2)).value_or(MessageRole::kUser), q.Text(3), q.Int(4)});
  }
  return out;
}

}  // namespace betterdev::store::sqlite
