// Real-time document events over Server-Sent Events: GET /v1/events (with Last-Event-ID to catch
// up), and POST /v1/events/ticket for browsers, whose EventSource cannot send a token.
#include <charconv>

#include "api/routes.hpp"

namespace betterdev::api {
namespace {

constexpr size_t kMaxStreamsPerUser = 32;
constexpr size_t kMaxStreams = 20000;

// One SSE subscriber: the hub's events for one user, as SSE events named by their type and
// carrying their seq as the SSE id (so EventSource sends it back as Last-Event-ID).
class EventStream final : public http::StreamProducer,
                          public realtime::Subscriber,
                          public std::enable_shared_from_this<EventStream> {
 public:
  EventStream(realtime::EventHub& hub, std::string user_id, std::optional<uint64_t> last_seen)
      : hub_(hub), user_id_(std::move(user_id)), last_seen_(last_seen) {}

  void Start(std::shared_ptr<http::StreamSink> sink) override {
    sink_ = std::move(sink);
    sink_->Send("retry: 2000\n\n");  // how long EventSource waits before reconnecting
    subscription_ = hub_.Subscribe(user_id_, last_seen_, shared_from_this()).id;
    subscribed_ = true;
  }
  void Stop(http::StreamEnd why) override {
    if (subscribed_) hub_.Unsubscribe(user_id_, subscription_);
    subscribed_ = false;
    if (why == http::StreamEnd::kShutdown) sink_->Finish();  // ends cleanly; EventSource reconnects elsewhere
  }

  void OnEvent(const realtime::Event& e) override {
    JsonWriter w;
    WriteEvent(w, e);
    sink_->Send(http::SseEvent(realtime::EventTypeName(e.type), w.Take(), std::to_string(e.seq)));
  }
  void OnResync() override {
    sink_->Send(http::SseEvent("resync", R"({"reason":"events after the last id you saw are no longer kept; re-read your documents"})"));
  }

 private:
  realtime::EventHub& hub_;
  std::string user_id_;
  std::optional<uint64_t> last_seen_;
  std::shared_ptr<http::StreamSink> sink_;
  uint64_t subscription_ = 0;
  bool subscribed_ = false;  // Start and Stop run on the connection's thread
};

// A browser may connect from the allowed origins (--cors-origins) or this server's own.
bool OriginAllowed(const http::Request& req, const HttpConfig& config) {
  const std::string* origin = req.FindHeader("Origin");
  if (origin == nullptr) return true;  // not a browser's cross-site request
  for (const std::string& o : config.cors_origins)
    if (o == "*" || o == *origin) return true;
  const std::string* host = req.FindHeader("Host");
  return host != nullptr && (*origin == "http://" + *host || *origin == "https://" + *host);
}

}  // namespace

void WriteEvent(JsonWriter& w, const realtime::Event& e) {
  w.BeginObject().Key("id").Int(static_cast<int64_t>(e.seq)).Key("type").String(realtime::EventTypeName(e.type));
  w.Key("user_id").String(e.user_id).Key("document_id").String(e.document_id).Key("at").Timestamp(e.at_ms);
  switch (e.type) {
    case realtime::EventType::kProcessing:
      w.Key("stage").String(e.stage).Key("progress").Int(e.progress).Key("page").Int(e.page).Key("pages").Int(e.pages);
      break;
    case realtime::EventType::kReady:
      w.Key("status").String("ready_to_chat").Key("chunks").Int(e.chunks).Key("pages").Int(e.pages);
      break;
    case realtime::EventType::kFailed:
      w.Key("reason").String(e.reason).Key("attempts").Int(e.attempts);
      break;
    case realtime::EventType::kRetrying:
      w.Key("reason").String(e.reason).Key("attempt").Int(e.attempts);
      break;
    case realtime::EventType::kQueued:
    case realtime::EventType::kDeleted:
      break;
  }
  w.EndObject();
}

void RegisterEventRoutes(ApiRouter& r, Services& s) {
  using http::Method;
  r.Authed(Method::kPost, "/v1/events/ticket",
           {"A single-use ticket (valid 60 s) for GET /v1/events?ticket=... from a browser", "events", {}, 200,
            {{"type", "object"}}},
           [&s](http::Request&, const auth::Principal& who) {
             JsonWriter w;
             w.BeginObject().Key("ticket").String(s.tickets.Issue(who.user_id));
             w.Key("expires_in").Int(s.tickets.ttl_seconds()).EndObject();
             return http::Response::Json(200, w.Take());
           });

  OperationDoc doc{"Your documents' events as they happen (Server-Sent Events): document.queued, "
                   "document.processing, document.ready, document.failed, document.retrying, document.deleted",
                   "events", {}, 200, {{"type", "string"}}, "text/event-stream"};
  doc.errors = {400, 401, 403, 429};
  doc.query_params = Json::array(
      {{{"name", "ticket"}, {"in", "query"}, {"schema", {{"type", "string"}}}, {"description", "from POST /v1/events/ticket, instead of a Bearer token"}},
       {{"name", "last_event_id"}, {"in", "query"}, {"schema", {{"type", "integer"}}}, {"description", "as the Last-Event-ID header: replay what came after"}}});
  r.Public(Method::kGet, "/v1/events", doc, [&s, &r](http::Request& req) {
    std::string user_id;
    if (auto ticket = req.QueryParam("ticket")) {
      auto user = s.tickets.Redeem(*ticket);
      if (!user) return ErrorResponse(HttpError{401, "unauthorized", "the ticket is unknown, used or expired"});
      user_id = *user;
    } else {
      auto who = r.Authenticate(req);
      if (auto* denied = std::get_if<http::Response>(&who)) return std::move(*denied);
      user_id = std::get<auth::Principal>(who).user_id;
    }
    if (!OriginAllowed(req, s.http)) {
      return ErrorResponse(HttpError{403, "forbidden", "this origin may not connect (see --cors-origins)"});
    }
    std::optional<uint64_t> last_seen;
    const std::string* header = req.FindHeader("Last-Event-ID");
    std::optional<std::string> param = req.QueryParam("last_event_id");
    if (header != nullptr || param) {
      const std::string& text = header != nullptr ? *header : *param;
      uint64_t v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size()) {
        return ErrorResponse(HttpError{400, "invalid_request", "Last-Event-ID must be an event id (an integer)"});
      }
      last_seen = v;
    }
    if (s.events.subscribers(user_id) >= kMaxStreamsPerUser) {
      return ErrorResponse(HttpError{429, "rate_limited", "too many open event streams for this user (at most 32)", 5});
    }
    if (s.events.subscribers() >= kMaxStreams) {
      return ErrorResponse(HttpError{503, "unavailable", "too many open event streams on this server", 5});
    }
    http::StreamOptions o;
    o.heartbeat_interval = std::chrono::seconds(15);
    o.heartbeat = ": heartbeat\n\n";
    o.max_queued_bytes = 1u << 20;  // a client this far behind is cut off; it reconnects with its last id
    http::Response res = http::Response::Stream(200, "text/event-stream; charset=utf-8",
                                                std::make_shared<EventStream>(s.events, user_id, last_seen), o);
    res.WithHeader("Cache-Control", "no-cache").WithHeader("X-Accel-Buffering", "no");
    return res;
  });
}

}  // namespace betterdev::api
