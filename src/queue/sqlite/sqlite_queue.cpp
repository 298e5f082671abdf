#include "queue/sqlite/sqlite_queue.hpp"

#include <cstdint>
#include <mutex>
#include <utility>

#include "core/random.hpp"
#include "queue/sqlite/queue_schema.hpp"
#include "store/sqlite/db.hpp"

namespace betterdev::queue {
namespace {

namespace db = store::sqlite;

constexpr char kExpiredReason[] = "lease expired: worker stopped or stalled";
constexpr int64_t kPruneBatch = 1000;  // rows per write transaction, so pruning never stalls leases

Status LeaseLost(const Job& job) { return Status::NotFound("job " + job.id + " is no longer leased by this worker"); }

std::string NewLeaseToken() {
  char bytes[16];
  SecureRandomBytes(bytes, sizeof bytes);
  return HexEncode(std::string_view(bytes, sizeof bytes));
}

// A 'delayed' row whose time has come is waiting in all but name (it moves at the next Lease).
JobState StateOf(std::string_view stored, int64_t run_at, int64_t now) {
  if (stored == "delayed") return run_at <= now ? JobState::kWaiting : JobState::kDelayed;
  if (stored == "active") return JobState::kActive;
  if (stored == "completed") return JobState::kCompleted;
  if (stored == "failed") return JobState::kFailed;
  return JobState::kWaiting;
}

// What Fail and ReclaimExpired need to know about an active job.
struct Attempt {
  std::string id, name, payload;
  int attempts_made = 0, max_attempts = 0, progress = 0;
  int64_t backoff_ms = 0, created_at = 0, run_at = 0;
};

class SqliteQueue final : public JobQueue {
 public:
  SqliteQueue(std::unique_ptr<db::Connection> writer, std::unique_ptr<db::Pool> readers, const Clock& clock)
      : clock_(clock), ids_(clock), writer_(std::move(writer)), readers_(std::move(readers)) {}

