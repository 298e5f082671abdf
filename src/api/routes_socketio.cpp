// The Socket.IO gateway at /socket.io/ (protocol v5 over Engine.IO v4, both transports): what a
// front end written for the NestJS design's gateway connects to with an unmodified
// socket.io-client.
//   - auth: io(url, {auth: {token}}) with a Bearer token or an API key; a bad or missing one is
//     refused in the CONNECT answer, so the client hears `connect_error` (never a connect then a
//     disconnect). Browsers must come from an allowed origin; channel limits as for SSE.
//   - events: the user's document events, emitted by name ("document.ready", ...) with the
//     event's JSON and, last, its id as a string: socket.io-client's connection state recovery
//     sends that back on reconnection (auth.offset) and is given what it missed, or a `resync`
//     event when it is no longer kept.
//   - rooms: every socket is in its user's room ("user:<id>"); emit('subscribe', {document_id},
//     ack) joins the document's room, after which the socket hears only the documents it joined
//     ('unsubscribe' leaves); another user's or a missing document is an error in the ack.
//   - namespaces other than "/" are refused with the protocol's error packet.
#include <charconv>
#include <mutex>
#include <set>

#include "api/routes.hpp"
#include "core/random.hpp"
#include "core/timer_queue.hpp"
#include "socketio/server.hpp"

namespace betterdev::api {
namespace {

using socketio::Json;

// The hub hands one event to every subscriber of its user in turn (under its lock): the packet
// is encoded once, for all of them.
class EncodedEvents {
 public:
  std::shared_ptr<const socketio::PreparedEvent> Get(const realtime::Event& e) {
    std::lock_guard lock(mu_);
    if (last_ && seq_ == e.seq) return last_;
    JsonWriter w;
    WriteEvent(w, e);
    JsonWriter offset;
    offset.String(std::to_string(e.seq));
    last_ = std::make_shared<socketio::PreparedEvent>(
        socketio::PrepareEvent("/", realtime::EventTypeName(e.type), {w.Take(), offset.Take()}));
    seq_ = e.seq;
    return last_;
  }

 private:
  std::mutex mu_;
  uint64_t seq_ = 0;                                       // guarded by mu_
  std::shared_ptr<const socketio::PreparedEvent> last_;  // guarded by mu_
};

class GatewaySocket final : public socketio::SocketHandler,
                            public realtime::Subscriber,
                            public std::enable_shared_from_this<GatewaySocket> {
 public:
  GatewaySocket(Services& s, EncodedEvents& encoded, std::string user_id, std::optional<uint64_t> last_seen)
      : s_(s), encoded_(encoded), user_id_(std::move(user_id)), last_seen_(last_seen) {}

  void OnConnect(const std::shared_ptr<socketio::Socket>& socket) override {
    {
      std::lock_guard lock(mu_);
      socket_ = socket;
    }
    socket->Join("user:" + user_id_);
    realtime::EventHub::Subscription sub = s_.events.Subscribe(user_id_, last_seen_, shared_from_this());
    std::lock_guard lock(mu_);
    subscription_ = sub.id;
    if (gone_) s_.events.Unsubscribe(user_id_, subscription_);  // it left while subscribing
  }

  void OnEvent(const std::shared_ptr<socketio::Socket>& socket, const std::string& name, Json args,
               std::vector<std::string>, socketio::Ack ack) override {
    auto reply = [&ack](Json body) {
      if (ack) ack(Json::array({std::move(body)}), {});
    };
    if (name == "ping") return reply(Json{{"pong", true}});
    if (name != "subscribe" && name != "unsubscribe") {
      return reply(Json{{"error", {{"code", "unknown_event"}, {"message", "events: subscribe, unsubscribe, ping"}}}});
    }
    const Json* body = args.empty() ? nullptr : &args[0];
    if (body == nullptr || !body->is_object() || !body->contains("document_id") || !(*body)["document_id"].is_string()) {
      return reply(Json{{"error", {{"code", "invalid_request"}, {"message", "document_id is required"}}}});
    }
    const std::string doc = (*body)["document_id"].get<std::string>();
    if (name == "subscribe") {
      if (!s_.store.documents().Get(user_id_, doc).ok()) {
        return reply(Json{{"error", {{"code", "not_found"}, {"message", "no such document: " + doc}}}});
      }
      socket->Join("document:" + doc);
      std::lock_guard lock(mu_);
      documents_.insert(doc);
    } else {
      socket->Leave("document:" + doc);
      std::lock_guard lock(mu_);
      documents_.erase(doc);
    }
    reply(Json{{"ok", true}, {"document_id", doc}});
  }

  void OnDisconnect(const std::shared_ptr<socketio::Socket>&, std::string_view) override {
    std::lock_guard lock(mu_);
    gone_ = true;
    socket_.reset();
    if (subscription_ != 0) s_.events.Unsubscribe(user_id_, subscription_);
  }

  // From the hub (under its lock: only queue here).
  void OnEvent(const realtime::Event& e) override {
    std::shared_ptr<socketio::Socket> socket;
    {
      std::lock_guard lock(mu_);
      if (!documents_.empty() && !documents_.count(e.document_id)) return;
      socket = socket_;
    }
    if (socket) socket->Emit(*encoded_.Get(e));
  }
  void OnResync() override {
    // Called from Subscribe, inside OnConnect: the socket is set.
    std::shared_ptr<socketio::Socket> socket;
    {
      std::lock_guard lock(mu_);
      socket = socket_;
    }
    if (socket) {
      socket->Emit("resync", Json::array({Json{{"reason", "events after the last one you saw are no longer kept; re-read your documents"}}}));
    }
  }

 private:
  Services& s_;
  EncodedEvents& encoded_;
  const std::string user_id_;
  const std::optional<uint64_t> last_seen_;
  std::mutex mu_;
  std::shared_ptr<socketio::Socket> socket_;  // guarded by mu_
  std::set<std::string> documents_;           // guarded by mu_; empty: every document of the user
  uint64_t subscription_ = 0;                 // guarded by mu_
  bool gone_ = false;                         // guarded by mu_
};

socketio::Refuse Refused(std::string_view code, std::string_view message) {
  return socketio::Refuse{Json{{"message", std::string(message)}, {"data", {{"code", std::string(code)}}}}};
}

class GatewayNamespace final : public socketio::Namespace {
 public:
  explicit GatewayNamespace(Services& s) : s_(s) {}

