// The embedded job queue: one SQLite database file of its own (so queue traffic never waits on
// the documents database's write lock), WAL, durable across restarts.
//
// Several processes may open the same file: every state change is one write transaction, and
// Lease picks and takes a job in a single UPDATE ... RETURNING, so a job is never leased twice. Within one process the
// writes share one connection behind a mutex (SQLite admits one writer at a time anyway, and
// this keeps the threads of one process off SQLite's sleeping busy handler); Get and Counts read
// from their own connections.
#pragma once

#include <memory>
#include <string>

#include "core/time.hpp"
#include "queue/queue.hpp"

namespace betterdev::queue {

struct SqliteQueueOptions {
  // How long a write waits for another process's write lock before answering Unavailable.
  int busy_timeout_ms = 10000;
  // false (default): synchronous=NORMAL. In WAL mode a crash of the process loses nothing, but
  // an OS crash or power cut may lose the last transactions before the WAL was synced (an
  // enqueue the API already acknowledged, a completion that then reruns). The file stays
  // consistent. true: synchronous=FULL, an fsync per commit — durable, and much slower.
  bool synchronous_full = false;
  int read_connections = 2;  // for Get and Counts
};

// Opens (creating and migrating if needed) the queue database at `path`. `clock` must outlive
// the queue. Unavailable when the file cannot be opened; Internal when its schema is newer than
// this binary knows.
Result<std::unique_ptr<JobQueue>> OpenSqliteQueue(const std::string& path, const Clock& clock,
                                                  const SqliteQueueOptions& options = {});

}  // namespace betterdev::queue
