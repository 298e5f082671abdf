// Documents and their chunks on SQLite.

#include "core/random.hpp"
#include "store/sqlite/repositories.hpp"

namespace betterdev::store::sqlite {
namespace {


#define DOCUMENT_COLUMNS                                                                                     \
  "user_id, id, filename, content_type, size_bytes, sha256, status, stage, progress, page, pages, chunk_count, " \
  "text_chars, attempts, error, job_id, created_at, updated_at, finished_at, embedding_tokens, embedding_cost_usd, note"

Document ReadDocument(const Statement& q) {
  Document d;
  d.user_id = q.Text(0);
  d.id = q.Text(1);
  d.filename = q.Text(2);
  d.content_type = q.Text(3);
  d.size_bytes = static_cast<uint64_t>(q.Int(4));
  d.sha256 = q.Text(5);
  d.status = ParseDocumentStatus(q.Text(6)).value_or(DocumentStatus::kFailed);
  d.stage = q.Text(7);
  d.progress = static_cast<int>(q.Int(8));
  d.page = static_cast<int>(q.Int(9));
  d.pages = static_cast<int>(q.Int(10));
  d.chunk_count = q.Int(11);
  d.text_chars = q.Int(12);
  d.attempts = static_cast<int>(q.Int(13));
  d.error = q.Text(14);
  d.job_id = q.Text(15);
  d.created_at = q.Int(16);
  d.updated_at = q.Int(17);
  d.finished_at = q.OptionalInt(18);
  d.embedding_tokens = q.Int(19);
  d.embedding_cost_usd = q.Double(20);
  d.note = q.Text(21);
  return d;
}

Result<Document> One(Statement& q) {
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no such document");
  return ReadDocument(q);
}

Status Changed(Connection& conn) {
  return conn.Changes() == 0 ? Status::NotFound("the document is gone or belongs to another job") : Status::Ok();
}


}  // namespace

Status SqliteDocuments::Create(const Document& d) {
  auto conn = pool_.Acquire();
  return conn
      ->Prepare("INSERT INTO documents(user_id, id, filename, content_type, size_bytes, sha256, status, job_id, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(1, d.user_id)
      .Bind(2, d.id)
      .Bind(3, d.filename)
      .Bind(4, d.content_type)
      .Bind(5, static_cast<int64_t>(d.size_bytes))
      .Bind(6, d.sha256)
      .Bind(7, DocumentStatusName(d.status))
      .Bind(8, d.job_id)
      .Bind(9, d.created_at)
      .Bind(10, d.updated_at)
      .Run();
}

Result<Document> SqliteDocuments::Get(const std::string& user_id, const std::string& id) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare("SELECT " DOCUMENT_COLUMNS " FROM documents WHERE user_id = ? AND id = ?");
  q.Bind(1, user_id).Bind(2, id);
  return One(q);
}

Result<Document> SqliteDocuments::GetById(const std::string& id) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare("SELECT " DOCUMENT_COLUMNS " FROM documents WHERE id = ?");
  q.Bind(1, id);
  return One(q);
}

Result<Document> SqliteDocuments::FindBySha(const std::string& user_id, const std::string& sha256) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare("SELECT " DOCUMENT_COLUMNS " FROM documents WHERE user_id = ? AND sha256 = ?");
  q.Bind(1, user_id).Bind(2, sha256);
  return One(q);
}

Result<Page<Document>> SqliteDocuments::List(const std::string& user_id, const PageRequest& page,
                                             std::optional<DocumentStatus> status) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare("SELECT " DOCUMENT_COLUMNS
                              " FROM documents WHERE user_id = ?1 AND id < ?2 AND (?3 IS NULL OR status = ?3) "
                              "ORDER BY id DESC LIMIT ?4");
  q.Bind(1, user_id).Bind(2, page.after_id.value_or(std::string(kAfterAll)));
  if (status) q.Bind(3, DocumentStatusName(*status));
  q.Bind(4, int64_t{page.limit} + 1);
  return ReadPage<Document>(q, page.limit, ReadDocument);
}

Status SqliteDocuments::Requeue(const std::string& user_id, const std::string& id, const std::string& job_id,
                                bool mirror_delete, int64_t now) {
  auto conn = pool_.Acquire();
  Transaction tx(*conn);
  BD_RETURN_IF_ERROR(tx.begin_status());
  if (mirror_delete) {
    BD_RETURN_IF_ERROR(conn->Prepare("INSERT OR IGNORE INTO mirror_deletes(user_id, document_id, job_id, since_ms) "
                                     "SELECT user_id, id, job_id, ?1 FROM documents WHERE user_id = ?2 AND id = ?3 "
                                     "AND job_id <> '' AND job_id <> ?4")
                           .Bind(1, now)
                           .Bind(2, user_id)
                           .Bind(3, id)
                           .Bind(4, job_id)
                           .Run());
  }
  BD_RETURN_IF_ERROR(conn->Prepare("UPDATE documents SET status = 'queued', stage = '', progress = 0, page = 0, "
                                   "attempts = 0, error = '', note = '', job_id = ?1, updated_at = ?2, finished_at = NULL "
                                   "WHERE user_id = ?3 AND id = ?4")
                         .Bind(1, job_id)
                         .Bind(2, now)
                         .Bind(3, user_id)
                         .Bind(4, id)
                         .Run());
  if (conn->Changes() == 0) return Status::NotFound("no such document");
  return tx.Commit();
}

