// Streamed response bodies: Server-Sent Events today, the same mechanism under WebSocket and
// Socket.IO channels tomorrow.
//
// A handler that wants to stream returns a Response whose `stream` is set. The server writes the
// status and headers at once (chunked transfer encoding), then hands the producer a StreamSink.
// The producer does its work elsewhere (a model's event loop, a pool, an event bus) and calls
// Send from any thread; the connection's coroutine writes what was queued without holding a
// thread while it waits. Nothing blocks the I/O threads:
//   - each write has its own deadline (StreamOptions::write_timeout), the stream as a whole has
//     none, so a stream may stay open for minutes or hours;
//   - the server watches the socket while streaming and notices a client that went away at once;
//   - the queue is capped (max_queued_bytes): a client that stops reading is cut off instead of
//     making the server buffer without bound;
//   - when nothing was sent for heartbeat_interval, `heartbeat` is sent (an SSE comment keeps
//     proxies and clients from timing out);
//   - on graceful shutdown the producer is told (Stop(kShutdown)) while its sink is still open,
//     so it can send a final event and Finish(); the server waits for that until its shutdown
//     deadline.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace betterdev::http {

struct Response;

// Why a stream ended.
enum class StreamEnd {
  kFinished,      // the producer called Finish() and everything was written
  kClientGone,    // the client closed the connection, or a write failed
  kWriteTimeout,  // one write took longer than write_timeout (a stalled client)
  kOverflow,      // the client read too slowly: more than max_queued_bytes waited
  kShutdown,      // the server is shutting down
};
std::string_view StreamEndName(StreamEnd end);

// The server's side of one streamed response. Thread-safe; the producer may keep it as long as
// it likes (after the stream ended, Send returns false and Finish does nothing).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Queues bytes for the client. False once the stream has ended, or when this send would put
  // the queue over its cap (the stream then ends with kOverflow).
  virtual bool Send(std::string bytes) = 0;
  // Ends the response once what was queued has been written. Idempotent.
  virtual void Finish() = 0;
  // False once the stream has ended (or Finish was called).
  virtual bool open() const = 0;
  // Deferred responses only (StreamOptions::deferred): the whole response, once; it ends the
  // stream like Finish. Ignored when the stream has ended.
  virtual void Reply(Response response) = 0;
};

// What produces a streamed body. Start and Stop are called on an I/O thread: they must not
// block (hand the work to a pool or an event loop).
class StreamProducer {
 public:
  virtual ~StreamProducer() = default;
  // Called once, when the header has been queued. Keep the sink and Send from any thread.
  virtual void Start(std::shared_ptr<StreamSink> sink) = 0;
  // Called at most once, when the stream ends for any reason but the producer's own Finish():
  // cancel the work behind it. With kShutdown the sink is still open for a last Send + Finish.
  virtual void Stop(StreamEnd why) = 0;
};

struct StreamOptions {
  // A deferred response: no header goes out at start; the producer answers later, once, with
  // StreamSink::Reply (a whole response, written with a Content-Length). For an answer that
  // waits on slow work without holding a thread (a non-streamed chat answer). The client's
  // leaving is noticed as for streams; heartbeats are not sent.
  bool deferred = false;
  std::chrono::milliseconds heartbeat_interval{0};  // 0: none
  std::string heartbeat;                            // e.g. ": heartbeat\n\n"
  size_t max_queued_bytes = 4u << 20;
  std::chrono::milliseconds write_timeout{30000};
};

// "event: <name>\ndata: <data>\n\n", with an `id:` line when `id` is not empty; a multi-line
// `data` becomes several data lines, as the SSE format requires.
std::string SseEvent(std::string_view name, std::string_view data, std::string_view id = {});

}  // namespace betterdev::http
