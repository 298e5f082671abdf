#include "ingest/events.hpp"

#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "core/time.hpp"

namespace betterdev::ingest {

using Json = nlohmann::json;

std::string_view EventTypeName(IngestEvent::Type type) {
  switch (type) {
    case IngestEvent::Type::kProgress: return "progress";
    case IngestEvent::Type::kReady: return "ready";
    case IngestEvent::Type::kRetrying: return "retrying";
    case IngestEvent::Type::kFailed: return "failed";
  }
  return "progress";
}

std::string EncodeEvent(const IngestEvent& e) {
  Json j = {{"type", EventTypeName(e.type)}, {"user_id", e.user_id}, {"document_id", e.document_id},
            {"job_id", e.job_id}, {"attempt", e.attempt}};
  switch (e.type) {
    case IngestEvent::Type::kProgress:
      j.update({{"stage", e.stage}, {"progress", e.progress}, {"page", e.page}, {"pages", e.pages}});
      break;
    case IngestEvent::Type::kReady:
      j.update({{"pages", e.pages}, {"chunks", e.chunks}, {"bytes", e.bytes}, {"extract_seconds", e.extract_seconds},
                {"chunk_seconds", e.chunk_seconds},
                {"embed_seconds", e.embed_seconds},
                {"index_seconds", e.index_seconds}});
      break;
    case IngestEvent::Type::kRetrying:
    case IngestEvent::Type::kFailed:
      j["error"] = e.error;
      break;
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<IngestEvent> DecodeEvent(std::string_view line) {
  Json j = Json::parse(line, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  IngestEvent e;
  std::string type = j.value("type", "");
  if (type == "progress") e.type = IngestEvent::Type::kProgress;
  else if (type == "ready") e.type = IngestEvent::Type::kReady;
  else if (type == "retrying") e.type = IngestEvent::Type::kRetrying;
  else if (type == "failed") e.type = IngestEvent::Type::kFailed;
  else return std::nullopt;
  try {
    e.user_id = j.value("user_id", "");
    e.document_id = j.value("document_id", "");
    e.job_id = j.value("job_id", "");
    e.attempt = j.value("attempt", 0);
    e.stage = j.value("stage", "");
    e.progress = j.value("progress", 0);
    e.page = j.value("page", 0);
    e.pages = j.value("pages", 0);
    e.chunks = j.value("chunks", int64_t{0});
    e.bytes = j.value("bytes", int64_t{0});
    e.extract_seconds = j.value("extract_seconds", 0.0);
    e.chunk_seconds = j.value("chunk_seconds", 0.0);
    e.embed_seconds = j.value("embed_seconds", 0.0);
    e.index_seconds = j.value("index_seconds", 0.0);
    e.error = j.value("error", "");
  } catch (const Json::exception&) {
    return std::nullopt;  // a field of the wrong type
  }
  return e;
}

void FdEventSink::Publish(const IngestEvent& e) {
  std::string line = EncodeEvent(e);
  line.push_back('\n');
  std::lock_guard lock(mu_);
  std::string_view rest(line);
  while (!rest.empty()) {
    ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the supervisor is gone; events are best effort
    rest.remove_prefix(static_cast<size_t>(n));
  }
}

realtime::Event RealtimeEventSink::Convert(const IngestEvent& e, int64_t now_ms) {
  realtime::Event out;
  out.user_id = e.user_id;
  out.document_id = e.document_id;
  out.at_ms = now_ms;
  switch (e.type) {
    case IngestEvent::Type::kProgress:
      out.type = realtime::EventType::kProcessing;
      out.stage = e.stage;
      out.progress = e.progress;
      out.page = e.page;
      out.pages = e.pages;
      break;
    case IngestEvent::Type::kReady:
      out.type = realtime::EventType::kReady;
      out.chunks = e.chunks;
      out.pages = e.pages;
      out.progress = 100;
      break;
    case IngestEvent::Type::kRetrying:
      out.type = realtime::EventType::kRetrying;
      out.reason = e.error;
      out.attempts = e.attempt;
      out.next_attempt_at_ms = e.retry_at_ms;
      break;
    case IngestEvent::Type::kFailed:
      out.type = realtime::EventType::kFailed;
      out.reason = e.error;
      out.attempts = e.attempt;
      break;
  }
  return out;
}

void RealtimeEventSink::Publish(const IngestEvent& e) {
  (void)log_.Append(Convert(e, SystemClock().NowMillis()));  // best effort: never the job's failure
}

}  // namespace betterdev::ingest
