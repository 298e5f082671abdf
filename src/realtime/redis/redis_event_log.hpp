// The event transport across machines: a Redis stream every worker and API process appends to
// and every API process tails, so a client connected to any API process sees the events of
// every worker. Each event's seq comes from a counter incremented in the same script that adds
// it (the stream entry's id is 0-<seq>), so seq order is stream order and "seq > the last I
// saw" skips nothing. The stream keeps the newest `max_events` (trimmed approximately): the
// replay window of reconnecting clients.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "realtime/event_log.hpp"
#include "redis/redis_client.hpp"

namespace betterdev::realtime {

struct RedisEventLogOptions {
  redis::RedisUrl url;
  // The stream; its counter is <key>:seq. The {hash tag} keeps both in one Redis Cluster slot.
  std::string key = "betterdev:{file-processing}:events";
  int64_t max_events = 100000;
  std::chrono::milliseconds timeout{2000};
};

// Unavailable when Redis cannot be reached now (appends later reconnect on their own).
Result<std::unique_ptr<EventLog>> OpenRedisEventLog(const RedisEventLogOptions& options);

}  // namespace betterdev::realtime