Status SqliteDocuments::MarkProcessing(const std::string& id, const std::string& job_id, int attempt, int64_t now) {
  auto conn = pool_.Acquire();
  BD_RETURN_IF_ERROR(conn->Prepare("UPDATE documents SET status = 'processing', stage = 'extracting', progress = 0, "
                                   "page = 0, attempts = ?1, updated_at = ?2 WHERE id = ?3 AND job_id = ?4 AND "
                                   "(status = 'queued' OR (status = 'processing' AND attempts < ?1))")
                         .Bind(1, int64_t{attempt})
                         .Bind(2, now)
                         .Bind(3, id)
                         .Bind(4, job_id)
                         .Run());
  return Changed(*conn);
}

Status SqliteDocuments::UpdateProgress(const std::string& id, const std::string& job_id, int attempt,
                                       const DocumentProgress& p, int64_t now) {
  auto conn = pool_.Acquire();
  BD_RETURN_IF_ERROR(conn->Prepare("UPDATE documents SET stage = ?1, progress = ?2, page = ?3, pages = ?4, "
                                   "updated_at = ?5 WHERE id = ?6 AND job_id = ?7 AND status = 'processing' "
                                   "AND attempts = ?8")
                         .Bind(1, p.stage)
                         .Bind(2, int64_t{p.progress})
                         .Bind(3, int64_t{p.page})
                         .Bind(4, int64_t{p.pages})
                         .Bind(5, now)
                         .Bind(6, id)
                         .Bind(7, job_id)
                         .Bind(8, int64_t{attempt})
                         .Run());
  return Changed(*conn);
}

Status SqliteDocuments::MarkAttemptFailed(const std::string& id, const std::string& job_id, int attempt,
                                          const std::string& reason, bool final, int64_t now) {
  auto conn = pool_.Acquire();
  Statement u = conn->Prepare(
      "UPDATE documents SET status = ?1, stage = '', error = ?2, updated_at = ?3, "
      "finished_at = CASE WHEN ?1 = 'failed' THEN ?3 ELSE NULL END WHERE id = ?4 AND job_id = ?5 AND "
      "status IN ('queued', 'processing') AND attempts <= ?6");  // no later attempt started
  BD_RETURN_IF_ERROR(u.Bind(1, final ? "failed" : "queued")
                         .Bind(2, reason)
                         .Bind(3, now)
                         .Bind(4, id)
                         .Bind(5, job_id)
                         .Bind(6, int64_t{attempt})
                         .Run());
  return Changed(*conn);
}

Status SqliteDocuments::CompleteWithChunks(const std::string& id, const std::string& job_id, int attempt, int pages,
                                           int64_t text_chars, const std::vector<StoredChunk>& chunks,
                                           const VectorModel& model, int64_t now) {
  auto conn = pool_.Acquire();
  Transaction tx(*conn);
  BD_RETURN_IF_ERROR(tx.begin_status());
  BD_RETURN_IF_ERROR(conn->Prepare("UPDATE documents SET status = 'ready', stage = '', progress = 100, page = ?1, "
                                   "pages = ?1, chunk_count = ?2, text_chars = ?3, error = '', updated_at = ?4, "
                                   "finished_at = ?4 WHERE id = ?5 AND job_id = ?6 AND status IN ('queued', 'processing') "
                                   "AND attempts <= ?7")
                         .Bind(1, int64_t{pages})
                         .Bind(2, static_cast<int64_t>(chunks.size()))
                         .Bind(3, text_chars)
                         .Bind(4, now)
                         .Bind(5, id)
                         .Bind(6, job_id)
                         .Bind(7, int64_t{attempt})
                         .Run());
  BD_RETURN_IF_ERROR(Changed(*conn));
  // Replacing, not appending, makes a job that runs twice leave exactly one set of chunks.
  BD_RETURN_IF_ERROR(conn->Prepare("DELETE FROM chunks WHERE document_id = ?").Bind(1, id).Run());
  for (const StoredChunk& c : chunks) {
    BD_RETURN_IF_ERROR(conn->Prepare("INSERT INTO chunks(document_id, ordinal, page_start, page_end, char_start, "
                                     "char_end, text, context, section, user_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                                     "(SELECT user_id FROM documents WHERE id = ?1))")
                           .Bind(1, id)
                           .Bind(2, int64_t{c.ordinal})
                           .Bind(3, int64_t{c.page_start})
                           .Bind(4, int64_t{c.page_end})
                           .Bind(5, c.char_start)
                           .Bind(6, c.char_end)
                           .Bind(7, c.text)
                           .Bind(8, c.context)
                           .Bind(9, c.section)
                           .Run());
    if (c.vector.empty()) continue;
    BD_RETURN_IF_ERROR(
        conn->Prepare("INSERT INTO chunk_vectors(chunk_id, model, dimension, vector) VALUES (last_insert_rowid(), ?, ?, ?)")
            .Bind(1, model.id)
            .Bind(2, static_cast<int64_t>(c.vector.size()))
            .BindBlob(3, c.vector.data(), c.vector.size() * sizeof(float))
            .Run());
  }
  return tx.Commit();
}