  std::variant<socketio::Accept, socketio::Refuse> Connect(const http::Request& handshake, const Json& auth) override {
    if (!OriginAllowed(handshake, s_.http)) return Refused("forbidden", "this origin may not connect (see --cors-origins)");
    if (!auth.contains("token") || !auth["token"].is_string()) {
      return Refused("unauthorized", "auth.token is required: a Bearer token or an API key");
    }
    std::string token = auth["token"].get<std::string>();
    if (token.compare(0, 7, "Bearer ") == 0) token.erase(0, 7);
    auto who = s_.auth.Authenticate(token);
    if (!who.ok()) return Refused("unauthorized", "the token is invalid or expired");
    const std::string& user_id = who->user_id;
    if (std::string why = ChannelLimit(s_, user_id); !why.empty()) return Refused("rate_limited", why);
    // Connection state recovery: the client sends back the id of the last event it received.
    std::optional<uint64_t> last_seen;
    std::string pid;
    if (auth.contains("pid") && auth["pid"].is_string() && auth.contains("offset") && auth["offset"].is_string()) {
      const std::string offset = auth["offset"].get<std::string>();
      uint64_t v = 0;
      auto [end, ec] = std::from_chars(offset.data(), offset.data() + offset.size(), v);
      if (ec == std::errc() && end == offset.data() + offset.size()) {
        last_seen = v;
        pid = auth["pid"].get<std::string>();
      }
    }
    if (pid.empty()) {
      std::string bytes(15, '\0');
      SecureRandomBytes(bytes.data(), bytes.size());
      pid = Base64UrlEncode(bytes);
    }
    socketio::Accept a{std::make_shared<GatewaySocket>(s_, encoded_, user_id, last_seen)};
    a.extra = Json{{"pid", pid}};
    return a;
  }

 private:
  Services& s_;
  EncodedEvents encoded_;
};

// The gateway lives as long as the routes that reach it.
struct Gateway {
  explicit Gateway(Services& s) : server(timers, Options(s)) {
    server.AddNamespace("/", std::make_shared<GatewayNamespace>(s));
  }
  static socketio::ServerOptions Options(Services& s) {
    socketio::ServerOptions o;
    o.engine.max_sessions = s.http.event_channels;
    return o;
  }
  TimerQueue timers;  // before the server, which uses it until it is gone
  socketio::Server server;
};

}  // namespace

void RegisterSocketIoRoutes(ApiRouter& r, Services& s) {
  auto gateway = std::make_shared<Gateway>(s);
  http::RouteOptions o;
  o.body_limit = gateway->server.engine_options().max_payload;
  OperationDoc get{"Socket.IO (protocol v5, Engine.IO v4) gateway: long-polling and WebSocket; connect with "
                   "socket.io-client and auth: {token}; events are emitted by name",
                   "events", {}, 200, {{"type", "string"}}, "text/plain"};
  get.errors = {400};
  r.Public(http::Method::kGet, "/socket.io/", get, [gateway](http::Request& req) { return gateway->server.Handle(req); }, o);
  OperationDoc post{"Socket.IO long-polling: the client's packets", "events", {}, 200, {{"type", "string"}}, "text/html"};
  post.errors = {400};
  r.Public(http::Method::kPost, "/socket.io/", post, [gateway](http::Request& req) { return gateway->server.Handle(req); }, o);
  s.metrics.DeclareGauge("betterdev_socketio_connections", "Open Socket.IO (Engine.IO) sessions.");
  s.metrics.AddCollector([weak = std::weak_ptr<Gateway>(gateway)](MetricsRegistry& m) {
    if (auto g = weak.lock()) m.Set("betterdev_socketio_connections", "", static_cast<double>(g->server.engine_sessions()));
  });
}

}  // namespace betterdev::api
