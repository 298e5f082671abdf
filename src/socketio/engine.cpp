#include "socketio/engine.hpp"

#include <optional>
#include <vector>

#include "core/json_writer.hpp"
#include "core/random.hpp"

namespace betterdev::socketio {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kSeparator = '\x1e';
constexpr const char* kTextPlain = "text/plain; charset=UTF-8";

// Engine.IO's errors before a session answers: 400 with {code, message}.
enum ErrorCode { kTransportUnknown = 0, kSessionUnknown = 1, kBadHandshakeMethod = 2, kBadRequest = 3, kUnsupportedVersion = 5 };
http::Response EngineError(ErrorCode code, std::string_view message, int status = 400) {
  JsonWriter w;
  w.BeginObject().Key("code").Int(code).Key("message").String(message).EndObject();
  return http::Response::Json(status, w.Take());
}

// A packet: its type and data (built without `"4" + data`, which GCC 12 -O3 warns about).
std::string WithType(char type, std::string_view data) {
  std::string out;
  out.reserve(data.size() + 1);
  out.push_back(type);
  out.append(data);
  return out;
}

http::Response PollReply(std::string payload) { return http::Response::Text(200, kTextPlain, std::move(payload)); }

std::string NewSid() {
  std::string bytes(15, '\0');
  SecureRandomBytes(bytes.data(), bytes.size());
  return Base64UrlEncode(bytes);
}

bool IsUpgrade(const http::Request& req) {
  const std::string* up = req.FindHeader("Upgrade");
  return up != nullptr && http::EqualsIgnoreCase(*up, "websocket");
}

}  // namespace

std::string EncodePayload(const EnginePacket* packets, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out += kSeparator;
    if (packets[i].binary) {
      out += 'b';
      out += Base64Encode(packets[i].data);
    } else {
      out += packets[i].data;
    }
  }
  return out;
}

bool DecodePayload(std::string_view body, std::vector<EnginePacket>& out) {
  out.clear();
  for (;;) {
    const size_t end = body.find(kSeparator);
    std::string_view piece = body.substr(0, end);
    if (piece.empty()) return false;
    if (piece[0] == 'b') {
      std::optional<std::string> bytes = Base64Decode(piece.substr(1));
      if (!bytes) return false;
      out.push_back({std::move(*bytes), true});
    } else if (piece[0] >= '0' && piece[0] <= '6') {
      out.push_back({std::string(piece), false});
    } else {
      return false;
    }
    if (end == std::string_view::npos) return true;
    body.remove_prefix(end + 1);
  }
}

// One session. Its state is guarded by mu_; the sinks it writes to only queue (they never call
// back synchronously), so they are used under the lock, which keeps packets in order. The
// handler is called outside mu_, and deliveries of one session are serialized by deliver_mu_.
class EngineServer::Session final : public EngineSocket, public std::enable_shared_from_this<Session> {
 public:
  Session(EngineServer& server, std::string id, bool websocket)
      : server_(server), id_(std::move(id)), websocket_(websocket) {}

  const std::string& id() const override { return id_; }
  bool open() const override {
    std::lock_guard lock(mu_);
    return !closed_;
  }
  bool Send(std::string data, bool binary) override {
    return Enqueue(binary ? EnginePacket{std::move(data), true} : EnginePacket{WithType('4', data), false});
  }
  void Close(std::string reason) override { Terminate(std::move(reason), "1"); }

  // Starts the heartbeat and, for a WebSocket session, says hello on it.
  void Start(std::shared_ptr<http::WebSocketSink> ws) {
    std::lock_guard lock(mu_);
    if (ws) {
      ws_ = std::move(ws);
      ws_->Send(Handshake());
    }
    SchedulePing();
  }
  std::string Handshake() const {
    JsonWriter w;
    w.BeginObject().Key("sid").String(id_).Key("upgrades").BeginArray();
    if (!websocket_) w.String("websocket");
    const EngineOptions& o = server_.options_;
    w.EndArray().Key("pingInterval").Int(o.ping_interval.count()).Key("pingTimeout").Int(o.ping_timeout.count());
    w.Key("maxPayload").Int(static_cast<int64_t>(o.max_payload)).EndObject();
    return WithType('0', w.Take());
  }
  void MarkOpened() {
    std::lock_guard lock(mu_);
    opened_ = true;
  }