  Result<std::string> Enqueue(std::string_view name, std::string_view payload, const JobOptions& o) override {
    if (name.empty()) return Status::InvalidArgument("job name is empty");
    if (o.attempts < 1) return Status::InvalidArgument("attempts must be at least 1");
    if (o.backoff_ms < 0 || o.delay_ms < 0) return Status::InvalidArgument("backoff and delay must not be negative");
    std::string id = o.id.empty() ? ids_.New("job") : o.id;
    int64_t now = clock_.NowMillis();
    std::lock_guard lock(mu_);
    BD_RETURN_IF_ERROR(writer_
                           ->Prepare("INSERT INTO jobs(id, name, payload, state, priority, run_at, max_attempts,"
                                     " backoff_ms, created_at, grp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                           .Bind(1, id)
                           .Bind(2, name)
                           .Bind(3, payload)
                           .Bind(4, o.delay_ms > 0 ? "delayed" : "waiting")
                           .Bind(5, int64_t{o.priority})
                           .Bind(6, now + o.delay_ms)
                           .Bind(7, int64_t{o.attempts})
                           .Bind(8, o.backoff_ms)
                           .Bind(9, now)
                           .Bind(10, o.group)
                           .Run());
    return id;
  }

  Result<std::optional<Job>> Lease(std::string_view worker_id, int64_t lease_ms, LeaseFilter filter) override {
    if (lease_ms <= 0) return Status::InvalidArgument("lease_ms must be positive");
    int64_t now = clock_.NowMillis();
    std::string token = NewLeaseToken();
    std::lock_guard lock(mu_);
    // Two statements, each atomic on its own: promoting due delayed jobs is idempotent, and the
    // UPDATE that picks and takes the job is one write transaction, so two processes cannot
    // both take it (the schema's triggers count the job as running in its group and mark the
    // group served in the same transaction). SQLite runs each subquery once: a seek on
    // job_groups_turn for the group, then on jobs_group_ready for its job.
    BD_RETURN_IF_ERROR(writer_->Prepare("UPDATE jobs SET state = 'waiting' WHERE state = 'delayed' AND run_at <= ?")
                           .Bind(1, now)
                           .Run());
    db::Statement q = writer_->Prepare(
        "UPDATE jobs SET state = 'active', attempts_made = attempts_made + 1, progress = 0, lease_token = ?1,"
        " lease_until = ?2, worker_id = ?3"
        " WHERE seq = (SELECT seq FROM jobs WHERE state = 'waiting' AND grp ="
        "   (SELECT grp FROM job_groups WHERE waiting > 0 AND (?4 OR active = 0) ORDER BY active, served LIMIT 1)"
        "   ORDER BY priority, seq LIMIT 1)"
        " RETURNING id, name, payload, attempts_made, max_attempts");
    q.Bind(1, token).Bind(2, now + lease_ms).Bind(3, worker_id).Bind(4, int64_t{filter == LeaseFilter::kAny});
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<Job>();
    Job job;
    job.id = q.Text(0);
    job.name = q.Text(1);
    job.payload = q.Text(2);
    job.attempts_made = static_cast<int>(q.Int(3));
    job.max_attempts = static_cast<int>(q.Int(4));
    job.lease_token = std::move(token);
    job.lease_until = now + lease_ms;
    BD_RETURN_IF_ERROR(q.Run());  // finishes the statement, which commits
    return std::optional<Job>(std::move(job));
  }

  Status Extend(const Job& job, int64_t lease_ms) override {
    if (lease_ms <= 0) return Status::InvalidArgument("lease_ms must be positive");
    int64_t until = clock_.NowMillis() + lease_ms;
    return UpdateLeased(job, [&](db::Connection& c) {
      return c.Prepare("UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'active' AND lease_token = ?")
          .Bind(1, until)
          .Bind(2, job.id)
          .Bind(3, job.lease_token)
          .Run();
    });
  }

  Status Progress(const Job& job, int percent) override {
    if (percent < 0 || percent > 100) return Status::InvalidArgument("progress must be between 0 and 100");
    return UpdateLeased(job, [&](db::Connection& c) {
      return c.Prepare("UPDATE jobs SET progress = ? WHERE id = ? AND state = 'active' AND lease_token = ?")
          .Bind(1, int64_t{percent})
          .Bind(2, job.id)
          .Bind(3, job.lease_token)
          .Run();
    });
  }

  using JobQueue::Complete;
  Status Complete(const Job& job, std::string_view /*result_json*/) override {
    int64_t now = clock_.NowMillis();
    return UpdateLeased(job, [&](db::Connection& c) {
      return c
          .Prepare(
              "UPDATE jobs SET state = 'completed', finished_at = ?, lease_token = NULL, lease_until = NULL,"
              " worker_id = NULL WHERE id = ? AND state = 'active' AND lease_token = ?")
          .Bind(1, now)
          .Bind(2, job.id)
          .Bind(3, job.lease_token)
          .Run();
    });
  }

  Status Release(const Job& job) override {
    // Back to 'waiting' with its original seq: it keeps its place in line.
    return UpdateLeased(job, [&](db::Connection& c) {
      return c
          .Prepare(
              "UPDATE jobs SET state = 'waiting', attempts_made = attempts_made - 1, lease_token = NULL,"
              " lease_until = NULL, worker_id = NULL WHERE id = ? AND state = 'active' AND lease_token = ?")
          .Bind(1, job.id)
          .Bind(2, job.lease_token)
          .Run();
    });
  }

  Result<FailOutcome> Fail(const Job& job, std::string_view reason, bool retryable) override {
    int64_t now = clock_.NowMillis();
    std::lock_guard lock(mu_);
    db::Transaction tx(*writer_);
    BD_RETURN_IF_ERROR(tx.begin_status());
    std::optional<Attempt> a;
    {
      db::Statement q = writer_->Prepare(
          "SELECT id, attempts_made, max_attempts, backoff_ms FROM jobs"
          " WHERE id = ? AND state = 'active' AND lease_token = ?");
      q.Bind(1, job.id).Bind(2, job.lease_token);
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (!*row) return LeaseLost(job);
      a = Attempt{.id = q.Text(0),
                  .attempts_made = static_cast<int>(q.Int(1)),
                  .max_attempts = static_cast<int>(q.Int(2)),
                  .backoff_ms = q.Int(3)};
    }
    Result<FailOutcome> out = FinishAttempt(*a, reason, retryable, now);
    if (!out.ok()) return out;
    BD_RETURN_IF_ERROR(tx.Commit());
    return out;
  }

  Result<std::vector<JobInfo>> ReclaimExpired() override {
    int64_t now = clock_.NowMillis();
    std::lock_guard lock(mu_);
    db::Transaction tx(*writer_);
    BD_RETURN_IF_ERROR(tx.begin_status());
    std::vector<Attempt> expired;
    {
      db::Statement q = writer_->Prepare(
          "SELECT id, name, payload, attempts_made, max_attempts, progress, backoff_ms, created_at, run_at"
          " FROM jobs WHERE state = 'active' AND lease_until <= ? ORDER BY lease_until");
      q.Bind(1, now);
      for (;;) {
        Result<bool> row = q.Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        expired.push_back({q.Text(0), q.Text(1), q.Text(2), static_cast<int>(q.Int(3)), static_cast<int>(q.Int(4)),
                           static_cast<int>(q.Int(5)), q.Int(6), q.Int(7), q.Int(8)});
      }
    }
    std::vector<JobInfo> failed;
    for (const Attempt& a : expired) {
      Result<FailOutcome> out = FinishAttempt(a, kExpiredReason, true, now);
      if (!out.ok()) return out.status();
      if (out->retried) continue;
      failed.push_back({a.id, a.name, a.payload, JobState::kFailed, a.attempts_made, a.max_attempts, a.progress,
                        kExpiredReason, a.created_at, a.run_at, now});
    }
    BD_RETURN_IF_ERROR(tx.Commit());
    return failed;
  }

  Status Cancel(std::string_view job_id) override {
    std::lock_guard lock(mu_);
    return writer_->Prepare("DELETE FROM jobs WHERE id = ?").Bind(1, job_id).Run();
  }

  Result<JobInfo> Get(std::string_view job_id) override {
    int64_t now = clock_.NowMillis();
    auto conn = readers_->Acquire();
    db::Statement q = conn->Prepare(
        "SELECT id, name, payload, state, attempts_made, max_attempts, progress, failed_reason, created_at,"
        " run_at, finished_at FROM jobs WHERE id = ?");
    q.Bind(1, job_id);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::NotFound("no job " + std::string(job_id));
    return JobInfo{q.Text(0),
                   q.Text(1),
                   q.Text(2),
                   StateOf(q.Text(3), q.Int(9), now),
                   static_cast<int>(q.Int(4)),
                   static_cast<int>(q.Int(5)),
                   static_cast<int>(q.Int(6)),
                   q.Text(7),
                   q.Int(8),
                   q.Int(9),
                   q.OptionalInt(10)};
  }

  Result<StateCounts> Counts() override {
    int64_t now = clock_.NowMillis();
    auto conn = readers_->Acquire();
    // One read transaction, so the counts are a consistent snapshot; each count walks only
    // its state's partial index.
    db::Statement q = conn->Prepare(
        "SELECT (SELECT count(*) FROM jobs WHERE state = 'waiting'),"
        " (SELECT count(*) FROM jobs WHERE state = 'delayed' AND run_at <= ?1),"
        " (SELECT count(*) FROM jobs WHERE state = 'delayed' AND run_at > ?1),"
        " (SELECT count(*) FROM jobs WHERE state = 'active'),"
        " (SELECT count(*) FROM jobs WHERE state = 'completed'),"
        " (SELECT count(*) FROM jobs WHERE state = 'failed')");
    q.Bind(1, now);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    return StateCounts{q.Int(0) + q.Int(1), q.Int(2), q.Int(3), q.Int(4), q.Int(5)};
  }

  Result<int64_t> PruneCompleted(const Retention& keep) override;

 private:
  // Runs a lease-checked UPDATE; no changed row means the token is stale or the job is gone.
  template <typename Update>
  Status UpdateLeased(const Job& job, Update update) {
    std::lock_guard lock(mu_);
    BD_RETURN_IF_ERROR(update(*writer_));
    return writer_->Changes() == 1 ? Status::Ok() : LeaseLost(job);
  }

  // Ends attempt `a` inside the caller's transaction (mu_ held): retry with backoff, or fail for good.
  Result<FailOutcome> FinishAttempt(const Attempt& a, std::string_view reason, bool retryable, int64_t now);

  const Clock& clock_;
  IdGenerator ids_;
  std::mutex mu_;
  std::unique_ptr<db::Connection> writer_;  // guarded by mu_
  std::unique_ptr<db::Pool> readers_;
};

Result<FailOutcome> SqliteQueue::FinishAttempt(const Attempt& a, std::string_view reason, bool retryable, int64_t now) {
  FailOutcome out;
  if (retryable && a.attempts_made < a.max_attempts) {
    out.retried = true;
    out.retry_at = now + RetryDelayMs(a.backoff_ms, a.attempts_made);
    BD_RETURN_IF_ERROR(writer_
                           ->Prepare("UPDATE jobs SET state = 'delayed', run_at = ?, failed_reason = ?,"
                                     " lease_token = NULL, lease_until = NULL, worker_id = NULL WHERE id = ?")
                           .Bind(1, out.retry_at)
                           .Bind(2, reason)
                           .Bind(3, a.id)
                           .Run());
  } else {
    BD_RETURN_IF_ERROR(writer_
                           ->Prepare("UPDATE jobs SET state = 'failed', finished_at = ?, failed_reason = ?,"
                                     " lease_token = NULL, lease_until = NULL, worker_id = NULL WHERE id = ?")
                           .Bind(1, now)
                           .Bind(2, reason)
                           .Bind(3, a.id)
                           .Run());
  }
  return out;
}

Result<int64_t> SqliteQueue::PruneCompleted(const Retention& keep) {
  if ((keep.max_count && *keep.max_count < 0) || (keep.max_age_ms && *keep.max_age_ms < 0))
    return Status::InvalidArgument("retention limits must not be negative");
  // Everything at or before the bound (finished_at, seq) goes; each limit yields a bound and the
  // later one wins. New completions while we work only land after the bound.
  std::optional<std::pair<int64_t, int64_t>> bound;
  if (keep.max_age_ms) bound.emplace(clock_.NowMillis() - *keep.max_age_ms - 1, INT64_MAX);
  if (keep.max_count) {
    auto conn = readers_->Acquire();
    db::Statement q = conn->Prepare(
        "SELECT finished_at, seq FROM jobs WHERE state = 'completed'"
        " ORDER BY finished_at DESC, seq DESC LIMIT 1 OFFSET ?");
    q.Bind(1, *keep.max_count);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (*row && (!bound || std::pair(q.Int(0), q.Int(1)) > *bound)) bound.emplace(q.Int(0), q.Int(1));
  }
  int64_t removed = 0;
  while (bound) {
    std::lock_guard lock(mu_);
    BD_RETURN_IF_ERROR(writer_
                           ->Prepare("DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs WHERE state = 'completed'"
                                     " AND finished_at <= ?1 AND (finished_at < ?1 OR seq <= ?2) LIMIT ?3)")
                           .Bind(1, bound->first)
                           .Bind(2, bound->second)
                           .Bind(3, kPruneBatch)
                           .Run());
    int64_t n = writer_->Changes();
    removed += n;
    if (n < kPruneBatch) break;
  }
  return removed;
}

}  // namespace

Result<std::unique_ptr<JobQueue>> OpenSqliteQueue(const std::string& path, const Clock& clock,
                                                  const SqliteQueueOptions& options) {
  auto writer = db::Connection::Open(path, options.busy_timeout_ms);
  if (!writer.ok()) return writer.status();
  // These settings are per connection, and only the writer commits. A job is four small
  // commits of ~4 pages each, so the default checkpoint (every 1000 pages, two fsyncs) came
  // every ~60 jobs and cost about a third of the throughput; every 4000 pages (a WAL of
  // ~16 MB) it is cheap. journal_size_limit trims the WAL back after a burst grew it.
  BD_RETURN_IF_ERROR((*writer)->Exec("PRAGMA wal_autocheckpoint=4000; PRAGMA journal_size_limit=33554432"));
  if (options.synchronous_full) BD_RETURN_IF_ERROR((*writer)->Exec("PRAGMA synchronous=FULL"));
  BD_RETURN_IF_ERROR(sqlite::MigrateQueue(**writer));
  auto readers = db::Pool::Open(path, options.read_connections, options.busy_timeout_ms);
  if (!readers.ok()) return readers.status();
  return std::unique_ptr<JobQueue>(std::make_unique<SqliteQueue>(std::move(*writer), std::move(*readers), clock));
}

}  // namespace betterdev::queue
