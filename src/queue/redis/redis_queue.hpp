// The job queue on Redis, in BullMQ's data layout, running BullMQ's own Lua scripts (loaded
// from the pinned bullmq package): jobs added by a Node `bullmq` Queue are leased here, and
// jobs added here are seen by BullMQ's Queue, QueueEvents, Job.waitUntilFinished and
// dashboards such as bull-board, in the right states.
//
// Where the JobQueue contract and BullMQ differ, this implementation settles it so:
// - Groups: BullMQ (open source) has none. Jobs are taken in BullMQ's order (priority, then
//   age); JobOptions::group is not stored, and Lease with LeaseFilter::kIdleGroups answers
//   nothing, so a spare lane is pointless here.
// - Attempts: Job::attempts_made counts starts (BullMQ's `ats`: every lease, also after a stall
//   or a Release), so it grows with every lease as the worker's fencing needs. Retries are
//   decided as BullMQ does, on failures (`atm`): a job is retried while failures + 1 < attempts.
// - Stalls are counted apart from attempts, as BullMQ does: a job whose lease lapsed goes back
//   to waiting (`stc` + 1) once the stall check has seen it twice; the one that stalls more
//   than `max_stalled_count` times fails with "job stalled more than allowable limit" when it is
//   next leased (BullMQ's deferred failure), and ReclaimExpired reports it.
// - Cancel of an active job drops its lock first (BullMQ refuses to remove a locked job): its
//   worker loses the lease at its next call, as with the SQLite queue.
// - A caller-chosen id that exists: Conflict, as with the SQLite queue (BullMQ itself would
//   answer the existing job); nothing is added.
// - Priorities are BullMQ's: 0 (none) or 1 .. 2^21, smaller first; negative: InvalidArgument.
// - Release puts the job back at the head of waiting without counting a failure.
// - An expired lease is gone at once (the lock is a key with a time to live): its holder gets
//   NotFound, where the SQLite queue lets it finish until the lease is reclaimed.
// - Complete and a final Fail take the lane's next job in the same call (BullMQ's fetchNext),
//   under the same token; the lane's next Lease answers it. Closing the queue puts such a job back.
// - Custom ids follow BullMQ's rules: not an integer, no ':' (InvalidArgument).
// - Backoff: JobOptions' backoff is BullMQ's exponential backoff; jobs from Node keep theirs
//   (fixed or exponential, with jitter).
// - Retention: completed jobs are trimmed when they finish (BullMQ's removeOnComplete, the job's
//   own if it has one, else `keep_completed`) and by PruneCompleted.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/time.hpp"
#include "queue/queue.hpp"
#include "redis/redis_client.hpp"

namespace betterdev::queue {

struct RedisQueueOptions {
  redis::RedisUrl url;
  std::string queue_name = "file-processing";
  std::string prefix = "bull";  // keys are <prefix>:<queue_name>:<...>, as BullMQ's
  std::string bullmq_dir;       // the installed bullmq package whose scripts run
  // A job stalling (its lease lapsing) more often than this fails (BullMQ's maxStalledCount).
  int max_stalled_count = 1;
  // How often the stall check may run, across every worker of the queue (BullMQ's
  // stalledInterval); a lapsed lease is found within twice this.
  int64_t stalled_interval_ms = 30000;
  Retention keep_completed;  // for jobs whose own options say nothing
  std::chrono::milliseconds timeout{5000};  // connect and reply
};

// Loads the scripts and connects. InvalidArgument when the package cannot be read;
// Unavailable when Redis cannot be reached. `clock` (for timestamps) must outlive the queue.
Result<std::unique_ptr<JobQueue>> OpenRedisQueue(const RedisQueueOptions& options, const Clock& clock);

}  // namespace betterdev::queue
