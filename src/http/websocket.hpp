// WebSocket connections, on the same footing as streamed responses (http/stream.hpp): a route
// that accepts the upgrade returns Response::WebSocket(handler); the server completes the
// handshake (Beast) and from then on hands the handler each message and lets it send from any
// thread. Nothing holds a thread while waiting:
//   - messages the handler sends are queued (capped: a client that stops reading is closed with
//     1008 "too slow"), and written in order by the connection's coroutine;
//   - the server pings an idle client and closes it when no pong comes (`idle_timeout`);
//   - a message larger than `max_message_bytes` closes the connection (1009);
//   - on graceful shutdown the handler hears OnClose(kShutdown) and the server closes with 1001.
// Beast stays in server.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "http/stream.hpp"

namespace betterdev::http {

// The server's side of one WebSocket. Thread-safe; may be kept after the connection closed
// (Send then returns false).
class WebSocketSink {
 public:
  virtual ~WebSocketSink() = default;
  // Queues one message. False once the connection is closing or closed, or when the queue is
  // over its cap (the connection then closes).
  virtual bool Send(std::string message, bool binary = false) = 0;
  // Closes the connection after what was queued, with a close frame (code, reason).
  virtual void Close(int code = 1000, std::string reason = "") = 0;
  virtual bool open() const = 0;
};

class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  // The handshake is done. Called on the connection's thread; must not block.
  virtual void OnOpen(std::shared_ptr<WebSocketSink> sink) = 0;
  // One whole message, in order, on the connection's thread; must not block.
  virtual void OnMessage(std::string message, bool binary) = 0;
  // Once, at the end (kFinished: closed by either side with a close frame, or by the handler).
  virtual void OnClose(StreamEnd why) = 0;
};

struct WebSocketOptions {
  size_t max_message_bytes = 1u << 20;
  size_t max_queued_bytes = 4u << 20;
  std::chrono::seconds idle_timeout{60};  // a ping after half of it without traffic; closed after all of it
};

}  // namespace betterdev::http
