#include "store/sqlite/migrations.hpp"

namespace betterdev::store::sqlite {

const std::vector<Migration>& AllMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "users, tokens, api keys, conversations, messages", R"sql(
CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE TABLE access_tokens (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX access_tokens_user ON access_tokens(user_id);
CREATE INDEX access_tokens_expiry ON access_tokens(expires_at);
CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  prefix       TEXT NOT NULL,
  key_hash     TEXT NOT NULL UNIQUE,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX api_keys_user ON api_keys(user_id, id);
-- Clustered by owner: a user's page of conversations is one range scan. document_ids holds
-- the conversation's document ids in order, joined by ',' (ids never contain one).
CREATE TABLE conversations (
  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  id           TEXT NOT NULL UNIQUE,
  title        TEXT NOT NULL,
  document_ids TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (user_id, id)
) WITHOUT ROWID;
CREATE TABLE messages (
  id              TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  role            TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
  content         TEXT NOT NULL,
  created_at      INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);
)sql"},
      {2, "documents and chunks", R"sql(
-- Clustered by owner like conversations. One document per (user, content): uploading the same
-- bytes again finds the existing row.
CREATE TABLE documents (
  user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  id           TEXT NOT NULL UNIQUE,
  filename     TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size_bytes   INTEGER NOT NULL,
  sha256       TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
  stage        TEXT NOT NULL DEFAULT '',
  progress     INTEGER NOT NULL DEFAULT 0,
  page         INTEGER NOT NULL DEFAULT 0,
  pages        INTEGER NOT NULL DEFAULT 0,
  chunk_count  INTEGER NOT NULL DEFAULT 0,
  text_chars   INTEGER NOT NULL DEFAULT 0,
  attempts     INTEGER NOT NULL DEFAULT 0,
  error        TEXT NOT NULL DEFAULT '',
  job_id       TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  finished_at  INTEGER,
  PRIMARY KEY (user_id, id),
  UNIQUE (user_id, sha256)
) WITHOUT ROWID;
CREATE INDEX documents_sha ON documents(sha256);
-- The integer key is for the keyword index (FTS5 content rowid) that comes with search.
CREATE TABLE chunks (
  id          INTEGER PRIMARY KEY,
  document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  ordinal     INTEGER NOT NULL,
  page_start  INTEGER NOT NULL,
  page_end    INTEGER NOT NULL,
  char_start  INTEGER NOT NULL,
  char_end    INTEGER NOT NULL,
  text        TEXT NOT NULL,
  UNIQUE (document_id, ordinal)
);
)sql"},
      {3, "chunk context", R"sql(
-- The header row of a table split across chunks, kept beside the chunk's own text.
ALTER TABLE chunks ADD COLUMN context TEXT NOT NULL DEFAULT '';
)sql"},
      {4, "keyword index", R"sql(
-- BM25 keyword search over chunks: an external-content FTS5 index kept in step by triggers.
CREATE VIRTUAL TABLE chunks_fts USING fts5(text, context, content='chunks', content_rowid='id',
                                           tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, text, context) VALUES (new.id, new.text, new.context);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text, context) VALUES ('delete', old.id, old.text, old.context);
END;
INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild');
)sql"},
      {5, "chunk vectors", R"sql(
-- Chunk keys never come back (AUTOINCREMENT), so an index that loads "every vector after key
-- K" never misses one: SQLite would otherwise reuse the largest key after a delete.
DROP TRIGGER chunks_fts_insert;
DROP TRIGGER chunks_fts_delete;
CREATE TABLE chunks_v5 (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  ordinal     INTEGER NOT NULL,
  page_start  INTEGER NOT NULL,
  page_end    INTEGER NOT NULL,
  char_start  INTEGER NOT NULL,
  char_end    INTEGER NOT NULL,
  text        TEXT NOT NULL,
  context     TEXT NOT NULL DEFAULT '',
  UNIQUE (document_id, ordinal)
);
INSERT INTO chunks_v5 SELECT id, document_id, ordinal, page_start, page_end, char_start, char_end, text, context
  FROM chunks;
DROP TABLE chunks;
ALTER TABLE chunks_v5 RENAME TO chunks;
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, text, context) VALUES (new.id, new.text, new.context);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text, context) VALUES ('delete', old.id, old.text, old.context);
END;
INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild');
-- A chunk's embedding: float32 little-endian, `dimension` of them, from `model`. Vectors of
-- different models never mix: readers ask for one (model, dimension).
CREATE TABLE chunk_vectors (
  chunk_id  INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
  model     TEXT NOT NULL,
  dimension INTEGER NOT NULL,
  vector    BLOB NOT NULL
);
CREATE INDEX chunk_vectors_model ON chunk_vectors(model, dimension, chunk_id);
)sql"},
      {6, "embedding cache", R"sql(
-- Vectors a remote embedder already made, by (model, dimension, SHA-256 of the text embedded):
-- re-ingesting unchanged text costs no call.
CREATE TABLE embedding_cache (
  model       TEXT NOT NULL,
  dimension   INTEGER NOT NULL,
  text_sha256 TEXT NOT NULL,
  vector      BLOB NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (model, dimension, text_sha256)
) WITHOUT ROWID;
)sql"},
      {7, "embedding usage", R"sql(
ALTER TABLE documents ADD COLUMN embedding_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN embedding_cost_usd REAL NOT NULL DEFAULT 0;
)sql"},
      {8, "keyword index in the searching process", R"sql(
-- Keyword search moved into the searching process (index/keyword_index.hpp): FTS5 computed
-- bm25() for every row holding any query word (74 ms for one query at 100k chunks).
DROP TRIGGER chunks_fts_insert;
DROP TRIGGER chunks_fts_delete;
DROP TABLE chunks_fts;
)sql"},
      {9, "vectors of several models", R"sql(
-- After a change of embedding model a chunk holds its old vector (search keeps using it) and
-- its new one until every chunk has the new one; then search switches and the old go.
CREATE TABLE chunk_vectors_v9 (
  chunk_id  INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
  model     TEXT NOT NULL,
  dimension INTEGER NOT NULL,
  vector    BLOB NOT NULL,
  PRIMARY KEY (chunk_id, model, dimension)
);
INSERT INTO chunk_vectors_v9 SELECT chunk_id, model, dimension, vector FROM chunk_vectors;
DROP TABLE chunk_vectors;
ALTER TABLE chunk_vectors_v9 RENAME TO chunk_vectors;
CREATE INDEX chunk_vectors_by_model ON chunk_vectors(model, dimension, chunk_id);
-- The model whose vectors search uses: the one the stored vectors have, if any.
CREATE TABLE search_model (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  model       TEXT NOT NULL,
  dimension   INTEGER NOT NULL,
  switched_at INTEGER NOT NULL
);
INSERT INTO search_model(id, model, dimension, switched_at)
  SELECT 1, model, dimension, 0 FROM chunk_vectors GROUP BY model, dimension ORDER BY count(*) DESC LIMIT 1;
)sql"},
      {10, "answers: status, model, usage, citations", R"sql(
-- An answer's record: whether it was written to its end, by which model, what it cost, how long
-- it took; a question's standalone rewrite. Usage is also summed on the conversation.
ALTER TABLE messages ADD COLUMN status TEXT NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'incomplete'));
ALTER TABLE messages ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN invalid_citations INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN prompt_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN completion_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN error TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN retrieval_ms INTEGER NOT NULL DEFAULT -1;
ALTER TABLE messages ADD COLUMN first_token_ms INTEGER NOT NULL DEFAULT -1;
ALTER TABLE messages ADD COLUMN total_ms INTEGER NOT NULL DEFAULT -1;
ALTER TABLE messages ADD COLUMN rewritten_query TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN prompt_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN completion_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
-- Where each [n] of an answer points. Kept as it was when the answer was written (a deleted
-- document's citation still names it; opening it then answers 404).
CREATE TABLE message_citations (
  message_id    TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  n             INTEGER NOT NULL,
  chunk_id      TEXT NOT NULL,
  document_id   TEXT NOT NULL,
  document_name TEXT NOT NULL,
  page_start    INTEGER NOT NULL,
  page_end      INTEGER NOT NULL,
  char_start    INTEGER NOT NULL,
  char_end      INTEGER NOT NULL,
  PRIMARY KEY (message_id, n)
) WITHOUT ROWID;
)sql"},
      {11, "chunks by owner", R"sql(
-- Each user's search index loads and follows that user's chunks alone ("keys above the last
-- one this index took"), in time proportional to what is new: the owner on the chunk, indexed
-- with the key. Documents never change owner.
ALTER TABLE chunks ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
UPDATE chunks SET user_id = coalesce((SELECT d.user_id FROM documents d WHERE d.id = chunks.document_id), '');
CREATE INDEX chunks_by_owner ON chunks(user_id, id);
)sql"},
      {12, "document notes", R"sql(
-- What a reader of a ready document should know about its text (OCR that read poorly).
ALTER TABLE documents ADD COLUMN note TEXT NOT NULL DEFAULT '';
)sql"},
      {13, "blob lifetimes", R"sql(
-- Whether a blob may be removed is decided here, across processes (store.hpp, "Blob
-- lifetimes"): digests an upload is committing, and digests no document names any more.
CREATE TABLE blob_pins (
  id       TEXT PRIMARY KEY,
  sha256   TEXT NOT NULL,
  until_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX blob_pins_sha ON blob_pins(sha256, until_ms);
CREATE TABLE blob_garbage (
  sha256   TEXT PRIMARY KEY,
  since_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
      {14, "chunk sections", R"sql(
-- The heading path above a chunk (chunk::Chunk::section); chunks stored before it have none.
ALTER TABLE chunks ADD COLUMN section TEXT NOT NULL DEFAULT '';
)sql"},
      {15, "citation sections", R"sql(
-- The cited chunk's heading path, kept with the answer's citation.
ALTER TABLE message_citations ADD COLUMN section TEXT NOT NULL DEFAULT '';
)sql"},
      {16, "mirror deletes", R"sql(
-- Vectors a vector mirror (Pinecone) must still drop, a deleted document's (job_id '') or an
-- older version's of a reprocessed one; retried until it did.
CREATE TABLE mirror_deletes (
  user_id     TEXT NOT NULL,
  document_id TEXT NOT NULL,
  job_id      TEXT NOT NULL,
  since_ms    INTEGER NOT NULL,
  PRIMARY KEY (user_id, document_id, job_id)
) WITHOUT ROWID;
)sql"},
  };
  return kMigrations;
}

Result<MigrationReport> ApplyMigrations(Connection& conn, int64_t now_ms) {
  BD_RETURN_IF_ERROR(conn.Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"));
  MigrationReport report;
  {
    Statement q = conn.Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    report.current_version = static_cast<int>(q.Int(0));
  }
  const auto& all = AllMigrations();
  int newest = all.empty() ? 0 : all.back().version;
  if (report.current_version > newest)
    return Status::Internal("database schema version " + std::to_string(report.current_version) +
                            " is newer than this binary knows (" + std::to_string(newest) +
                            "); upgrade betterdev");
  for (const Migration& m : all) {
    if (m.version <= report.current_version) continue;
    Transaction tx(conn);
    BD_RETURN_IF_ERROR(tx.begin_status());
    {
      // Another process may have applied it since we looked (several workers start at once).
      Statement q = conn.Prepare("SELECT count(*) FROM schema_migrations WHERE version = ?");
      q.Bind(1, int64_t{m.version});
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (q.Int(0) > 0) {
        report.current_version = m.version;
        continue;
      }
    }
    Status s = conn.Exec(m.sql);
    if (!s.ok()) return Status::Internal("migration " + std::to_string(m.version) + " failed: " + s.message());
    BD_RETURN_IF_ERROR(conn.Prepare("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)")
                           .Bind(1, int64_t{m.version})
                           .Bind(2, m.name)
                           .Bind(3, now_ms)
                           .Run());
    BD_RETURN_IF_ERROR(tx.Commit());
    report.applied.push_back(m.version);
    report.current_version = m.version;
  }
  return report;
}

}  // namespace betterdev::store::sqlite