  // --- HTTP long-polling ---------------------------------------------------------------------
  // A GET: the queued packets at once, or a deferred response that waits for some.
  http::Response Poll();
  // A GET's deferred response started (or ended without an answer).
  void AttachPoll(const std::shared_ptr<http::StreamSink>& sink);
  void PollEnded(const std::shared_ptr<http::StreamSink>& sink, http::StreamEnd why);
  // A POST: the client's packets.
  http::Response Post(std::string_view body);

  // --- WebSocket -----------------------------------------------------------------------------
  // A WebSocket for this polling session opened: it is probed, then takes over on "5".
  bool BeginProbe(const std::shared_ptr<http::WebSocketSink>& sink);
  void OnWsMessage(const std::shared_ptr<http::WebSocketSink>& sink, std::string message, bool binary);
  void WsEnded(const std::shared_ptr<http::WebSocketSink>& sink, http::StreamEnd why);

  // Ends the session (once): a waiting poll gets `poll_packet` ("1" close, or "6" noop when the
  // client asked to close), WebSockets are closed, the handler hears OnClose(reason).
  void Terminate(std::string reason, const char* poll_packet = "1");

 private:
  bool Enqueue(EnginePacket p);
  void FlushPoll();  // mu_ held: answers the waiting poll with everything queued
  void SchedulePing();  // mu_ held
  void Ping();
  void Pong();
  bool PongOverdue() const { return awaiting_pong_ && Clock::now() >= pong_deadline_; }  // mu_ held
  // Hands the client's messages to the handler, in order, outside mu_.
  void Deliver(std::vector<EnginePacket>& messages);

  EngineServer& server_;
  const std::string id_;
  const bool websocket_;  // opened over a WebSocket (no upgrade offered)

  mutable std::mutex mu_;
  bool closed_ = false;
  bool opened_ = false;                         // the handler heard OnOpen
  bool upgraded_ = false;                       // the WebSocket carries the session
  bool probed_ = false;                         // the probe was answered; polling is paused
  bool too_slow_ = false;                       // over max_queued_bytes: closing
  const char* close_packet_ = "1";              // what a poll gets once closed
  bool owe_noop_ = false;                       // closed by the client's POST: its poll gets "6"
  bool poll_claimed_ = false;                   // a GET's deferred response is on its way to AttachPoll
  std::vector<EnginePacket> out_;               // for the next poll (a vector: an empty deque costs ~600 bytes)
  size_t out_bytes_ = 0;
  std::shared_ptr<http::StreamSink> poll_;      // the waiting GET
  std::shared_ptr<http::WebSocketSink> ws_;     // the transport, once upgraded (or from the start)
  std::shared_ptr<http::WebSocketSink> probe_;  // a WebSocket being probed
  bool awaiting_pong_ = false;
  Clock::time_point pong_deadline_;
  TimerQueue::Id ping_timer_ = 0, pong_timer_ = 0, upgrade_timer_ = 0;

  std::mutex deliver_mu_;
};

namespace {

// The deferred response of a GET that waits for packets.
class PollWaiter final : public http::StreamProducer {
 public:
  explicit PollWaiter(std::weak_ptr<EngineServer::Session> session) : session_(std::move(session)) {}
  // Dropped without ever starting (the request went no further): the session's claim ends.
  ~PollWaiter() override {
    if (sink_ || stopped_) return;
    if (auto s = session_.lock()) s->PollEnded(nullptr, http::StreamEnd::kClientGone);
  }
  void Start(std::shared_ptr<http::StreamSink> sink) override {
    sink_ = sink;
    if (auto s = session_.lock()) s->AttachPoll(sink);
    else sink->Reply(PollReply("1"));
  }
  void Stop(http::StreamEnd why) override {
    stopped_ = true;
    if (auto s = session_.lock()) s->PollEnded(sink_, why);
  }

 private:
  std::weak_ptr<EngineServer::Session> session_;
  std::shared_ptr<http::StreamSink> sink_;
  bool stopped_ = false;
};

// One WebSocket of the Engine.IO path: a new session, or the upgrade of a polling one.
class WsTransport final : public http::WebSocketHandler, public std::enable_shared_from_this<WsTransport> {
 public:
  // `session` null: the session is created when the handshake is done.
  WsTransport(EngineServer& server, std::function<std::shared_ptr<EngineServer::Session>(std::shared_ptr<http::WebSocketSink>)> open,
              std::shared_ptr<EngineServer::Session> session)
      : server_(server), open_(std::move(open)), session_(std::move(session)) {}

