// Engine.IO protocol v4 on the server side: the transport under Socket.IO (socketio/server.hpp).
// Specification: ../shared/conformance/socket.io/engine.io-protocol-v4.md.
//
// One EngineServer serves one path (e.g. "/socket.io/") with both transports:
//   - HTTP long-polling: GET opens a session ("0{sid,...}") and then waits (a deferred response,
//     holding no thread) for packets; POST carries the client's packets, several separated by
//     \x1e, binary ones as "b" + base64;
//   - WebSocket: a new session straight away, or the upgrade of a polling session ("2probe" →
//     "3probe", the pending poll answered with a noop, then "5").
// The server pings every ping_interval and closes a session whose pong does not come within
// ping_timeout; a payload over max_payload, a malformed packet, a second concurrent poll or a
// poll the client abandoned closes the session. Errors before a session exists are 400 with
// Engine.IO's {code, message} body.
//
// Threading: requests and WebSocket messages arrive on the HTTP server's I/O threads, heartbeats
// on a TimerQueue's thread. The handler is called without any lock held, for one session in
// order; it must not block. EngineSocket::Send may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/timer_queue.hpp"
#include "http/message.hpp"

namespace betterdev::socketio {

struct EngineOptions {
  std::chrono::milliseconds ping_interval{25000};
  std::chrono::milliseconds ping_timeout{20000};
  size_t max_payload = 1000000;            // bytes per POST body / WebSocket message
  size_t max_queued_bytes = 1u << 20;      // unsent packets per session; over it the session closes
  size_t max_sessions = 20000;             // open sessions; a handshake beyond gets 503
  std::chrono::milliseconds upgrade_timeout{10000};  // from the probe to "5"
};

// One Engine.IO session, whichever transport carries it. Thread-safe; may be kept after it
// closed (Send then returns false).
class EngineSocket {
 public:
  virtual ~EngineSocket() = default;
  virtual const std::string& id() const = 0;
  // Queues one message packet (type 4; `binary`: raw bytes). False once closed, or when the
  // queue is over max_queued_bytes (the session then closes with "too slow").
  virtual bool Send(std::string data, bool binary = false) = 0;
  // Closes the session; the handler hears OnClose(reason).
  virtual void Close(std::string reason) = 0;
  virtual bool open() const = 0;
};

class EngineHandler {
 public:
  virtual ~EngineHandler() = default;
  // A session opened; `handshake` is the request that opened it (headers, query, address).
  virtual void OnOpen(const std::shared_ptr<EngineSocket>& socket, const http::Request& handshake) = 0;
  // One message packet from the client, in order.
  virtual void OnMessage(const std::shared_ptr<EngineSocket>& socket, std::string data, bool binary) = 0;
  // Once per opened session: "transport close", "ping timeout", "parse error", "forced close",
  // "too slow", "server shutting down", or the reason given to Close.
  virtual void OnClose(const std::shared_ptr<EngineSocket>& socket, std::string_view reason) = 0;
};

class EngineServer {
 public:
  // `handler` and `timers` must outlive the server.
  EngineServer(EngineHandler& handler, TimerQueue& timers, EngineOptions options = {});
  ~EngineServer();
  EngineServer(const EngineServer&) = delete;
  EngineServer& operator=(const EngineServer&) = delete;

  // Answers one request to the server's path (GET, POST; a WebSocket upgrade is a GET).
  http::Response Handle(http::Request& req);
  // Closes every session ("server shutting down").
  void CloseAll();

  size_t sessions() const;
  const EngineOptions& options() const { return options_; }

  class Session;  // engine.cpp

 private:
  friend class Session;
  http::Response Open(http::Request& req, bool websocket);
  std::shared_ptr<Session> Find(const std::string& sid) const;
  void Forget(const std::string& sid);

  EngineHandler& handler_;
  TimerQueue& timers_;
  const EngineOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Session>> sessions_;  // guarded by mu_
};

// Payload codec of the polling transport, exposed for tests. A packet is its type digit and
// data ("4hello"), or a binary message (raw bytes, `binary` set).
struct EnginePacket {
  std::string data;
  bool binary = false;
};
std::string EncodePayload(const EnginePacket* packets, size_t count);
// False when a packet is empty or not of a known type, or base64 is malformed.
bool DecodePayload(std::string_view body, std::vector<EnginePacket>& out);

}  // namespace betterdev::socketio
