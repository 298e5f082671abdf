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

// Version 2: fair turns between groups (a group is whoever the jobs are for: the ingest service
// names the user). `job_groups` keeps, per group, how many of its jobs wait and run and when it
// was last served; triggers keep it in step with every state change, so no code path can forget
// it. Lease takes the group with the fewest running jobs, the least recently served first, and
// in it the most urgent job (jobs_group_ready); jobs_group_turn makes that one seek.
constexpr const char* kV2 = R"sql(
ALTER TABLE jobs ADD COLUMN grp TEXT NOT NULL DEFAULT '';
DROP INDEX jobs_ready;
CREATE INDEX jobs_group_ready ON jobs(grp, priority, seq) WHERE state = 'waiting';
CREATE TABLE job_groups (
  grp     TEXT PRIMARY KEY,
  waiting INTEGER NOT NULL DEFAULT 0,
  active  INTEGER NOT NULL DEFAULT 0,
  served  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX job_groups_turn ON job_groups(active, served) WHERE waiting > 0;
CREATE INDEX job_groups_served ON job_groups(served);  -- the next turn number: max(served), one seek
INSERT INTO job_groups(grp, waiting, active)
  SELECT '', count(*) FILTER (WHERE state = 'waiting'), count(*) FILTER (WHERE state = 'active') FROM jobs;
CREATE TRIGGER jobs_group_insert AFTER INSERT ON jobs BEGIN
  INSERT INTO job_groups(grp, waiting, active) VALUES (new.grp, new.state = 'waiting', new.state = 'active')
    ON CONFLICT(grp) DO UPDATE SET waiting = waiting + excluded.waiting, active = active + excluded.active;
END;
CREATE TRIGGER jobs_group_delete AFTER DELETE ON jobs WHEN old.state IN ('waiting', 'active') BEGIN
  UPDATE job_groups SET waiting = waiting - (old.state = 'waiting'), active = active - (old.state = 'active')
    WHERE grp = old.grp;
END;
CREATE TRIGGER jobs_group_state AFTER UPDATE OF state ON jobs WHEN old.state <> new.state BEGIN
  UPDATE job_groups SET
    waiting = waiting - (old.state = 'waiting') + (new.state = 'waiting'),
    active = active - (old.state = 'active') + (new.state = 'active'),
    served = CASE WHEN new.state = 'active' THEN (SELECT max(served) FROM job_groups) + 1 ELSE served END
    WHERE grp = new.grp;
END;
PRAGMA user_version = 2;
)sql";

// kMigrations[i] takes the schema from version i to i + 1; each sets user_version itself
// (PRAGMA user_version is transactional: it lives in the database header).
constexpr const char* kMigrations[] = {kV1, kV2};
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
