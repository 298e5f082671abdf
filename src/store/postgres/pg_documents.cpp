// Documents, their chunks and the blob lifetimes on PostgreSQL.
//
// Where SQLite's single writer made a decision safe, here a lock does: CollectBlob, PinBlob and
// Delete take a transaction-scoped advisory lock on the digest (so a pin cannot slip between a
// collection's decision and its removal), and CompleteWithChunks draws its chunk keys with a
// ticket and writes its chunks only once every earlier ticket's writer has committed (so keys
// become visible in order: a reader that saw key K has seen every key below it, and "keys
// above the last one I saw" never skips one), its vectors before that wait.

#include "core/random.hpp"
#include "store/postgres/pg_repositories.hpp"

namespace betterdev::store::pg {
namespace {

#define DOCUMENT_COLUMNS                                                                                     \
  "user_id, id, filename, content_type, size_bytes, sha256, status, stage, progress, page, pages, chunk_count, " \
  "text_chars, attempts, error, job_id, created_at, updated_at, finished_at, embedding_tokens, embedding_cost_usd, note"

// Advisory lock classes (two-key form: class, key) of this schema: 1650746 digests, 1650747
// drawing chunk keys, 1650748 building an HNSW index, 1650749 chunk key tickets.
constexpr const char* kLockDigest = "SELECT pg_advisory_xact_lock(1650746, hashtext($1))";

Document ReadDocument(const Rows& r, int i) {
  Document d;
  d.user_id = r.Text(i, 0);
  d.id = r.Text(i, 1);
  d.filename = r.Text(i, 2);
  d.content_type = r.Text(i, 3);
  d.size_bytes = static_cast<uint64_t>(r.Int(i, 4));
  d.sha256 = r.Text(i, 5);
  d.status = ParseDocumentStatus(r.Text(i, 6)).value_or(DocumentStatus::kFailed);
  d.stage = r.Text(i, 7);
  d.progress = static_cast<int>(r.Int(i, 8));
  d.page = static_cast<int>(r.Int(i, 9));
  d.pages = static_cast<int>(r.Int(i, 10));
  d.chunk_count = r.Int(i, 11);
  d.text_chars = r.Int(i, 12);
  d.attempts = static_cast<int>(r.Int(i, 13));
  d.error = r.Text(i, 14);
  d.job_id = r.Text(i, 15);
  d.created_at = r.Int(i, 16);
  d.updated_at = r.Int(i, 17);
  d.finished_at = r.OptionalInt(i, 18);
  d.embedding_tokens = r.Int(i, 19);
  d.embedding_cost_usd = r.Double(i, 20);
  d.note = r.Text(i, 21);
  return d;
}

Result<Document> OneDocument(Result<Rows> rows) {
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::NotFound("no such document");
  return ReadDocument(*rows, 0);
}

Status Changed(const Rows& r) {
  return r.affected() == 0 ? Status::NotFound("the document is gone or belongs to another job") : Status::Ok();
}

std::vector<Document> ReadDocuments(const Rows& r) {
  std::vector<Document> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(ReadDocument(r, i));
  return out;
}


// Columns: ordinal, page_start, page_end, char_start, char_end, text, context, id, section.
StoredChunk ReadChunk(const std::string& document_id, const Rows& r, int i) {
  StoredChunk c{document_id, static_cast<int>(r.Int(i, 0)), static_cast<int>(r.Int(i, 1)),
                static_cast<int>(r.Int(i, 2)), r.Int(i, 3), r.Int(i, 4), r.Text(i, 5), r.Text(i, 6), r.Int(i, 7)};
  c.section = r.Text(i, 8);
  return c;
}

// Ahead of writing chunks: `n` keys (in order) and the ticket that orders this transaction
// among writers (migration 6's draw_chunk_keys).
Result<std::vector<int64_t>> DrawChunkKeys(Connection& c, size_t n) {
  Result<Rows> drawn = c.Exec("SELECT k FROM unnest(draw_chunk_keys($1)) WITH ORDINALITY AS t(k, i) ORDER BY i",
                              Params().Add(static_cast<int64_t>(n)));
  if (!drawn.ok()) {
    c.Discard();  // the function gives its session lock back on errors; closing makes sure
    return drawn.status();
  }
  Rows& r = *drawn;
  std::vector<int64_t> keys;
  for (int i = 0; i < r.size(); ++i) keys.push_back(r.Int(i, 0));
  if (keys.size() < n) return Status::Internal("drew fewer chunk keys than asked");
  return keys;
}

// Until every writer that drew keys before this one (a ticket below ours: the first key, as
// draw_chunk_keys takes it) has committed or rolled back. Tickets are compared in a window of
// 2^30 below ours, so they may wrap past 2^31 - 1.
Status WaitForEarlierWriters(Connection& c, int64_t first_key) {
  return c.Exec("SELECT count(pg_advisory_xact_lock_shared(1650749, l.objid::bigint::integer)) FROM pg_locks l "
                "WHERE l.locktype = 'advisory' AND l.classid = 1650749 AND l.objsubid = 2 AND l.mode = 'ExclusiveLock' "
                "AND l.granted AND l.pid <> pg_backend_pid() "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND (($1::bigint % 2147483647) - l.objid::bigint + 2147483647) % 2147483647 BETWEEN 1 AND 1073741823",
                Params().Add(first_key))
      .status();
}

// Writes the vectors the chunks carry, chunks[i]'s under keys[i], before the chunks themselves
// (the reference is checked at commit): a few statements per batch.
Status InsertVectors(Connection& c, const std::string& document_id, const std::string& user_id,
                     const std::vector<StoredChunk>& chunks, const std::vector<int64_t>& keys, const VectorModel& model) {
  constexpr size_t kBatch = 256;
  size_t dimension = 0;
  for (size_t at = 0; at < chunks.size(); at += kBatch) {
    std::vector<int64_t> vector_keys;
    std::vector<std::string> vectors;
    for (size_t i = at; i < std::min(chunks.size(), at + kBatch); ++i) {
      if (chunks[i].vector.empty()) continue;
      if (dimension == 0) dimension = chunks[i].vector.size();
      if (chunks[i].vector.size() != dimension) return Status::InvalidArgument("a document's vectors differ in size");
      vector_keys.push_back(keys[i]);
      vectors.push_back(Params::VectorText(chunks[i].vector));
    }
    if (vector_keys.empty()) continue;
    BD_RETURN_IF_ERROR(c.Exec("INSERT INTO chunk_vectors(chunk_id, model, dimension, embedding, user_id, document_id) "
                              "SELECT t.k, $2, $3, t.e::vector, $4, $5 FROM unnest($1::bigint[], $6::text[]) AS t(k, e)",
                              Params()
                                  .AddArray(vector_keys)
                                  .Add(model.id)
                                  .Add(static_cast<int64_t>(dimension))
                                  .Add(user_id)
                                  .Add(document_id)
                                  .AddArray(vectors))
                           .status());
  }
  return Status::Ok();
}

// Writes a document's chunks, chunks[i] under keys[i], each with its words for full-text
// search (the context's with the document's title weighted A, as the in-process index weighs
// them) and its length in words: one statement per batch of chunks.
Status InsertChunks(Connection& c, const std::string& document_id, const std::string& user_id,
                    const std::string& filename, const std::vector<StoredChunk>& chunks,
                    const std::vector<int64_t>& keys) {
  constexpr size_t kBatch = 256;
  for (size_t at = 0; at < chunks.size(); at += kBatch) {
    std::vector<int64_t> key, ordinal, page_start, page_end, char_start, char_end;
    std::vector<std::string> text, context, section, titled;
    for (size_t i = at; i < std::min(chunks.size(), at + kBatch); ++i) {
      const StoredChunk& ch = chunks[i];
      key.push_back(keys[i]);
      ordinal.push_back(ch.ordinal);
      page_start.push_back(ch.page_start);
      page_end.push_back(ch.page_end);
      char_start.push_back(ch.char_start);
      char_end.push_back(ch.char_end);
      text.push_back(ch.text);
      context.push_back(ch.context);
      section.push_back(ch.section);
      titled.push_back(TitledContext(filename, ch.section, ch.context));
    }
    BD_RETURN_IF_ERROR(c.Exec("INSERT INTO chunks(id, document_id, user_id, ordinal, page_start, page_end, char_start, "
                              "char_end, text, context, section, words, word_count) "
                              "SELECT t.id, $1, $2, t.ordinal, t.page_start, t.page_end, t.char_start, t.char_end, t.text, "
                              "t.context, t.section, w.words, "
                              "coalesce((SELECT max(p) FROM unnest(w.words) u, unnest(u.positions) p), 0) "
                              "FROM unnest($12::bigint[], $3::int[], $4::int[], $5::int[], $6::bigint[], $7::bigint[], "
                              "$8::text[], $9::text[], $10::text[], $11::text[]) AS t(id, ordinal, page_start, page_end, "
                              "char_start, char_end, text, context, titled, section) CROSS JOIN LATERAL "
                              "(SELECT setweight(to_tsvector('english', t.titled), 'A') || to_tsvector('english', t.text) "
                              "AS words) w",
                              Params()
                                  .Add(document_id)
                                  .Add(user_id)
                                  .AddArray(ordinal)
                                  .AddArray(page_start)
                                  .AddArray(page_end)
                                  .AddArray(char_start)
                                  .AddArray(char_end)
                                  .AddArray(text)
                                  .AddArray(context)
                                  .AddArray(titled)
                                  .AddArray(section)
                                  .AddArray(key))
                           .status());
  }
  return Status::Ok();
}

class Documents final : public DocumentRepository {
 public:
  explicit Documents(Pool& pool) : pool_(pool) {}

