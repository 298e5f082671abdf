// Real-time document events over Server-Sent Events: GET /v1/events (with Last-Event-ID to catch
// up), and POST /v1/events/ticket for browsers, whose EventSource cannot send a token.
#include <charconv>
#include <mutex>
#include <set>

#include "api/routes.hpp"

namespace betterdev::api {
namespace {

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

// The plain WebSocket channel: the same events as JSON messages {"event", "data", "id"}; a
// client may narrow them to some documents ({"type":"subscribe","document_id":...}, and
// "unsubscribe"); {"type":"ping"} is answered with {"event":"pong"}.
class WsEvents final : public http::WebSocketHandler,
                       public realtime::Subscriber,
                       public std::enable_shared_from_this<WsEvents> {
 public:
  WsEvents(realtime::EventHub& hub, store::Store& store, std::string user_id, std::optional<uint64_t> since)
      : hub_(hub), store_(store), user_id_(std::move(user_id)), since_(since) {}

  void OnOpen(std::shared_ptr<http::WebSocketSink> sink) override {
    {
      std::lock_guard lock(mu_);
      sink_ = std::move(sink);
    }
    subscription_ = hub_.Subscribe(user_id_, since_, shared_from_this()).id;
    subscribed_ = true;
  }
  void OnMessage(std::string message, bool binary) override {
    Json m = binary ? Json() : Json::parse(message, nullptr, false);
    if (!m.is_object() || !m.contains("type") || !m["type"].is_string()) {
      return Reply("error", R"({"message":"messages are JSON objects with a type: subscribe, unsubscribe or ping"})");
    }
    const std::string type = m["type"].get<std::string>();
    if (type == "ping") return Reply("pong", "{}");
    if (type != "subscribe" && type != "unsubscribe") return Reply("error", R"({"message":"unknown type"})");
    if (!m.contains("document_id") || !m["document_id"].is_string()) {
      return Reply("error", R"({"message":"document_id is required"})");
    }
    const std::string doc = m["document_id"].get<std::string>();
    JsonWriter w;
    w.BeginObject().Key("document_id").String(doc).EndObject();
    if (type == "subscribe") {
      if (!store_.documents().Get(user_id_, doc).ok()) {
        JsonWriter e;
        e.BeginObject().Key("message").String("no such document: " + doc).Key("document_id").String(doc).EndObject();
        return Reply("error", e.Take());
      }
      std::lock_guard lock(mu_);
      documents_.insert(doc);
    } else {
      std::lock_guard lock(mu_);
      documents_.erase(doc);
    }
    Reply(type == "subscribe" ? "subscribed" : "unsubscribed", w.Take());
  }
  void OnClose(http::StreamEnd) override {
    if (subscribed_) hub_.Unsubscribe(user_id_, subscription_);
    subscribed_ = false;
  }

  void OnEvent(const realtime::Event& e) override {
    std::shared_ptr<http::WebSocketSink> sink;
    {
      std::lock_guard lock(mu_);
      if (!documents_.empty() && !documents_.count(e.document_id)) return;
      sink = sink_;
    }
    JsonWriter data;
    WriteEvent(data, e);
    JsonWriter w;
    w.BeginObject().Key("event").String(realtime::EventTypeName(e.type)).Key("data").Raw(data.Take());
    w.Key("id").Int(static_cast<int64_t>(e.seq)).EndObject();
    if (sink) sink->Send(w.Take());
  }
  void OnResync() override {
    Reply("resync", R"({"reason":"events after the id you gave are no longer kept; re-read your documents"})");
  }

 private:
  void Reply(std::string_view event, std::string data) {
    std::shared_ptr<http::WebSocketSink> sink;
    {
      std::lock_guard lock(mu_);
      sink = sink_;
    }
    if (!sink) return;
    JsonWriter w;
    w.BeginObject().Key("event").String(event).Key("data").Raw(data).EndObject();
    sink->Send(w.Take());
  }

  realtime::EventHub& hub_;
  store::Store& store_;
  std::string user_id_;
  std::optional<uint64_t> since_;
  uint64_t subscription_ = 0;
  bool subscribed_ = false;  // OnOpen and OnClose run on the connection's thread
  std::mutex mu_;
  std::shared_ptr<http::WebSocketSink> sink_;  // guarded by mu_
  std::set<std::string> documents_;            // guarded by mu_; empty: every document
};

}  // namespace

std::string ChannelLimit(Services& s, const std::string& user_id) {
  if (s.events.subscribers(user_id) >= s.http.event_channels_per_user) {
    return "too many open event channels for this user (at most " + std::to_string(s.http.event_channels_per_user) + ")";
  }
  if (s.events.subscribers() >= s.http.event_channels) return "too many open event channels on this server";
  return "";
}

bool OriginAllowed(const http::Request& req, const HttpConfig& config) {
  const std::string* origin = req.FindHeader("Origin");
  if (origin == nullptr) return true;  // not a browser's cross-site request
  for (const std::string& o : config.cors_origins)
    if (o == "*" || o == *origin) return true;
  const std::string* host = req.FindHeader("Host");
  return host != nullptr && (*origin == "http://" + *host || *origin == "https://" + *host);
}

namespace {
// Who connects to a channel, from where, and from which event on; or the refusal.
struct Channel {
  std::string user_id;
  std::optional<uint64_t> last_seen;
  std::optional<http::Response> refused;
};
Channel OpenChannel(const http::Request& req, ApiRouter& r, Services& s, const char* header_name, const char* param_name) {
  Channel c;
  if (auto ticket = req.QueryParam("ticket")) {
    auto user = s.tickets.Redeem(*ticket);
    if (!user) {
      c.refused = ErrorResponse(HttpError{401, "unauthorized", "the ticket is unknown, used or expired"});
      return c;
    }
    c.user_id = *user;
  } else {
    auto who = r.Authenticate(req);
    if (auto* denied = std::get_if<http::Response>(&who)) {
      c.refused = std::move(*denied);
      return c;
    }
    c.user_id = std::get<auth::Principal>(who).user_id;
  }
  if (!OriginAllowed(req, s.http)) {
    c.refused = ErrorResponse(HttpError{403, "forbidden", "this origin may not connect (see --cors-origins)"});
    return c;
  }
  const std::string* header = header_name ? req.FindHeader(header_name) : nullptr;
  std::optional<std::string> param = req.QueryParam(param_name);
  if (header != nullptr || param) {
    const std::string& text = header != nullptr ? *header : *param;
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) {
      c.refused = ErrorResponse(HttpError{400, "invalid_request", std::string(param_name) + " must be an event id (an integer)"});
      return c;
    }
    c.last_seen = v;
  }
  if (std::string why = ChannelLimit(s, c.user_id); !why.empty()) {
    const bool per_user = s.events.subscribers(c.user_id) >= s.http.event_channels_per_user;
    c.refused = ErrorResponse(HttpError{per_user ? 429 : 503, per_user ? "rate_limited" : "unavailable", why, 5});
  }
  return c;
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
      w.Key("reason").String(e.reason).Key("attempt").Int(e.attempts).Key("next_attempt_at");
      if (e.next_attempt_at_ms > 0) w.Timestamp(e.next_attempt_at_ms);
      else w.Null();
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
    Channel c = OpenChannel(req, r, s, "Last-Event-ID", "last_event_id");
    if (c.refused) return std::move(*c.refused);
    const std::string user_id = c.user_id;
    const std::optional<uint64_t> last_seen = c.last_seen;
    http::StreamOptions o;
    o.heartbeat_interval = std::chrono::seconds(15);
    o.heartbeat = ": heartbeat\n\n";
    o.max_queued_bytes = 1u << 20;  // a client this far behind is cut off; it reconnects with its last id
    http::Response res = http::Response::Stream(200, "text/event-stream; charset=utf-8",
                                                std::make_shared<EventStream>(s.events, user_id, last_seen), o);
    res.WithHeader("Cache-Control", "no-cache").WithHeader("X-Accel-Buffering", "no");
    return res;
  });

  OperationDoc ws{"Your documents' events over a WebSocket: messages {event, data, id}; send "
                  "{type: subscribe|unsubscribe, document_id} to narrow them, {type: ping} for a pong",
                  "events", {}, 101, {}};
  ws.errors = {400, 401, 403, 426, 429};
  ws.query_params = Json::array(
      {{{"name", "ticket"}, {"in", "query"}, {"schema", {{"type", "string"}}}, {"description", "from POST /v1/events/ticket, instead of a Bearer token"}},
       {{"name", "since"}, {"in", "query"}, {"schema", {{"type", "integer"}}}, {"description", "the last event id seen: replay what came after"}}});
  r.Public(Method::kGet, "/v1/ws", ws, [&s, &r](http::Request& req) {
    Channel c = OpenChannel(req, r, s, nullptr, "since");
    if (c.refused) return std::move(*c.refused);
    http::WebSocketOptions o;
    o.max_message_bytes = 64 * 1024;
    o.max_queued_bytes = 1u << 20;
    o.idle_timeout = std::chrono::seconds(30);
    return http::Response::WebSocket(std::make_shared<WsEvents>(s.events, s.store, c.user_id, c.last_seen), o);
  });
}

}  // namespace betterdev::api
