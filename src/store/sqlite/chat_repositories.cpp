// Conversations and messages on SQLite.
#include <algorithm>

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


// Columns: user_id, id, title, document_ids, created_at, updated_at, prompt_tokens,
// completion_tokens, cost_usd.
Conversation ReadConversation(const Statement& q) {
  return Conversation{q.Text(1), q.Text(0), q.Text(2), SplitIds(q.Text(3)), q.Int(4), q.Int(5),
                      Usage{q.Int(6), q.Int(7), q.Double(8)}};
}

Result<Conversation> GetWith(Connection& conn, const std::string& user_id, const std::string& id) {
  Statement q = conn.Prepare(
      "SELECT user_id, id, title, document_ids, created_at, updated_at, prompt_tokens, completion_tokens, cost_usd "
      "FROM conversations "
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
      "SELECT user_id, id, title, document_ids, created_at, updated_at, prompt_tokens, completion_tokens, cost_usd "
      "FROM conversations "
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
      conn->Prepare("INSERT INTO messages(id, conversation_id, role, content, created_at, status, model, "
                    "invalid_citations, prompt_tokens, completion_tokens, cost_usd, error, retrieval_ms, "
                    "first_token_ms, total_ms, rewritten_query) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
          .Bind(1, m.id)
          .Bind(2, m.conversation_id)
          .Bind(3, MessageRoleName(m.role))
          .Bind(4, m.content)
          .Bind(5, m.created_at)
          .Bind(6, MessageStatusName(m.status))
          .Bind(7, m.model)
          .Bind(8, int64_t{m.invalid_citations})
          .Bind(9, m.usage.prompt_tokens)
          .Bind(10, m.usage.completion_tokens)
          .BindDouble(11, m.usage.cost_usd)
          .Bind(12, m.error)
          .Bind(13, m.retrieval_ms)
          .Bind(14, m.first_token_ms)
          .Bind(15, m.total_ms)
          .Bind(16, m.rewritten_query)
          .Run());
  for (const Citation& c : m.citations) {
    BD_RETURN_IF_ERROR(
        conn->Prepare("INSERT INTO message_citations(message_id, n, chunk_id, document_id, document_name, page_start, "
                      "page_end, char_start, char_end, section) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .Bind(1, m.id)
            .Bind(2, int64_t{c.n})
            .Bind(3, c.chunk_id)
            .Bind(4, c.document_id)
            .Bind(5, c.document_name)
            .Bind(6, int64_t{c.page_start})
            .Bind(7, int64_t{c.page_end})
            .Bind(8, c.char_start)
            .Bind(9, c.char_end)
            .Bind(10, c.section)
            .Run());
  }
  if (m.usage.prompt_tokens != 0 || m.usage.completion_tokens != 0 || m.usage.cost_usd != 0) {
    BD_RETURN_IF_ERROR(conn->Prepare("UPDATE conversations SET prompt_tokens = prompt_tokens + ?1, "
                                     "completion_tokens = completion_tokens + ?2, cost_usd = cost_usd + ?3 "
                                     "WHERE user_id = ?4 AND id = ?5")
                           .Bind(1, m.usage.prompt_tokens)
                           .Bind(2, m.usage.completion_tokens)
                           .BindDouble(3, m.usage.cost_usd)
                           .Bind(4, user_id)
                           .Bind(5, m.conversation_id)
                           .Run());
  }
  return tx.Commit();
}

namespace {

Message ReadMessage(const Statement& r) {
  Message m;
  m.id = r.Text(0);
  m.conversation_id = r.Text(1);
  m.role = ParseMessageRole(r.Text(2)).value_or(MessageRole::kUser);
  m.content = r.Text(3);
  m.created_at = r.Int(4);
  m.status = r.Text(5) == "incomplete" ? MessageStatus::kIncomplete : MessageStatus::kComplete;
  m.model = r.Text(6);
  m.invalid_citations = static_cast<int>(r.Int(7));
  m.usage = Usage{r.Int(8), r.Int(9), r.Double(10)};
  m.error = r.Text(11);
  m.retrieval_ms = r.Int(12);
  m.first_token_ms = r.Int(13);
  m.total_ms = r.Int(14);
  m.rewritten_query = r.Text(15);
  return m;
}

// Fills in the citations of the answers among `messages`.
Status LoadCitations(Connection& conn, std::vector<Message>& messages) {
  for (Message& m : messages) {
    if (m.role != MessageRole::kAssistant) continue;
    Statement q = conn.Prepare(
        "SELECT n, chunk_id, document_id, document_name, page_start, page_end, char_start, char_end, section "
        "FROM message_citations WHERE message_id = ? ORDER BY n");
    q.Bind(1, m.id);
    for (;;) {
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      m.citations.push_back(Citation{static_cast<int>(q.Int(0)), q.Text(1), q.Text(2), q.Text(3),
                                     static_cast<int>(q.Int(4)), static_cast<int>(q.Int(5)), q.Int(6), q.Int(7),
                                     q.Text(8)});
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Page<Message>> SqliteMessages::List(const std::string& user_id, const std::string& conversation_id,
                                           const PageRequest& page) {
  auto conn = pool_.Acquire();
  BD_RETURN_IF_ERROR(CheckOwned(*conn, user_id, conversation_id));
  Statement q = conn->Prepare(
      "SELECT id, conversation_id, role, content, created_at, status, model, invalid_citations, prompt_tokens, "
      "completion_tokens, cost_usd, error, retrieval_ms, first_token_ms, total_ms, rewritten_query FROM messages "
      "WHERE conversation_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
  q.Bind(1, conversation_id).Bind(2, page.after_id.value_or("")).Bind(3, int64_t{page.limit} + 1);
  auto result = ReadPage<Message>(q, page.limit, ReadMessage);
  if (!result.ok()) return result.status();
  BD_RETURN_IF_ERROR(LoadCitations(*conn, result->items));
  return result;
}

Result<std::vector<Message>> SqliteMessages::Recent(const std::string& user_id, const std::string& conversation_id,
                                                    int limit) {
  auto conn = pool_.Acquire();
  BD_RETURN_IF_ERROR(CheckOwned(*conn, user_id, conversation_id));
  Statement q = conn->Prepare(
      "SELECT id, conversation_id, role, content, created_at, status, model, invalid_citations, prompt_tokens, "
      "completion_tokens, cost_usd, error, retrieval_ms, first_token_ms, total_ms, rewritten_query FROM messages "
      "WHERE conversation_id = ?1 ORDER BY id DESC LIMIT ?2");
  q.Bind(1, conversation_id).Bind(2, int64_t{limit});
  std::vector<Message> out;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back(ReadMessage(q));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace betterdev::store::sqlite