  void OnOpen(std::shared_ptr<http::WebSocketSink> sink) override {
    sink_ = sink;
    if (session_) {
      if (!session_->BeginProbe(sink)) sink->Close(1008, "the session cannot be upgraded");
      return;
    }
    session_ = open_(sink);
    open_ = nullptr;  // it held a copy of the handshake request
    if (!session_) sink->Close(1013, "too many sessions");
  }
  void OnMessage(std::string message, bool binary) override {
    if (session_) session_->OnWsMessage(sink_, std::move(message), binary);
  }
  void OnClose(http::StreamEnd why) override {
    if (session_) session_->WsEnded(sink_, why);
    session_.reset();
  }

 private:
  EngineServer& server_;
  std::function<std::shared_ptr<EngineServer::Session>(std::shared_ptr<http::WebSocketSink>)> open_;
  std::shared_ptr<EngineServer::Session> session_;
  std::shared_ptr<http::WebSocketSink> sink_;
};

}  // namespace

// --- Session ---------------------------------------------------------------------------------

bool EngineServer::Session::Enqueue(EnginePacket p) {
  bool overflow = false;
  {
    std::lock_guard lock(mu_);
    if (closed_ || too_slow_) return false;
    if (upgraded_ || (websocket_ && ws_)) {
      // Over its cap the WebSocket closes by itself; the session hears it in WsEnded.
      if (!ws_->Send(std::move(p.data), p.binary)) return false;
    } else {
      out_bytes_ += p.data.size();
      out_.push_back(std::move(p));
      if (out_bytes_ > server_.options_.max_queued_bytes) {
        overflow = too_slow_ = true;
        out_.clear();
        out_bytes_ = 0;
      } else if (poll_ && !probed_) {
        FlushPoll();
      }
    }
  }
  if (overflow) {
    // Not from here: Send is called from the handler's own callbacks (an event bus delivering
    // under its lock), which OnClose must not re-enter.
    std::weak_ptr<Session> weak = weak_from_this();
    server_.timers_.After(std::chrono::milliseconds(0), [weak] {
      if (auto s = weak.lock()) s->Terminate("too slow");
    });
  }
  return !overflow;
}

void EngineServer::Session::FlushPoll() {
  std::vector<EnginePacket> batch(std::make_move_iterator(out_.begin()), std::make_move_iterator(out_.end()));
  out_.clear();
  out_bytes_ = 0;
  poll_->Reply(PollReply(EncodePayload(batch.data(), batch.size())));
  poll_.reset();
}

void EngineServer::Session::SchedulePing() {
  std::weak_ptr<Session> weak = weak_from_this();
  ping_timer_ = server_.timers_.After(server_.options_.ping_interval, [weak] {
    if (auto s = weak.lock()) s->Ping();
  });
}

void EngineServer::Session::Ping() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    ping_timer_ = 0;
    awaiting_pong_ = true;
    pong_deadline_ = Clock::now() + server_.options_.ping_timeout;
    std::weak_ptr<Session> weak = weak_from_this();
    pong_timer_ = server_.timers_.After(server_.options_.ping_timeout, [weak] {
      if (auto s = weak.lock()) s->Terminate("ping timeout");
    });
  }
  Enqueue({"2", false});
}

void EngineServer::Session::Pong() {
  std::lock_guard lock(mu_);
  if (closed_ || !awaiting_pong_) return;
  awaiting_pong_ = false;
  server_.timers_.Cancel(pong_timer_);
  pong_timer_ = 0;
  SchedulePing();
}

