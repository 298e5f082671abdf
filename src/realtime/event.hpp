// What clients are told about their documents, live: the events of the real-time channels.
//
//   document.queued      an upload (or a reprocess) was accepted
//   document.processing  {stage, progress, page, pages}
//   document.ready       {status: "ready_to_chat", chunks, pages}
//   document.failed      {reason, attempts}
//   document.retrying    {reason, attempt}
//   document.deleted
//
// Every event names its user and document and carries the time it happened and an id (`seq`)
// that only grows, for every user alike, so a client can say what it saw last. Typed here;
// formatted as JSON only by the channels (api).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace betterdev::realtime {

enum class EventType { kQueued, kProcessing, kReady, kFailed, kRetrying, kDeleted };

// "document.queued", ...
std::string_view EventTypeName(EventType type);
std::optional<EventType> ParseEventType(std::string_view name);

struct Event {
  uint64_t seq = 0;  // set by the event log when appended
  EventType type = EventType::kQueued;
  std::string user_id;
  std::string document_id;
  int64_t at_ms = 0;
  // processing
  std::string stage;
  int progress = 0;
  int page = 0;
  int pages = 0;
  // ready
  int64_t chunks = 0;
  // failed, retrying
  std::string reason;
  int attempts = 0;  // failed: attempts made; retrying: the attempt that failed
  int64_t next_attempt_at_ms = 0;  // retrying: when the next attempt may start
};

}  // namespace betterdev::realtime
