// The PostgreSQL schema, versioned. It is the SQLite schema's current shape (store/sqlite/
// migrations.cpp), not its history: ids compare bytewise (COLLATE "C", for keyset pages and the
// "~" cursor), chunk keys come from a sequence, vectors are pgvector's `vector`.
#include <chrono>

#include "store/postgres/pg.hpp"
#include "store/postgres/pg_store.hpp"

namespace betterdev::store {
namespace {

struct PgMigration {
  int version;
  const char* name;
  const char* sql;
};

const std::vector<PgMigration>& AllPgMigrations() {
  static const std::vector<PgMigration> kMigrations = {
      {1, "everything as of SQLite schema 13", R"sql(
-- pgvector, in Supabase's schema for extensions unless it exists already (creating it needs a
-- role allowed to: a superuser, or Supabase's postgres role).
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
    CREATE SCHEMA IF NOT EXISTS extensions;
    CREATE EXTENSION vector WITH SCHEMA extensions;
  END IF;
END $$;
CREATE TABLE users (
  id            TEXT COLLATE "C" PRIMARY KEY,
  email         TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE TABLE access_tokens (
  id         TEXT COLLATE "C" PRIMARY KEY,
  user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX access_tokens_user ON access_tokens(user_id);
CREATE INDEX access_tokens_expiry ON access_tokens(expires_at);
CREATE TABLE api_keys (
  id           TEXT COLLATE "C" PRIMARY KEY,
  user_id      TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  prefix       TEXT NOT NULL,
  key_hash     TEXT NOT NULL UNIQUE,
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT
);
CREATE INDEX api_keys_user ON api_keys(user_id, id);
-- document_ids: the conversation's document ids in order, joined by ',' (ids never hold one).
CREATE TABLE conversations (
  user_id           TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  id                TEXT COLLATE "C" NOT NULL UNIQUE,
  title             TEXT NOT NULL,
  document_ids      TEXT NOT NULL DEFAULT '',
  created_at        BIGINT NOT NULL,
  updated_at        BIGINT NOT NULL,
  prompt_tokens     BIGINT NOT NULL DEFAULT 0,
  completion_tokens BIGINT NOT NULL DEFAULT 0,
  cost_usd          DOUBLE PRECISION NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, id)
);
CREATE TABLE messages (
  id                TEXT COLLATE "C" PRIMARY KEY,
  conversation_id   TEXT COLLATE "C" NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  role              TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
  content           TEXT NOT NULL,
  created_at        BIGINT NOT NULL,
  status            TEXT NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'incomplete')),
  model             TEXT NOT NULL DEFAULT '',
  invalid_citations INTEGER NOT NULL DEFAULT 0,
  prompt_tokens     BIGINT NOT NULL DEFAULT 0,
  completion_tokens BIGINT NOT NULL DEFAULT 0,
  cost_usd          DOUBLE PRECISION NOT NULL DEFAULT 0,
  error             TEXT NOT NULL DEFAULT '',
  retrieval_ms      BIGINT NOT NULL DEFAULT -1,
  first_token_ms    BIGINT NOT NULL DEFAULT -1,
  total_ms          BIGINT NOT NULL DEFAULT -1,
  rewritten_query   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE TABLE message_citations (
  message_id    TEXT COLLATE "C" NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  n             INTEGER NOT NULL,
  chunk_id      TEXT NOT NULL,
  document_id   TEXT NOT NULL,
  document_name TEXT NOT NULL,
  page_start    INTEGER NOT NULL,
  page_end      INTEGER NOT NULL,
  char_start    BIGINT NOT NULL,
  char_end      BIGINT NOT NULL,
  PRIMARY KEY (message_id, n)
);
CREATE TABLE documents (
  user_id            TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  id                 TEXT COLLATE "C" NOT NULL UNIQUE,
  filename           TEXT NOT NULL,
  content_type       TEXT NOT NULL,
  size_bytes         BIGINT NOT NULL,
  sha256             TEXT NOT NULL,
  status             TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
  stage              TEXT NOT NULL DEFAULT '',
  progress           INTEGER NOT NULL DEFAULT 0,
  page               INTEGER NOT NULL DEFAULT 0,
  pages              INTEGER NOT NULL DEFAULT 0,
  chunk_count        BIGINT NOT NULL DEFAULT 0,
  text_chars         BIGINT NOT NULL DEFAULT 0,
  attempts           INTEGER NOT NULL DEFAULT 0,
  error              TEXT NOT NULL DEFAULT '',
  job_id             TEXT NOT NULL DEFAULT '',
  created_at         BIGINT NOT NULL,
  updated_at         BIGINT NOT NULL,
  finished_at        BIGINT,
  embedding_tokens   BIGINT NOT NULL DEFAULT 0,
  embedding_cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
  note               TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (user_id, id),
  UNIQUE (user_id, sha256)
);
CREATE INDEX documents_sha ON documents(sha256);
CREATE INDEX documents_queued ON documents(updated_at) WHERE status = 'queued';
-- Chunk keys: given out only while the feed lock is held (CompleteWithChunks), so keys commit
-- in order and "keys above the last one I saw" never skips one.
CREATE SEQUENCE chunk_keys;
CREATE TABLE chunks (
  id          BIGINT PRIMARY KEY DEFAULT nextval('chunk_keys'),
  document_id TEXT COLLATE "C" NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  user_id     TEXT COLLATE "C" NOT NULL,
  ordinal     INTEGER NOT NULL,
  page_start  INTEGER NOT NULL,
  page_end    INTEGER NOT NULL,
  char_start  BIGINT NOT NULL,
  char_end    BIGINT NOT NULL,
  text        TEXT NOT NULL,
  context     TEXT NOT NULL DEFAULT '',
  UNIQUE (document_id, ordinal)
);
ALTER SEQUENCE chunk_keys OWNED BY chunks.id;
CREATE INDEX chunks_by_owner ON chunks(user_id, id);
-- Vectors of any dimension; readers ask for one (model, dimension).
CREATE TABLE chunk_vectors (
  chunk_id  BIGINT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
  model     TEXT NOT NULL,
  dimension INTEGER NOT NULL,
  embedding vector NOT NULL,
  PRIMARY KEY (chunk_id, model, dimension)
);
CREATE INDEX chunk_vectors_by_model ON chunk_vectors(model, dimension, chunk_id);
CREATE TABLE search_model (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  model       TEXT NOT NULL,
  dimension   INTEGER NOT NULL,
  switched_at BIGINT NOT NULL
);
CREATE TABLE embedding_cache (
  model       TEXT NOT NULL,
  dimension   INTEGER NOT NULL,
  text_sha256 TEXT NOT NULL,
  embedding   vector NOT NULL,
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (model, dimension, text_sha256)
);
CREATE TABLE blob_pins (
  id       TEXT PRIMARY KEY,
  sha256   TEXT NOT NULL,
  until_ms BIGINT NOT NULL
);
CREATE INDEX blob_pins_sha ON blob_pins(sha256, until_ms);
CREATE TABLE blob_garbage (
  sha256   TEXT PRIMARY KEY,
  since_ms BIGINT NOT NULL
);
)sql"},
      {2, "search inside the database: chunks' words, vectors' owners", R"sql(
-- The keyword leg in PostgreSQL: each chunk's words as the `english` configuration reads them,
-- those of its context (with its document's title) weighted A, and its length in words. Chunks
-- written from now on get them as they are inserted (pg_documents.cpp); these are backfilled.
ALTER TABLE chunks ADD COLUMN words tsvector NOT NULL DEFAULT ''::tsvector;
ALTER TABLE chunks ADD COLUMN word_count INTEGER NOT NULL DEFAULT 0;
UPDATE chunks c SET words = setweight(to_tsvector('english',
         regexp_replace(d.filename, '\.[^.]{1,5}$', '') || E'\n' || c.context), 'A') || to_tsvector('english', c.text)
  FROM documents d WHERE d.id = c.document_id;
UPDATE chunks SET word_count = coalesce((SELECT max(p) FROM unnest(words) u, unnest(u.positions) p), 0);
CREATE INDEX chunks_words ON chunks USING gin (words);
-- The vector leg in pgvector: searches filter by owner (and document) in the index scan.
ALTER TABLE chunk_vectors ADD COLUMN user_id TEXT COLLATE "C";
ALTER TABLE chunk_vectors ADD COLUMN document_id TEXT COLLATE "C";
UPDATE chunk_vectors v SET user_id = c.user_id, document_id = c.document_id FROM chunks c WHERE c.id = v.chunk_id;
ALTER TABLE chunk_vectors ALTER COLUMN user_id SET NOT NULL;
ALTER TABLE chunk_vectors ALTER COLUMN document_id SET NOT NULL;
CREATE INDEX chunk_vectors_by_owner ON chunk_vectors(user_id, model, dimension);
)sql"},
      {3, "keyword postings", R"sql(
-- The keyword leg reads postings instead of every candidate chunk's words: per user and word,
-- each chunk holding it with its weighted frequency (a context word counts twice) and length,
-- found by an index-only scan; and each user's chunk count and total length (BM25's N and
-- average length) in one row. Both are kept by triggers on chunks, so every way chunks come
-- and go (a document completed, reprocessed, deleted, its user deleted) keeps them exact.
CREATE TABLE chunk_terms (
  user_id     TEXT COLLATE "C" NOT NULL,
  lexeme      TEXT COLLATE "C" NOT NULL,
  chunk_id    BIGINT NOT NULL,
  f           SMALLINT NOT NULL,
  word_count  INTEGER NOT NULL,
  document_id TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (user_id, lexeme, chunk_id) INCLUDE (f, word_count, document_id)
);
CREATE TABLE user_word_stats (
  user_id TEXT COLLATE "C" PRIMARY KEY,
  chunks  BIGINT NOT NULL,
  words   BIGINT NOT NULL
);
CREATE FUNCTION chunks_terms_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chunk_terms (user_id, lexeme, chunk_id, f, word_count, document_id)
    SELECT n.user_id, u.lexeme, n.id, cardinality(u.positions) + cardinality(array_positions(u.weights, 'A')),
           n.word_count, n.document_id
    FROM added n CROSS JOIN LATERAL unnest(n.words) u;
  INSERT INTO user_word_stats AS s (user_id, chunks, words)
    SELECT user_id, count(*), sum(word_count) FROM added GROUP BY user_id
    ON CONFLICT (user_id) DO UPDATE SET chunks = s.chunks + excluded.chunks, words = s.words + excluded.words;
  RETURN NULL;
END $$;
CREATE FUNCTION chunks_terms_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM chunk_terms t USING removed o CROSS JOIN LATERAL unnest(o.words) u
    WHERE t.user_id = o.user_id AND t.lexeme = u.lexeme AND t.chunk_id = o.id;
  UPDATE user_word_stats s SET chunks = s.chunks - d.n, words = s.words - d.w
    FROM (SELECT user_id, count(*) AS n, sum(word_count) AS w FROM removed GROUP BY user_id) d
    WHERE s.user_id = d.user_id;
  RETURN NULL;
END $$;
CREATE TRIGGER chunks_terms_added AFTER INSERT ON chunks REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION chunks_terms_added();
CREATE TRIGGER chunks_terms_removed AFTER DELETE ON chunks REFERENCING OLD TABLE AS removed
  FOR EACH STATEMENT EXECUTE FUNCTION chunks_terms_removed();
INSERT INTO chunk_terms
  SELECT c.user_id, u.lexeme, c.id, cardinality(u.positions) + cardinality(array_positions(u.weights, 'A')),
         c.word_count, c.document_id
  FROM chunks c CROSS JOIN LATERAL unnest(c.words) u;
INSERT INTO user_word_stats SELECT user_id, count(*), sum(word_count) FROM chunks GROUP BY user_id;
-- Candidates no longer come from the words' GIN index.
DROP INDEX chunks_words;
)sql"},
      {4, "chunk and citation sections", R"sql(
-- The heading path above a chunk (chunk::Chunk::section); chunks stored before it have none.
ALTER TABLE chunks ADD COLUMN section TEXT NOT NULL DEFAULT '';
-- The cited chunk's heading path, kept with the answer's citation.
ALTER TABLE message_citations ADD COLUMN section TEXT NOT NULL DEFAULT '';
)sql"},
      {5, "mirror deletes", R"sql(
-- Vectors a vector mirror (Pinecone) must still drop, a deleted document's (job_id '') or an
-- older version's of a reprocessed one; retried until it did.
CREATE TABLE mirror_deletes (
  user_id     TEXT NOT NULL,
  document_id TEXT NOT NULL,
  job_id      TEXT NOT NULL,
  since_ms    BIGINT NOT NULL,
  PRIMARY KEY (user_id, document_id, job_id)
);
CREATE INDEX mirror_deletes_oldest ON mirror_deletes(since_ms);
)sql"},
      {6, "chunk keys in commit order without one writer at a time", R"sql(
-- A completing document draws its chunk keys first (draw_chunk_keys: under a lock held for
-- those microseconds alone, with a ticket, the first key, held to commit), writes its vectors
-- (the HNSW index's insertions: most of the cost, now in parallel), then waits for every
-- earlier ticket to commit before writing its chunks. Keys still commit in order, so "keys
-- above the last one I saw" never skips one; the vectors' reference to their chunk is checked
-- at commit. Writers of releases before take (1650747, 0) exclusively from their first key
-- to commit; these take it shared for as long, so the two kinds never overlap. Keys follow
-- the order they are drawn in only with one sequence value cached at a time.
ALTER TABLE chunk_vectors ALTER CONSTRAINT chunk_vectors_chunk_id_fkey DEFERRABLE INITIALLY IMMEDIATE;
ALTER SEQUENCE chunk_keys CACHE 1;
CREATE FUNCTION draw_chunk_keys(n integer) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
  keys bigint[];
BEGIN
  PERFORM pg_advisory_xact_lock_shared(1650747, 0);
  -- The session lock is taken and given back inside the block: an error or a cancel that
  -- lands as it is granted (a lock or statement timeout) must not leave it held on a pooled
  -- connection, where every other writer would wait for it for ever.
  BEGIN
    PERFORM pg_advisory_lock(1650747, 1);
    keys := ARRAY(SELECT nextval('chunk_keys') FROM generate_series(1, greatest(n, 1)));
    PERFORM pg_advisory_xact_lock(1650749, (keys[1] % 2147483647)::integer);
    PERFORM pg_advisory_unlock(1650747, 1);
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    IF EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'
               AND classid = 1650747 AND objid = 1 AND objsubid = 2) THEN
      PERFORM pg_advisory_unlock(1650747, 1);
    END IF;
    RAISE;
  END;
  RETURN keys;
END $$;
REVOKE ALL ON FUNCTION draw_chunk_keys(integer) FROM PUBLIC;
)sql"},
      {7, "nothing for Supabase's Data API", R"sql(
-- Supabase's Data API (PostgREST) publishes the schema `public` to its `anon` and
-- `authenticated` roles, and its default privileges grant them every table, sequence and
-- function the `postgres` role creates there: without this, anyone holding the project's
-- public API key could read users, tokens and documents. Row-level security with no policy
-- leaves those roles no row; the tables' owner, the role betterdev runs and migrates as, is
-- not subject to it. Elsewhere nothing changes.
ALTER TABLE schema_migrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE access_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE chunk_vectors ENABLE ROW LEVEL SECURITY;
ALTER TABLE chunk_terms ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_word_stats ENABLE ROW LEVEL SECURITY;
ALTER TABLE embedding_cache ENABLE ROW LEVEL SECURITY;
ALTER TABLE search_model ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE message_citations ENABLE ROW LEVEL SECURITY;
ALTER TABLE blob_garbage ENABLE ROW LEVEL SECURITY;
ALTER TABLE blob_pins ENABLE ROW LEVEL SECURITY;
ALTER TABLE mirror_deletes ENABLE ROW LEVEL SECURITY;
-- Functions have no rows to hide: whoever was granted draw_chunk_keys besides its owner loses
-- it (read from the function's own ACL; grantee 0 is PUBLIC).
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT DISTINCT a.grantee FROM pg_proc p CROSS JOIN LATERAL aclexplode(p.proacl) a
           WHERE p.oid = 'draw_chunk_keys(integer)'::regprocedure AND a.grantee <> p.proowner LOOP
    IF r.grantee = 0 THEN
      REVOKE ALL ON FUNCTION draw_chunk_keys(integer) FROM PUBLIC;
    ELSE
      EXECUTE format('REVOKE ALL ON FUNCTION draw_chunk_keys(integer) FROM %I', r.grantee::regrole::text);
    END IF;
  END LOOP;
END $$;
-- Supabase's Data API roles lose the grants too (TRUNCATE and TRIGGER are not rows; the API's
-- description of the schema stops listing the tables). Other roles' grants stay as given.
DO $$
DECLARE
  api_role text;
  t text;
BEGIN
  FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = api_role);
    FOREACH t IN ARRAY ARRAY['schema_migrations', 'users', 'access_tokens', 'api_keys', 'documents', 'chunks',
                             'chunk_vectors', 'chunk_terms', 'user_word_stats', 'embedding_cache', 'search_model',
                             'conversations', 'messages', 'message_citations', 'blob_garbage', 'blob_pins',
                             'mirror_deletes'] LOOP
      EXECUTE format('REVOKE ALL ON TABLE %I FROM %I', t, api_role);
    END LOOP;
    EXECUTE format('REVOKE ALL ON SEQUENCE chunk_keys FROM %I', api_role);
  END LOOP;
END $$;
-- A table or function a later migration adds needs the same (Supabase's default privileges
-- grant it to those roles again).
)sql"},
  };
  return kMigrations;
}

// Serialises migrations between processes (any 64-bit constant of our own).
constexpr const char* kMigrationLock = "SELECT pg_advisory_lock(7165432101)";
constexpr const char* kMigrationUnlock = "SELECT pg_advisory_unlock(7165432101)";

Result<PostgresMigrationReport> Apply(pg::Connection& conn) {
  BD_RETURN_IF_ERROR(conn.Script(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
      "applied_at BIGINT NOT NULL)"));
  PostgresMigrationReport report;
  auto current = conn.Exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!current.ok()) return current.status();
  report.current_version = static_cast<int>(current->Int(0, 0));
  const auto& all = AllPgMigrations();
  const int newest = all.back().version;
  if (report.current_version > newest)
    return Status::Internal("database schema version " + std::to_string(report.current_version) +
                            " is newer than this binary knows (" + std::to_string(newest) + "); upgrade betterdev");
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  for (const PgMigration& m : all) {
    if (m.version <= report.current_version) continue;
    pg::Transaction tx(conn);  // DDL is transactional: a failed migration leaves nothing half done
    BD_RETURN_IF_ERROR(tx.begin_status());
    if (Status s = conn.Script(m.sql); !s.ok())
      return Status(s.code(), "migration " + std::to_string(m.version) + " failed: " + s.message());
    auto recorded = conn.Exec("INSERT INTO schema_migrations(version, name, applied_at) VALUES ($1, $2, $3)",
                              pg::Params().Add(m.version).Add(m.name).Add(now));
    if (!recorded.ok()) return recorded.status();
    BD_RETURN_IF_ERROR(tx.Commit());
    report.applied.push_back(m.version);
    report.current_version = m.version;
  }
  return report;
}

}  // namespace

Result<PostgresMigrationReport> MigratePostgres(const std::string& url) {
  auto conn = pg::Connection::Open(url, 10);
  if (!conn.ok()) return conn.status();
  // Several processes may start at once: one migrates, the others wait here, then find nothing.
  auto locked = (*conn)->Exec(kMigrationLock);
  if (!locked.ok()) return locked.status();
  auto report = Apply(**conn);
  (void)(*conn)->Exec(kMigrationUnlock);
  return report;
}

}  // namespace betterdev::store