void EngineServer::Session::Terminate(std::string reason, const char* poll_packet) {
  bool notify;
  bool linger;  // stays known for 2 s: a poll on its way is answered from it
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    close_packet_ = poll_packet;
    notify = opened_;
    for (TimerQueue::Id t : {ping_timer_, pong_timer_, upgrade_timer_}) server_.timers_.Cancel(t);
    // A client that closes by POST may have sent its last poll on another connection that has
    // not arrived yet: that poll is owed the noop (then the sid is forgotten, or after 2 s).
    // A poll that arrived but is not attached yet (claimed) gets it in AttachPoll instead.
    owe_noop_ = !poll_ && !poll_claimed_ && !upgraded_ && !websocket_ && std::string_view(poll_packet) == "6";
    // Either way the session must outlive that poll: forgotten now, it could be gone before the
    // claimed poll attaches, which would then answer "1" instead of close_packet_.
    linger = owe_noop_ || poll_claimed_;
    if (poll_) poll_->Reply(PollReply(poll_packet));
    poll_.reset();
    if (ws_) ws_->Close(1000, "");
    if (probe_) probe_->Close(1000, "");
    ws_.reset();
    probe_.reset();
    out_.clear();
    if (linger) {
      std::weak_ptr<Session> weak = weak_from_this();
      EngineServer* server = &server_;
      const std::string id = id_;
      server_.timers_.After(std::chrono::seconds(2), [weak, server, id] {
        if (weak.lock()) server->Forget(id);
      });
    }
  }
  if (!linger) server_.Forget(id_);
  if (notify) server_.handler_.OnClose(shared_from_this(), reason);
}

void EngineServer::Session::Deliver(std::vector<EnginePacket>& messages) {
  if (messages.empty()) return;
  std::lock_guard lock(deliver_mu_);
  auto self = shared_from_this();
  for (EnginePacket& m : messages) {
    if (!open()) return;
    server_.handler_.OnMessage(self, std::move(m.data), m.binary);
  }
}

http::Response EngineServer::Session::Poll() {
  bool duplicate = false, overdue = false;
  {
    std::lock_guard lock(mu_);
    if (closed_ && owe_noop_) {
      owe_noop_ = false;
      server_.Forget(id_);
      return PollReply("6");
    }
    if (closed_) return EngineError(kSessionUnknown, "Session ID unknown");
    if (upgraded_ || websocket_) return EngineError(kBadRequest, "Bad request");
    if (PongOverdue()) {
      overdue = true;
    } else if (poll_ || poll_claimed_) {
      duplicate = true;
    } else if (!out_.empty() && !probed_) {
      std::vector<EnginePacket> batch(std::make_move_iterator(out_.begin()), std::make_move_iterator(out_.end()));
      out_.clear();
      out_bytes_ = 0;
      return PollReply(EncodePayload(batch.data(), batch.size()));
    }
  }
  if (overdue) {
    Terminate("ping timeout");
    return EngineError(kSessionUnknown, "Session ID unknown");
  }
  if (duplicate) {
    Terminate("transport error");
    return EngineError(kBadRequest, "Bad request: a poll is already waiting");
  }
  {
    // Claimed now, in the order GETs reach the handler, so that a second one is seen as a
    // duplicate even before the first one's deferred response starts.
    std::lock_guard lock(mu_);
    poll_claimed_ = true;
  }
  http::StreamOptions o;
  o.deferred = true;
  return http::Response::Stream(200, kTextPlain, std::make_shared<PollWaiter>(weak_from_this()), o);
}

void EngineServer::Session::AttachPoll(const std::shared_ptr<http::StreamSink>& sink) {
  bool duplicate = false;
  {
    std::lock_guard lock(mu_);
    poll_claimed_ = false;
    if (closed_) {  // closed between the GET and now: it is answered as a waiting poll would have been
      sink->Reply(PollReply(close_packet_));
      return;
    }
    if (upgraded_) {
      sink->Reply(EngineError(kBadRequest, "Bad request"));
      return;
    }
    if (poll_) {
      duplicate = true;
    } else {
      poll_ = sink;
      if (probed_) {
        // A poll during the upgrade: the noop, unless "5" comes first (which makes it a poll
        // after the upgrade, refused). Clients send "5" only after their last poll returned.
        std::weak_ptr<Session> weak = weak_from_this();
        std::weak_ptr<http::StreamSink> weak_sink = sink;
        server_.timers_.After(std::chrono::milliseconds(200), [weak, weak_sink] {
          auto s = weak.lock();
          auto w = weak_sink.lock();
          if (!s || !w) return;
          std::lock_guard l(s->mu_);
          if (s->poll_ != w) return;
          s->poll_->Reply(PollReply("6"));
          s->poll_.reset();
        });
      } else if (!out_.empty()) {
        FlushPoll();
      }
    }
  }
  if (duplicate) {
    sink->Reply(http::Response::Text(400, kTextPlain, "a poll is already waiting"));
    Terminate("transport error");
  }
}

