// The transport that carries events from the processes that make them (workers, the API
// itself) to the API processes that hold clients. One interface; the embedded default is a
// SQLite file beside the queue (sqlite/), which every process of one machine can append to and
// the API can tail; the Redis transport of the scale-out issue goes behind the same interface.
//
// Appending is best effort and must never block its caller for long or fail its work: a
// worker's job does not fail because an event could not be written.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "realtime/event.hpp"

namespace betterdev::realtime {

class EventLog {
 public:
  virtual ~EventLog() = default;
  // Appends `e` (its seq is assigned here). Unavailable when it could not be written in time.
  virtual Status Append(const Event& e) = 0;
  // Events with seq > after, in seq order, at most `limit`.
  virtual Result<std::vector<Event>> ReadAfter(uint64_t after, int limit) = 0;
  // The largest seq so far (0 when none).
  virtual Result<uint64_t> LastSeq() = 0;
};

struct SqliteEventLogOptions {
  int busy_timeout_ms = 100;         // an append waits at most this long for another writer
  int64_t keep_ms = 24 * 3600 * 1000;  // events older than this are pruned (by the reader)
};

// The embedded transport: `path` (created if missing, WAL), shared by the processes of one
// machine. Thread-safe.
Result<std::unique_ptr<EventLog>> OpenSqliteEventLog(const std::string& path, const SqliteEventLogOptions& options = {});

}  // namespace betterdev::realtime
