// Durable job queue: the seam between the API (producer) and the workers (consumers).
//
// Delivery is at least once: a job whose worker dies comes back when its lease expires, so a
// job's work must be idempotent. Implementations: queue/sqlite/ (embedded default) and
// queue/redis/ (BullMQ's data layout and scripts; where the two differ, see redis_queue.hpp). All methods are thread-safe; times are Unix milliseconds.
//
// Lifecycle: Enqueue → kWaiting (or kDelayed until run_at) → Lease → kActive → Complete
// (kCompleted) or Fail (back to kDelayed with backoff, or kFailed when out of attempts).
// Expired leases are not taken back by Lease itself: a supervisor calls ReclaimExpired
// periodically (every few seconds), because out-of-attempts jobs must be reported to it.
// Until reclaimed, the holder of an expired lease may still Extend/Complete/Fail it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace betterdev::queue {

struct JobOptions {
  int attempts = 3;          // total tries, >= 1
  int64_t backoff_ms = 1000;  // retry n (n >= 1) waits backoff_ms * 2^(n-1)
  int priority = 0;           // smaller runs first within its group (BullMQ's convention); ties: oldest first
  int64_t delay_ms = 0;       // not leased before now + delay_ms
  // The job's id when the caller needs it before the job exists (BullMQ's jobId), e.g. to
  // record it next to the job's subject first; empty: the queue makes one. Conflict if taken.
  std::string id;
  // Whom the job is for (the ingest service names the user). Groups take turns: see Lease.
  std::string group;
};

// Which jobs a Lease may take.
enum class LeaseFilter {
  kAny,
  // Only jobs of groups with no job running: a worker's spare lane takes these, so a group
  // whose long jobs fill every worker cannot keep another group waiting.
  kIdleGroups,
};

enum class JobState { kWaiting, kDelayed, kActive, kCompleted, kFailed };
std::string_view JobStateName(JobState state);  // "waiting", "delayed", "active", "completed", "failed"

struct Job {
  std::string id;
  std::string name;     // what to do, e.g. "FILE_PROCESS"
  std::string payload;  // opaque to the queue (JSON by convention)
  int attempts_made = 0;  // including the current one while active
  int max_attempts = 0;
  std::string lease_token;  // proves the current lease; changes with every lease
  int64_t lease_until = 0;
};

struct JobInfo {
  std::string id;
  std::string name;
  std::string payload;
  JobState state = JobState::kWaiting;
  int attempts_made = 0;
  int max_attempts = 0;
  int progress = 0;
  std::string failed_reason;  // last failure (also set on retried jobs)
  int64_t created_at = 0;
  int64_t run_at = 0;
  std::optional<int64_t> finished_at;
};

// Delay before retry n (n >= 1): backoff_ms * 2^(n-1), saturating far below int64 overflow.
int64_t RetryDelayMs(int64_t backoff_ms, int retry);

// Retention of completed jobs (BullMQ's removeOnComplete {count, age}): a completed job is
// deleted when it is not among the newest `max_count` or finished more than `max_age_ms` ago.
// An unset limit does not apply.
struct Retention {
  std::optional<int64_t> max_count;
  std::optional<int64_t> max_age_ms;
};

struct StateCounts {
  int64_t waiting = 0, delayed = 0, active = 0, completed = 0, failed = 0;
};

struct FailOutcome {
  bool retried = false;  // false: out of attempts (or not retryable), now kFailed
  int64_t retry_at = 0;  // when retried
};

class JobQueue {
 public:
  virtual ~JobQueue() = default;

  // Answers the new job's id ("job_..."). InvalidArgument for an empty name, attempts < 1 or a
  // negative backoff or delay.
  virtual Result<std::string> Enqueue(std::string_view name, std::string_view payload, const JobOptions& options) = 0;

  // Takes a due job that is not leased, counts an attempt, and leases it for `lease_ms` (> 0)
  // under a fresh token. nullopt when nothing (that `filter` allows) is due. Atomic: two workers
  // (also in two processes) never get the same lease. Fair between groups: the job comes from
  // the group with the fewest running jobs, among those the one served least recently; within
  // the group, the most urgent (priority, then age). So priorities order one group's jobs, and
  // a group with many jobs gets turns, not the whole queue.
  virtual Result<std::optional<Job>> Lease(std::string_view worker_id, int64_t lease_ms, LeaseFilter filter) = 0;

  // The following take the job as leased. They answer NotFound when the lease was lost
  // (expired and taken again, or the job was cancelled): the worker must stop and discard.
  virtual Status Extend(const Job& job, int64_t lease_ms) = 0;  // lease now lasts until now + lease_ms
  virtual Status Progress(const Job& job, int percent) = 0;    // 0..100, else InvalidArgument
  // `result_json`: what the job produced, as JSON (kept where the backend keeps results: BullMQ's
  // returnvalue on Redis; the SQLite queue does not keep it).
  virtual Status Complete(const Job& job, std::string_view result_json) = 0;
  Status Complete(const Job& job) { return Complete(job, "null"); }
  // Retries with backoff while attempts remain and `retryable`; else the job ends kFailed with
  // `reason` kept.
  virtual Result<FailOutcome> Fail(const Job& job, std::string_view reason, bool retryable) = 0;
  // Gives the job back without counting the attempt (the worker is shutting down).
  virtual Status Release(const Job& job) = 0;

  // Jobs whose lease expired: those with attempts left go back with backoff (reason "lease
  // expired: worker stopped or stalled"); the others end kFailed and are returned, so the caller
  // can record the failure wherever the job's subject lives.
  virtual Result<std::vector<JobInfo>> ReclaimExpired() = 0;

  // Removes a job in any state; a worker holding it gets NotFound at its next call. Ok when the
  // job does not exist.
  virtual Status Cancel(std::string_view job_id) = 0;

  virtual Result<JobInfo> Get(std::string_view job_id) = 0;  // NotFound when absent
  virtual Result<StateCounts> Counts() = 0;

  // Deletes completed jobs beyond `keep` and answers how many went. Failed jobs are kept: they
  // carry the reason someone may need to read. Meant to be called periodically.
  virtual Result<int64_t> PruneCompleted(const Retention& keep) = 0;

  // Blocks up to `timeout_ms` until a job may be due (woken by an enqueue, or when a delayed
  // job's time comes), for the lane named `worker_id`. False at once when this queue cannot
  // wait so (the SQLite queue): the caller then polls. Spurious wake-ups are allowed.
  virtual bool WaitForWork(std::string_view worker_id, int64_t timeout_ms) {
    (void)worker_id;
    (void)timeout_ms;
    return false;
  }
};

}  // namespace betterdev::queue
