#include "queue/sqlite/queue_schema.hpp"

#include <iterator>
#include <string>

namespace betterdev::queue::sqlite {
namespace {

// Version 1. `seq` (the rowid) is the enqueue order that breaks priority ties. 'delayed' jobs
// (run_at in the future) are kept apart from 'waiting' ones and moved over when due, so that
// each hot question is one seek on a small partial index:
//   jobs_ready   — the most urgent due job: first entry of (priority, seq);
//   jobs_delayed — delayed jobs now due: range on run_at;
//   jobs_leases  — expired leases: range on lease_until;
//   jobs_completed / jobs_failed — pruning by age and the per-state counts.
constexpr const char* kV1 = R"sql(
CREATE TABLE jobs (
  seq           INTEGER PRIMARY KEY,
  id            TEXT NOT NULL UNIQUE,
  name          TEXT NOT NULL,
  payload       TEXT NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('waiting', 'delayed', 'active', 'completed', 'failed')),
  priority      INTEGER NOT NULL,
  run_at        INTEGER NOT NULL,
  attempts_made INTEGER NOT NULL DEFAULT 0,
  max_attempts  INTEGER NOT NULL,
  backoff_ms    INTEGER NOT NULL,
  progress      INTEGER NOT NULL DEFAULT 0,
  lease_token   TEXT,
  lease_until   INTEGER,
  worker_id     TEXT,
  failed_reason TEXT NOT NULL DEFAULT '',
  created_at    INTEGER NOT NULL,
  finished_at   INTEGER
);
CREATE INDEX jobs_ready ON jobs(priority, seq) WHERE state = 'waiting';
CREATE INDEX jobs_delayed ON jobs(run_at) WHERE state = 'delayed';
CREATE INDEX jobs_leases ON jobs(lease_until) WHERE state = 'active';
CREATE INDEX jobs_completed ON jobs(finished_at) WHERE state = 'completed';
CREATE INDEX jobs_failed ON jobs(finished_at) WHERE state = 'failed';
PRAGMA user_version = 1;
)sql";

// kMigrations[i] takes the schema from version i to i + 1; each sets user_version itself
// (PRAGMA user_version is transactional: it lives in the database header).
constexpr const char* kMigrations[] = {kV1};
static_assert(std::size(kMigrations) == kQueueSchemaVersion);

}  // namespace

Status MigrateQueue(store::sqlite::Connection& conn) {
  store::sqlite::Transaction tx(conn);
  BD_RETURN_IF_ERROR(tx.begin_status());
  int64_t version = 0;
  {
    store::sqlite::Statement q = conn.Prepare("PRAGMA user_version");
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    version = q.Int(0);
  }
  if (version > kQueueSchemaVersion)
    return Status::Internal("queue schema version " + std::to_string(version) + " is newer than this binary knows (" +
                            std::to_string(kQueueSchemaVersion) + "); upgrade betterdev");
  if (version == kQueueSchemaVersion) return Status::Ok();  // the destructor rolls back the empty tx
  for (int64_t v = version; v < kQueueSchemaVersion; ++v) {
    Status s = conn.Exec(kMigrations[v]);
    if (!s.ok()) return Status::Internal("queue migration to " + std::to_string(v + 1) + " failed: " + s.message());
  }
  return tx.Commit();
}

}  // namespace betterdev::queue::sqlite
