// Outbound HTTP to model providers (OpenAI-compatible embeddings and chat completions), over
// libcurl, shared by every caller in a process.
//
// Two ways to call:
//   - Send: blocking, for work that already runs on a pool (embedding a batch). Easy handles are
//     pooled, so connections stay alive between calls (no TLS handshake per batch).
//   - Stream: asynchronous, for long answers read as they arrive (a streamed chat completion).
//     One event-loop thread drives every stream of the process (curl's multi interface), so a
//     waiting stream holds no thread; connections are kept alive and reused across streams.
//     Timeouts: connect, first byte of the body, and idle (no byte for a while). Cancel() closes
//     the connection at once (the server sees it go).
// libcurl stays inside http_client.cpp. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace betterdev::httpclient {

struct Request {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // "Content-Type", "application/json"
  std::string body;
  int connect_timeout_ms = 10000;
  int timeout_ms = 60000;  // Send: the whole exchange (0: none)
};

struct Answer {
  long status = 0;      // 0: no answer (connection failed, timed out, cancelled)
  std::string body;
  std::string error;    // why, when status is 0
  double retry_after_seconds = -1;  // from Retry-After / retry-after-ms, when present
};

struct StreamTimeouts {
  int first_byte_ms = 60000;  // from the start to the first byte of the body
  int idle_ms = 30000;        // between two pieces of the body
};

// Receives one stream's events, on the client's event-loop thread: keep each call short.
class StreamListener {
 public:
  virtual ~StreamListener() = default;
  // The status line and headers have arrived (before any OnData).
  virtual void OnHead(long status, double retry_after_seconds) = 0;
  // A piece of the body, in order.
  virtual void OnData(std::string_view bytes) = 0;
  // Exactly once, last: status 0 with `error` when no complete answer came (connection failed,
  // a timeout, cancelled); else the HTTP status, the body having been delivered whole.
  virtual void OnDone(long status, const std::string& error) = 0;
};

class Transfer {
 public:
  virtual ~Transfer() = default;
  // Stops the stream and closes its connection; OnDone follows with "cancelled" (unless it was
  // already done). Safe from any thread, any number of times.
  virtual void Cancel() = 0;
};

class Client {
 public:
  virtual ~Client() = default;
  virtual Answer Send(const Request& request) = 0;
  virtual std::shared_ptr<Transfer> Stream(const Request& request, const StreamTimeouts& timeouts,
                                           std::shared_ptr<StreamListener> listener) = 0;
  // Runs `fn` on the event-loop thread after `delay` (a retry's backoff), unless the client is
  // destroyed first.
  virtual void After(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
};

// The event-loop thread starts with the first Stream or After call, so a process that only
// Sends (a worker, which forks job processes and must stay single-threaded) never has one.
std::shared_ptr<Client> NewClient();

// Retry-After for `attempt` (1-based) given the answer: the server's own wish when it gave one
// (at most 120 s), else exponential backoff from `base_ms` (capped at `max_ms`) with jitter.
std::chrono::milliseconds Backoff(int attempt, double retry_after_seconds, int base_ms, int max_ms);

}  // namespace betterdev::httpclient