void EngineServer::Session::PollEnded(const std::shared_ptr<http::StreamSink>& sink, http::StreamEnd why) {
  if (why == http::StreamEnd::kShutdown) return Terminate("server shutting down");
  {
    std::lock_guard lock(mu_);
    if (!sink) {
      poll_claimed_ = false;  // ended before it started
    } else {
      if (poll_ != sink) return;  // already answered
      poll_.reset();
    }
  }
  Terminate("transport close");  // the client abandoned its poll
}

http::Response EngineServer::Session::Post(std::string_view body) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return EngineError(kSessionUnknown, "Session ID unknown");
    if (upgraded_ || websocket_) return EngineError(kBadRequest, "Bad request");
  }
  std::vector<EnginePacket> packets;
  if (!DecodePayload(body, packets)) {
    Terminate("parse error");
    return EngineError(kBadRequest, "Bad request: malformed payload");
  }
  std::vector<EnginePacket> messages;
  bool close = false;
  for (EnginePacket& p : packets) {
    if (p.binary) {
      messages.push_back(std::move(p));
      continue;
    }
    switch (p.data[0]) {
      case '4': messages.push_back({p.data.substr(1), false}); break;
      case '3': Pong(); break;
      case '2': Enqueue({WithType('3', std::string_view(p.data).substr(1)), false}); break;
      case '1': close = true; break;
      case '6': break;
      default:  // "0" and "5" have no place on this transport
        Terminate("parse error");
        return EngineError(kBadRequest, "Bad request: unexpected packet");
    }
    if (close) break;
  }
  Deliver(messages);
  if (close) Terminate("forced close", "6");
  return http::Response::Text(200, "text/html", "ok");
}

bool EngineServer::Session::BeginProbe(const std::shared_ptr<http::WebSocketSink>& sink) {
  std::lock_guard lock(mu_);
  if (closed_ || upgraded_ || websocket_ || probe_) return false;  // only a polling session upgrades, once
  probe_ = sink;
  std::weak_ptr<Session> weak = weak_from_this();
  std::weak_ptr<http::WebSocketSink> weak_sink = sink;
  upgrade_timer_ = server_.timers_.After(server_.options_.upgrade_timeout, [weak, weak_sink] {
    auto s = weak.lock();
    auto ws = weak_sink.lock();
    if (s && ws) s->WsEnded(ws, http::StreamEnd::kWriteTimeout);
  });
  return true;
}

void EngineServer::Session::OnWsMessage(const std::shared_ptr<http::WebSocketSink>& sink, std::string message,
                                        bool binary) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (sink == probe_) {
      // The upgrade: "2probe" is answered and polling paused; "5" moves the session here.
      if (!binary && message == "2probe") {
        sink->Send("3probe");
        probed_ = true;
        if (poll_) {
          poll_->Reply(PollReply("6"));
          poll_.reset();
        }
      } else if (!binary && message == "5" && probed_) {
        server_.timers_.Cancel(upgrade_timer_);
        upgrade_timer_ = 0;
        upgraded_ = true;
        ws_ = std::move(probe_);
        if (poll_) {  // it came after the probe (the one before was answered then): too late
          poll_->Reply(EngineError(kBadRequest, "Bad request"));
          poll_.reset();
        }
        for (EnginePacket& p : out_) ws_->Send(std::move(p.data), p.binary);
        out_.clear();
        out_bytes_ = 0;
      } else {
        sink->Close(1002, "expected the upgrade probe");
      }
      return;
    }
    if (sink != ws_) return;
  }
  std::vector<EnginePacket> messages;
  if (binary) {
    messages.push_back({std::move(message), true});
  } else if (message.empty()) {
    return Terminate("parse error");
  } else {
    switch (message[0]) {
      case '4': messages.push_back({message.substr(1), false}); break;
      case '3': Pong(); return;
      case '2': Enqueue({WithType('3', std::string_view(message).substr(1)), false}); return;
      case '1': return Terminate("forced close");
      case '5':
      case '6': return;
      default: return Terminate("parse error");
    }
  }
  Deliver(messages);
}

