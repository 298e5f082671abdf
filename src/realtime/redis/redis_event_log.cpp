#include "realtime/redis/redis_event_log.hpp"

#include <charconv>

namespace betterdev::realtime {
namespace {

// KEYS[1] the stream, KEYS[2] its counter; ARGV[1] the length to keep, ARGV[2..] the fields.
// A counter behind the stream (lost, or restored older than it) catches up with the stream's
// last id, so appends never stop on "ID equal or smaller".
constexpr char kAppend[] = R"lua(
local seq = redis.call('INCR', KEYS[2])
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if last[1] then
  local n = tonumber(string.match(last[1][1], '^0%-(%d+)$')) or 0
  if n >= seq then
    seq = n + 1
    redis.call('SET', KEYS[2], seq)
  end
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '0-' .. seq, unpack(ARGV, 2))
return seq
)lua";

int64_t ToInt(const std::string& s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

class RedisEventLog final : public EventLog {
 public:
  explicit RedisEventLog(const RedisEventLogOptions& o)
      : o_(o), append_(redis::Script::Of("appendEvent", 2, kAppend)), pool_(o.url, o.timeout) {}

  Status Append(const Event& e) override {
    auto reply = pool_.Run(append_, {o_.key, o_.key + ":seq"},
                           {std::to_string(o_.max_events), "type", std::string(EventTypeName(e.type)), "user_id", e.user_id,
                            "document_id", e.document_id, "at", std::to_string(e.at_ms), "stage", e.stage, "progress",
                            std::to_string(e.progress), "page", std::to_string(e.page), "pages", std::to_string(e.pages),
                            "chunks", std::to_string(e.chunks), "reason", e.reason, "attempts", std::to_string(e.attempts),
                            "next_at", std::to_string(e.next_attempt_at_ms)});
    if (!reply.ok()) return reply.status();
    if (reply->type == redis::RedisReply::Type::kError) return Status::Unavailable("event not appended: " + reply->text);
    return Status::Ok();
  }

  Result<std::vector<Event>> ReadAfter(uint64_t after, int limit) override {
    auto reply = pool_.Command({"XRANGE", o_.key, "(0-" + std::to_string(after), "+", "COUNT", std::to_string(limit)});
    if (!reply.ok()) return reply.status();
    if (reply->type == redis::RedisReply::Type::kError) return Status::Unavailable("events not read: " + reply->text);
    std::vector<Event> out;
    for (const redis::RedisReply& entry : reply->elements) {
      if (entry.elements.size() != 2 || !entry.elements[0].text.starts_with("0-")) continue;
      Event e;
      e.seq = static_cast<uint64_t>(ToInt(entry.elements[0].text.substr(2)));
      bool typed = false;
      const auto& f = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < f.size(); i += 2) {
        const std::string& name = f[i].text;
        const std::string& value = f[i + 1].text;
        if (name == "type") {
          auto type = ParseEventType(value);
          typed = type.has_value();
          if (typed) e.type = *type;
        } else if (name == "user_id") e.user_id = value;
        else if (name == "document_id") e.document_id = value;
        else if (name == "at") e.at_ms = ToInt(value);
        else if (name == "stage") e.stage = value;
        else if (name == "progress") e.progress = static_cast<int>(ToInt(value));
        else if (name == "page") e.page = static_cast<int>(ToInt(value));
        else if (name == "pages") e.pages = static_cast<int>(ToInt(value));
        else if (name == "chunks") e.chunks = ToInt(value);
        else if (name == "reason") e.reason = value;
        else if (name == "attempts") e.attempts = static_cast<int>(ToInt(value));
        else if (name == "next_at") e.next_attempt_at_ms = ToInt(value);
      }
      if (typed) out.push_back(std::move(e));  // an event type a newer version added: skipped
    }
    return out;
  }

  Result<uint64_t> LastSeq() override {
    auto reply = pool_.Command({"GET", o_.key + ":seq"});
    if (!reply.ok()) return reply.status();
    return static_cast<uint64_t>(reply->is_nil() ? 0 : ToInt(reply->text));
  }

 private:
  const RedisEventLogOptions o_;
  const redis::Script append_;
  redis::RedisPool pool_;
};

}  // namespace

Result<std::unique_ptr<EventLog>> OpenRedisEventLog(const RedisEventLogOptions& options) {
  auto log = std::make_unique<RedisEventLog>(options);
  BD_RETURN_IF_ERROR(log->LastSeq().status());
  return std::unique_ptr<EventLog>(std::move(log));
}

}  // namespace betterdev::realtime