Status SqliteDocuments::AddEmbeddingUsage(const std::string& id, const std::string& job_id, int64_t tokens,
                                          double cost_usd) {
  auto conn = pool_.Acquire();
  return conn->Prepare("UPDATE documents SET embedding_tokens = embedding_tokens + ?1, "
                       "embedding_cost_usd = embedding_cost_usd + ?2 WHERE id = ?3 AND (?4 = '' OR job_id = ?4)")
      .Bind(1, tokens)
      .BindDouble(2, cost_usd)
      .Bind(3, id)
      .Bind(4, job_id)
      .Run();
}

Result<Document> SqliteDocuments::Delete(const std::string& user_id, const std::string& id, bool mirror_delete,
                                         int64_t now_ms) {
  auto conn = pool_.Acquire();
  Transaction tx(*conn);
  BD_RETURN_IF_ERROR(tx.begin_status());
  Statement q = conn->Prepare("SELECT " DOCUMENT_COLUMNS " FROM documents WHERE user_id = ? AND id = ?");
  q.Bind(1, user_id).Bind(2, id);
  Result<Document> doc = One(q);
  if (!doc.ok()) return doc.status();
  BD_RETURN_IF_ERROR(conn->Prepare("DELETE FROM chunks WHERE document_id = ?").Bind(1, id).Run());
  BD_RETURN_IF_ERROR(conn->Prepare("DELETE FROM documents WHERE user_id = ? AND id = ?").Bind(1, user_id).Bind(2, id).Run());
  BD_RETURN_IF_ERROR(conn->Prepare("INSERT OR IGNORE INTO blob_garbage(sha256, since_ms) SELECT ?1, ?2"
                                   " WHERE NOT EXISTS (SELECT 1 FROM documents WHERE sha256 = ?1)")
                         .Bind(1, doc->sha256)
                         .Bind(2, doc->updated_at)
                         .Run());
  if (mirror_delete) {
    BD_RETURN_IF_ERROR(conn->Prepare("INSERT OR IGNORE INTO mirror_deletes(user_id, document_id, job_id, since_ms) "
                                     "VALUES (?, ?, '', ?)")
                           .Bind(1, user_id)
                           .Bind(2, id)
                           .Bind(3, now_ms)
                           .Run());
  }
  // The user's conversations stop naming it: one range scan over their clustered rows.
  BD_RETURN_IF_ERROR(conn->Prepare("UPDATE conversations SET document_ids = trim(replace(',' || document_ids || ',', "
                                   "',' || ?2 || ',', ','), ',') WHERE user_id = ?1 AND "
                                   "instr(',' || document_ids || ',', ',' || ?2 || ',') > 0")
                         .Bind(1, user_id)
                         .Bind(2, id)
                         .Run());
  BD_RETURN_IF_ERROR(tx.Commit());
  return doc;
}

Result<std::string> SqliteDocuments::PinBlob(const std::string& sha256, int64_t now_ms, int64_t until_ms) {
  char random[16];
  SecureRandomBytes(random, sizeof random);
  std::string pin_id = HexEncode(std::string_view(random, sizeof random));
  auto conn = pool_.Acquire();
  Transaction tx(*conn);
  BD_RETURN_IF_ERROR(tx.begin_status());
  // Pins live for one upload's commit: the table stays as small as the uploads in flight.
  BD_RETURN_IF_ERROR(conn->Prepare("DELETE FROM blob_pins WHERE until_ms < ?").Bind(1, now_ms).Run());
  BD_RETURN_IF_ERROR(conn->Prepare("INSERT INTO blob_pins(id, sha256, until_ms) VALUES (?, ?, ?)")
                         .Bind(1, pin_id)
                         .Bind(2, sha256)
                         .Bind(3, until_ms)
                         .Run());
  BD_RETURN_IF_ERROR(tx.Commit());
  return pin_id;
}