  Status Create(const Document& d) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      return c.Exec("INSERT INTO documents(user_id, id, filename, content_type, size_bytes, sha256, status, job_id, "
                    "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    Params()
                        .Add(d.user_id)
                        .Add(d.id)
                        .Add(d.filename)
                        .Add(d.content_type)
                        .Add(static_cast<int64_t>(d.size_bytes))
                        .Add(d.sha256)
                        .Add(DocumentStatusName(d.status))
                        .Add(d.job_id)
                        .Add(d.created_at)
                        .Add(d.updated_at))
          .status();
    });
  }

  Result<Document> Get(const std::string& user_id, const std::string& id) override {
    return WithRetry(pool_, [&](Connection& c) {
      return OneDocument(c.Exec("SELECT " DOCUMENT_COLUMNS " FROM documents WHERE user_id = $1 AND id = $2",
                                Params().Add(user_id).Add(id)));
    });
  }
  Result<Document> GetById(const std::string& id) override {
    return WithRetry(pool_, [&](Connection& c) {
      return OneDocument(c.Exec("SELECT " DOCUMENT_COLUMNS " FROM documents WHERE id = $1", Params().Add(id)));
    });
  }
  Result<Document> FindBySha(const std::string& user_id, const std::string& sha256) override {
    return WithRetry(pool_, [&](Connection& c) {
      return OneDocument(c.Exec("SELECT " DOCUMENT_COLUMNS " FROM documents WHERE user_id = $1 AND sha256 = $2",
                                Params().Add(user_id).Add(sha256)));
    });
  }

  Result<Page<Document>> List(const std::string& user_id, const PageRequest& page,
                              std::optional<DocumentStatus> status) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<Page<Document>> {
      Params p;
      p.Add(user_id).Add(page.after_id.value_or("~"));
      if (status) p.Add(DocumentStatusName(*status));
      else p.AddNull();
      PG_ROWS(r, c.Exec("SELECT " DOCUMENT_COLUMNS " FROM documents WHERE user_id = $1 AND id < $2 "
                        "AND ($3::text IS NULL OR status = $3) ORDER BY id DESC LIMIT $4",
                        p.Add(int64_t{page.limit} + 1)));
      return ReadPage<Document>(r, page.limit, ReadDocument);
    });
  }

  Status Requeue(const std::string& user_id, const std::string& id, const std::string& job_id, bool mirror_delete,
                 int64_t now) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      Transaction tx(c);
      BD_RETURN_IF_ERROR(tx.begin_status());
      if (mirror_delete) {
        // The row locked first: a concurrent reprocess's job is the one this replaces.
        PG_ROWS(old, c.Exec("SELECT job_id FROM documents WHERE user_id = $1 AND id = $2 FOR UPDATE",
                            Params().Add(user_id).Add(id)));
        if (old.size() == 0) return Status::NotFound("no such document");
        if (const std::string before = old.Text(0, 0); !before.empty() && before != job_id) {
          BD_RETURN_IF_ERROR(c.Exec("INSERT INTO mirror_deletes(user_id, document_id, job_id, since_ms) "
                                    "VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, document_id, job_id) DO NOTHING",
                                    Params().Add(user_id).Add(id).Add(before).Add(now))
                                 .status());
        }
      }
      PG_ROWS(r, c.Exec("UPDATE documents SET status = 'queued', stage = '', progress = 0, page = 0, attempts = 0, "
                        "error = '', note = '', job_id = $1, updated_at = $2, finished_at = NULL "
                        "WHERE user_id = $3 AND id = $4",
                        Params().Add(job_id).Add(now).Add(user_id).Add(id)));
      if (r.affected() == 0) return Status::NotFound("no such document");
      return tx.Commit();
    });
  }

  Status MarkProcessing(const std::string& id, const std::string& job_id, int attempt, int64_t now) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      PG_ROWS(r, c.Exec("UPDATE documents SET status = 'processing', stage = 'extracting', progress = 0, page = 0, "
                        "attempts = $1, updated_at = $2 WHERE id = $3 AND job_id = $4 AND "
                        "(status = 'queued' OR (status = 'processing' AND attempts < $1))",
                        Params().Add(attempt).Add(now).Add(id).Add(job_id)));
      return Changed(r);
    });
  }

  Status UpdateProgress(const std::string& id, const std::string& job_id, int attempt, const DocumentProgress& p,
                        int64_t now) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      PG_ROWS(r, c.Exec("UPDATE documents SET stage = $1, progress = $2, page = $3, pages = $4, updated_at = $5 "
                        "WHERE id = $6 AND job_id = $7 AND status = 'processing' AND attempts = $8",
                        Params().Add(p.stage).Add(p.progress).Add(p.page).Add(p.pages).Add(now).Add(id).Add(job_id).Add(
                            attempt)));
      return Changed(r);
    });
  }

  Status MarkAttemptFailed(const std::string& id, const std::string& job_id, int attempt, const std::string& reason,
                           bool final, int64_t now) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      PG_ROWS(r, c.Exec("UPDATE documents SET status = $1::text, stage = '', error = $2, updated_at = $3::bigint, "
                        "finished_at = CASE WHEN $1::text = 'failed' THEN $3::bigint ELSE NULL END WHERE id = $4 AND job_id = $5 AND "
                        "status IN ('queued', 'processing') AND attempts <= $6",  // no later attempt started
                        Params().Add(final ? "failed" : "queued").Add(reason).Add(now).Add(id).Add(job_id).Add(attempt)));
      return Changed(r);
    });
  }

  Status CompleteWithChunks(const std::string& id, const std::string& job_id, int attempt, int pages,
                            int64_t text_chars, const std::vector<StoredChunk>& chunks, const VectorModel& model,
                            int64_t now) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      Transaction tx(c);
      BD_RETURN_IF_ERROR(tx.begin_status());
      PG_ROWS(done, c.Exec("UPDATE documents SET status = 'ready', stage = '', progress = 100, page = $1, pages = $1, "
                           "chunk_count = $2, text_chars = $3, error = '', updated_at = $4, finished_at = $4 "
                           "WHERE id = $5 AND job_id = $6 AND status IN ('queued', 'processing') AND attempts <= $7 "
                           "RETURNING user_id, filename",
                           Params()
                               .Add(pages)
                               .Add(static_cast<int64_t>(chunks.size()))
                               .Add(text_chars)
                               .Add(now)
                               .Add(id)
                               .Add(job_id)
                               .Add(attempt)));
      if (done.empty()) return Status::NotFound("the document is gone or belongs to another job");
      const std::string user_id = done.Text(0, 0);
      // Keys and a ticket first, then the vectors (HNSW insertions: writers in parallel), then,
      // once every writer that drew keys before has committed, the chunks: keys commit in
      // order. Replacing, not appending, makes a job that runs twice leave exactly one set of
      // chunks; the delete's and the insert's triggers take the user's word statistics row
      // only after the wait, so no writer waits for a ticket while holding it.
      std::vector<int64_t> keys;
      if (!chunks.empty()) {
        Result<std::vector<int64_t>> drawn = DrawChunkKeys(c, chunks.size());
        if (!drawn.ok()) return drawn.status();
        keys = std::move(*drawn);
        BD_RETURN_IF_ERROR(c.Exec("SET CONSTRAINTS chunk_vectors_chunk_id_fkey DEFERRED").status());
        BD_RETURN_IF_ERROR(InsertVectors(c, id, user_id, chunks, keys, model));
        BD_RETURN_IF_ERROR(WaitForEarlierWriters(c, keys.front()));
      }
      BD_RETURN_IF_ERROR(c.Exec("DELETE FROM chunks WHERE document_id = $1", Params().Add(id)).status());
      BD_RETURN_IF_ERROR(InsertChunks(c, id, user_id, done.Text(0, 1), chunks, keys));
      return tx.Commit();
    });
  }

  Status AddEmbeddingUsage(const std::string& id, const std::string& job_id, int64_t tokens, double cost_usd) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      return c.Exec("UPDATE documents SET embedding_tokens = embedding_tokens + $1, "
                    "embedding_cost_usd = embedding_cost_usd + $2 WHERE id = $3 AND ($4 = '' OR job_id = $4)",
                    Params().Add(tokens).Add(cost_usd).Add(id).Add(job_id))
          .status();
    });
  }

  Result<Document> Delete(const std::string& user_id, const std::string& id, bool mirror_delete,
                          int64_t now_ms) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<Document> {
      Transaction tx(c);
      BD_RETURN_IF_ERROR(tx.begin_status());
      auto doc = OneDocument(c.Exec("SELECT " DOCUMENT_COLUMNS " FROM documents WHERE user_id = $1 AND id = $2",
                                    Params().Add(user_id).Add(id)));
      if (!doc.ok()) return doc.status();
      BD_RETURN_IF_ERROR(c.Exec(kLockDigest, Params().Add(doc->sha256)).status());
      BD_RETURN_IF_ERROR(c.Exec("DELETE FROM documents WHERE user_id = $1 AND id = $2", Params().Add(user_id).Add(id)).status());
      BD_RETURN_IF_ERROR(c.Exec("INSERT INTO blob_garbage(sha256, since_ms) SELECT $1, $2 "
                                "WHERE NOT EXISTS (SELECT 1 FROM documents WHERE sha256 = $1) ON CONFLICT DO NOTHING",
                                Params().Add(doc->sha256).Add(doc->updated_at))
                             .status());
      if (mirror_delete) {
        BD_RETURN_IF_ERROR(c.Exec("INSERT INTO mirror_deletes(user_id, document_id, job_id, since_ms) VALUES ($1, $2, '', "
                                  "$3) ON CONFLICT (user_id, document_id, job_id) DO NOTHING",
                                  Params().Add(user_id).Add(id).Add(now_ms))
                               .status());
      }
      // The user's conversations stop naming it.
      BD_RETURN_IF_ERROR(c.Exec("UPDATE conversations SET document_ids = trim(both ',' from replace(',' || document_ids "
                                "|| ',', ',' || $2 || ',', ',')) WHERE user_id = $1 AND "
                                "strpos(',' || document_ids || ',', ',' || $2 || ',') > 0",
                                Params().Add(user_id).Add(id))
                             .status());
      BD_RETURN_IF_ERROR(tx.Commit());
      return doc;
    });
  }

  Result<std::string> PinBlob(const std::string& sha256, int64_t now_ms, int64_t until_ms) override {
    char random[16];
    SecureRandomBytes(random, sizeof random);
    const std::string pin_id = HexEncode(std::string_view(random, sizeof random));
    return WithRetry(pool_, [&](Connection& c) -> Result<std::string> {
      Transaction tx(c);
      BD_RETURN_IF_ERROR(tx.begin_status());
      // Waits for a collection of this digest in progress: after it, the blob is either still
      // there or gone for good, and the uploader commits it again.
      BD_RETURN_IF_ERROR(c.Exec(kLockDigest, Params().Add(sha256)).status());
      BD_RETURN_IF_ERROR(c.Exec("DELETE FROM blob_pins WHERE until_ms < $1", Params().Add(now_ms)).status());
      BD_RETURN_IF_ERROR(c.Exec("INSERT INTO blob_pins(id, sha256, until_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                                Params().Add(pin_id).Add(sha256).Add(until_ms))
                             .status());
      BD_RETURN_IF_ERROR(tx.Commit());
      return pin_id;
    });
  }

  Status UnpinBlob(const std::string& pin_id) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      return c.Exec("DELETE FROM blob_pins WHERE id = $1", Params().Add(pin_id)).status();
    });
  }

  Result<bool> CollectBlob(const std::string& sha256, int64_t now_ms, const std::function<Status()>& remove) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<bool> {
      Transaction tx(c);
      BD_RETURN_IF_ERROR(tx.begin_status());
      BD_RETURN_IF_ERROR(c.Exec(kLockDigest, Params().Add(sha256)).status());
      PG_ROWS(r, c.Exec("SELECT EXISTS (SELECT 1 FROM blob_garbage WHERE sha256 = $1), "
                        "EXISTS (SELECT 1 FROM documents WHERE sha256 = $1), "
                        "EXISTS (SELECT 1 FROM blob_pins WHERE sha256 = $1 AND until_ms >= $2)",
                        Params().Add(sha256).Add(now_ms)));
      const bool garbage = r.Bool(0, 0), named = r.Bool(0, 1), pinned = r.Bool(0, 2);
      if (!garbage || pinned) return false;  // pinned: an upload is committing it; judged again later
      if (!named) BD_RETURN_IF_ERROR(remove());
      BD_RETURN_IF_ERROR(c.Exec("DELETE FROM blob_garbage WHERE sha256 = $1", Params().Add(sha256)).status());
      BD_RETURN_IF_ERROR(tx.Commit());
      return !named;
    });
  }

  Result<std::vector<std::string>> BlobGarbage(int limit) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<std::vector<std::string>> {
      PG_ROWS(r, c.Exec("SELECT sha256 FROM blob_garbage ORDER BY since_ms LIMIT $1", Params().Add(limit)));
      std::vector<std::string> out;
      for (int i = 0; i < r.size(); ++i) out.push_back(r.Text(i, 0));
      return out;
    });
  }

  Result<std::vector<Document>> ListQueuedBefore(int64_t updated_before, int limit) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<std::vector<Document>> {
      PG_ROWS(r, c.Exec("SELECT " DOCUMENT_COLUMNS " FROM documents WHERE status = 'queued' AND updated_at < $1 "
                        "ORDER BY updated_at LIMIT $2",
                        Params().Add(updated_before).Add(limit)));
      return ReadDocuments(r);
    });
  }

  Status SetNote(const std::string& id, const std::string& job_id, const std::string& note) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      PG_ROWS(r, c.Exec("UPDATE documents SET note = $1 WHERE id = $2 AND job_id = $3", Params().Add(note).Add(id).Add(job_id)));
      return Changed(r);
    });
  }

  Result<StoredChunk> GetChunk(const std::string& user_id, const std::string& document_id, int ordinal) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<StoredChunk> {
      PG_ROWS(r, c.Exec("SELECT c.ordinal, c.page_start, c.page_end, c.char_start, c.char_end, c.text, c.context, c.id, "
                        "c.section FROM chunks c JOIN documents d ON d.id = c.document_id "
                        "WHERE d.user_id = $1 AND d.id = $2 AND c.ordinal = $3",
                        Params().Add(user_id).Add(document_id).Add(ordinal)));
      if (r.empty()) return Status::NotFound("no such chunk");
      return ReadChunk(document_id, r, 0);
    });
  }

  Result<Page<StoredChunk>> ListChunks(const std::string& user_id, const std::string& document_id,
                                       const PageRequest& page) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<Page<StoredChunk>> {
      PG_ROWS(owned, c.Exec("SELECT 1 FROM documents WHERE user_id = $1 AND id = $2", Params().Add(user_id).Add(document_id)));
      if (owned.empty()) return Status::NotFound("no such document");
      PG_ROWS(r, c.Exec("SELECT ordinal, page_start, page_end, char_start, char_end, text, context, id, section FROM chunks "
                        "WHERE document_id = $1 AND ordinal > $2 ORDER BY ordinal LIMIT $3",
                        Params().Add(document_id).Add(OrdinalAfter(page.after_id)).Add(int64_t{page.limit} + 1)));
      return ReadPage<StoredChunk>(r, page.limit,
                                   [&document_id](const Rows& rows, int i) { return ReadChunk(document_id, rows, i); });
    });
  }

 private:
  Pool& pool_;
};

}  // namespace

std::unique_ptr<DocumentRepository> NewDocuments(Pool& pool) { return std::make_unique<Documents>(pool); }

}  // namespace betterdev::store::pg