void EngineServer::Session::WsEnded(const std::shared_ptr<http::WebSocketSink>& sink, http::StreamEnd why) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (sink == probe_) {  // the upgrade failed: the session goes on polling
      probe_->Close(1000, "");
      probe_.reset();
      probed_ = false;
      server_.timers_.Cancel(upgrade_timer_);
      upgrade_timer_ = 0;
      return;
    }
    if (sink != ws_) return;
  }
  switch (why) {
    case http::StreamEnd::kShutdown: return Terminate("server shutting down");
    case http::StreamEnd::kOverflow:
    case http::StreamEnd::kWriteTimeout: return Terminate("too slow");
    default: return Terminate("transport close");
  }
}

// --- EngineServer ----------------------------------------------------------------------------

EngineServer::EngineServer(EngineHandler& handler, TimerQueue& timers, EngineOptions options)
    : handler_(handler), timers_(timers), options_(options) {}

EngineServer::~EngineServer() { CloseAll(); }

size_t EngineServer::sessions() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

std::shared_ptr<EngineServer::Session> EngineServer::Find(const std::string& sid) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(sid);
  return it == sessions_.end() ? nullptr : it->second;
}

void EngineServer::Forget(const std::string& sid) {
  std::lock_guard lock(mu_);
  sessions_.erase(sid);
}

void EngineServer::CloseAll() {
  std::vector<std::shared_ptr<Session>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, s] : sessions_) all.push_back(s);
  }
  for (auto& s : all) s->Terminate("server shutting down");
}

http::Response EngineServer::Handle(http::Request& req) {
  const std::optional<std::string> eio = req.QueryParam("EIO");
  if (!eio || *eio != "4") return EngineError(kUnsupportedVersion, "Unsupported protocol version");
  const std::optional<std::string> transport = req.QueryParam("transport");
  if (!transport || (*transport != "polling" && *transport != "websocket")) {
    return EngineError(kTransportUnknown, "Transport unknown");
  }
  const bool websocket = *transport == "websocket";
  if (websocket && (req.method != http::Method::kGet || !IsUpgrade(req))) return EngineError(kBadRequest, "Bad request");
  if (!websocket && req.method != http::Method::kGet && req.method != http::Method::kPost) {
    return EngineError(kBadHandshakeMethod, "Bad handshake method");
  }
  const std::optional<std::string> sid = req.QueryParam("sid");
  if (!sid) {
    if (req.method != http::Method::kGet) return EngineError(kBadHandshakeMethod, "Bad handshake method");
    return Open(req, websocket);
  }
  std::shared_ptr<Session> session = Find(*sid);
  if (!session) return EngineError(kSessionUnknown, "Session ID unknown");
  if (websocket) {
    http::WebSocketOptions o;
    o.max_message_bytes = options_.max_payload;
    o.max_queued_bytes = options_.max_queued_bytes;
    o.idle_timeout = std::chrono::seconds(300);  // the Engine.IO heartbeat decides
    return http::Response::WebSocket(std::make_shared<WsTransport>(*this, nullptr, session), o);
  }
  return req.method == http::Method::kGet ? session->Poll() : session->Post(req.body);
}

http::Response EngineServer::Open(http::Request& req, bool websocket) {
  if (sessions() >= options_.max_sessions) {
    return EngineError(kBadRequest, "too many sessions on this server; try again later", 503);
  }
  if (!websocket) {
    auto session = std::make_shared<Session>(*this, NewSid(), false);
    {
      std::lock_guard lock(mu_);
      sessions_.emplace(session->id(), session);
    }
    session->Start(nullptr);
    std::string hello = session->Handshake();
    session->MarkOpened();
    handler_.OnOpen(session, req);
    return PollReply(std::move(hello));
  }
  // Over a WebSocket the session begins when the handshake is done.
  http::Request handshake = req;
  handshake.body.clear();
  auto open = [this, handshake](std::shared_ptr<http::WebSocketSink> sink) -> std::shared_ptr<Session> {
    if (sessions() >= options_.max_sessions) return nullptr;
    auto session = std::make_shared<Session>(*this, NewSid(), true);
    {
      std::lock_guard lock(mu_);
      sessions_.emplace(session->id(), session);
    }
    session->Start(std::move(sink));
    session->MarkOpened();
    handler_.OnOpen(session, handshake);
    return session;
  };
  http::WebSocketOptions o;
  o.max_message_bytes = options_.max_payload;
  o.max_queued_bytes = options_.max_queued_bytes;
  o.idle_timeout = std::chrono::seconds(300);
  return http::Response::WebSocket(std::make_shared<WsTransport>(*this, std::move(open), nullptr), o);
}

}  // namespace betterdev::socketio
