// What workers tell the rest of the system while they process documents.
//
// Progress is also persisted in the document row (that is what GET /v1/documents/{id} reads);
// events are for what watches live: metrics now, pushed client notifications (ready_to_chat)
// with the real-time module. In the embedded default a worker writes events as JSON lines to
// a pipe its supervisor reads; scale-out will carry them over Redis.
#pragma once

#include <cstdint>
#include <optional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "realtime/event_log.hpp"

namespace betterdev::ingest {

struct IngestEvent {
  enum class Type { kProgress, kReady, kRetrying, kFailed };
  Type type = Type::kProgress;
  std::string user_id;
  std::string document_id;
  std::string job_id;
  int attempt = 0;
  // kProgress
  std::string stage;
  int progress = 0;
  int page = 0;
  int pages = 0;
  // kReady
  int64_t chunks = 0;
  int64_t bytes = 0;
  double extract_seconds = 0;  // reading the file, in the job process
  double chunk_seconds = 0;    // chunking, in the job process
  double embed_seconds = 0;    // embedding the chunks, in the worker
  double index_seconds = 0;    // storing the chunks, their vectors and keyword index
  // kRetrying, kFailed
  std::string error;
  int64_t retry_at_ms = 0;  // kRetrying: when the next attempt may start
};

std::string_view EventTypeName(IngestEvent::Type type);  // "progress", "ready", "retrying", "failed"

// One line of JSON, no newline.
std::string EncodeEvent(const IngestEvent& e);
std::optional<IngestEvent> DecodeEvent(std::string_view line);

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Must not block for long and must never fail the caller: events are best effort.
  virtual void Publish(const IngestEvent& e) = 0;
};

class NullEventSink final : public EventSink {
 public:
  void Publish(const IngestEvent&) override {}
};

// Hands each event to the real-time channels through the event log, as the event clients see
// (progress -> document.processing, ready -> document.ready, ...). Best effort.
class RealtimeEventSink final : public EventSink {
 public:
  explicit RealtimeEventSink(realtime::EventLog& log) : log_(log) {}
  void Publish(const IngestEvent& e) override;
  // The client's view of a worker's event.
  static realtime::Event Convert(const IngestEvent& e, int64_t now_ms);

 private:
  realtime::EventLog& log_;
};

// Publishes to every sink given (the supervisor's pipe for metrics, and the real-time log).
class TeeEventSink final : public EventSink {
 public:
  explicit TeeEventSink(std::vector<EventSink*> sinks) : sinks_(std::move(sinks)) {}
  void Publish(const IngestEvent& e) override {
    for (EventSink* s : sinks_) s->Publish(e);
  }

 private:
  std::vector<EventSink*> sinks_;
};

// Writes each event as a line to a file descriptor (a pipe to the supervisor). Thread-safe: a
// line is never interleaved with another's.
class FdEventSink final : public EventSink {
 public:
  explicit FdEventSink(int fd) : fd_(fd) {}
  void Publish(const IngestEvent& e) override;

 private:
  int fd_;
  std::mutex mu_;
};

}  // namespace betterdev::ingest