Status SqliteDocuments::UnpinBlob(const std::string& pin_id) {
  auto conn = pool_.Acquire();
  return conn->Prepare("DELETE FROM blob_pins WHERE id = ?").Bind(1, pin_id).Run();
}

Result<bool> SqliteDocuments::CollectBlob(const std::string& sha256, int64_t now_ms,
                                          const std::function<Status()>& remove) {
  auto conn = pool_.Acquire();
  Transaction tx(*conn);  // BEGIN IMMEDIATE: no pin or document can be written until it ends
  BD_RETURN_IF_ERROR(tx.begin_status());
  Statement q = conn->Prepare(
      "SELECT EXISTS (SELECT 1 FROM blob_garbage WHERE sha256 = ?1),"
      " EXISTS (SELECT 1 FROM documents WHERE sha256 = ?1),"
      " EXISTS (SELECT 1 FROM blob_pins WHERE sha256 = ?1 AND until_ms >= ?2)");
  q.Bind(1, sha256).Bind(2, now_ms);
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  const bool garbage = q.Int(0) != 0, named = q.Int(1) != 0, pinned = q.Int(2) != 0;
  BD_RETURN_IF_ERROR(q.Run());
  if (!garbage) return false;
  if (pinned) return false;  // an upload is committing it: garbage until its pin ends, then judged again
  if (!named) BD_RETURN_IF_ERROR(remove());
  BD_RETURN_IF_ERROR(conn->Prepare("DELETE FROM blob_garbage WHERE sha256 = ?").Bind(1, sha256).Run());
  BD_RETURN_IF_ERROR(tx.Commit());
  return !named;
}

Result<std::vector<std::string>> SqliteDocuments::BlobGarbage(int limit) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare("SELECT sha256 FROM blob_garbage ORDER BY since_ms LIMIT ?");
  q.Bind(1, int64_t{limit});
  std::vector<std::string> out;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(q.Text(0));
  }
}

Status SqliteDocuments::SetNote(const std::string& id, const std::string& job_id, const std::string& note) {
  auto conn = pool_.Acquire();
  BD_RETURN_IF_ERROR(
      conn->Prepare("UPDATE documents SET note = ? WHERE id = ? AND job_id = ?").Bind(1, note).Bind(2, id).Bind(3, job_id).Run());
  return Changed(*conn);
}

Result<std::vector<Document>> SqliteDocuments::ListQueuedBefore(int64_t updated_before, int limit) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare("SELECT " DOCUMENT_COLUMNS " FROM documents WHERE status = 'queued' AND updated_at < ? "
                              "ORDER BY updated_at LIMIT ?");
  q.Bind(1, updated_before).Bind(2, int64_t{limit});
  std::vector<Document> out;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(ReadDocument(q));
  }
}

Result<StoredChunk> SqliteDocuments::GetChunk(const std::string& user_id, const std::string& document_id,
                                              int ordinal) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare(
      "SELECT c.ordinal, c.page_start, c.page_end, c.char_start, c.char_end, c.text, c.context, c.id, c.section "
      "FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.user_id = ?1 AND d.id = ?2 AND c.ordinal = ?3");
  q.Bind(1, user_id).Bind(2, document_id).Bind(3, int64_t{ordinal});
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status::NotFound("no such chunk");
  StoredChunk c{document_id, static_cast<int>(q.Int(0)), static_cast<int>(q.Int(1)), static_cast<int>(q.Int(2)),
                q.Int(3), q.Int(4), q.Text(5), q.Text(6), q.Int(7)};
  c.section = q.Text(8);
  return c;
}

Result<Page<StoredChunk>> SqliteDocuments::ListChunks(const std::string& user_id, const std::string& document_id,
                                                      const PageRequest& page) {
  auto conn = pool_.Acquire();
  {
    Statement owned = conn->Prepare("SELECT 1 FROM documents WHERE user_id = ? AND id = ?");
    owned.Bind(1, user_id).Bind(2, document_id);
    Result<bool> row = owned.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no such document");
  }
  Statement q = conn->Prepare(
      "SELECT ordinal, page_start, page_end, char_start, char_end, text, context, id, section FROM chunks "
      "WHERE document_id = ?1 AND ordinal > ?2 ORDER BY ordinal LIMIT ?3");
  q.Bind(1, document_id).Bind(2, OrdinalAfter(page.after_id)).Bind(3, int64_t{page.limit} + 1);
  return ReadPage<StoredChunk>(q, page.limit, [&document_id](const Statement& r) {
    StoredChunk c{document_id, static_cast<int>(r.Int(0)), static_cast<int>(r.Int(1)),
                  static_cast<int>(r.Int(2)), r.Int(3), r.Int(4), r.Text(5), r.Text(6), r.Int(7)};
    c.section = r.Text(8);
    return c;
  });
}

}  // namespace betterdev::store::sqlite
