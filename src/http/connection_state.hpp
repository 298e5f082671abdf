// The queues between a streamed response's or a WebSocket's producers (any thread) and the
// connection's coroutine, which alone writes to the socket. Internal to the http module
// (server.cpp, websocket_session.cpp).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "http/message.hpp"

namespace betterdev::http::detail {

namespace asio = boost::asio;

// What both queues share: how a producer wakes the writer, how the stream ends (the first
// reason wins), and detaching when the session is over (no post may reach its executor then).
// The writer coroutine waits on `wake` (a timer on the connection's thread that Notify
// cancels), so waiting holds no thread.
class ConnectionQueue : public std::enable_shared_from_this<ConnectionQueue> {
 public:
  explicit ConnectionQueue(asio::any_io_executor ex) : wake(ex), executor_(std::move(ex)) {}
  virtual ~ConnectionQueue() = default;

  // Ends from the server's side (client gone, write timeout).
  void End(StreamEnd why) {
    {
      std::lock_guard lock(mu_);
      if (!end_) end_ = why;
    }
    Notify();
  }
  bool Ended() const {
    std::lock_guard lock(mu_);
    return end_.has_value();
  }
  // After this no call reaches the connection's executor (the session is over).
  void Detach() {
    std::lock_guard lock(mu_);
    if (!end_) end_ = StreamEnd::kClientGone;
    detached_ = true;
  }

  asio::steady_timer wake;      // the connection's thread only
  std::function<void()> abort;  // the connection's thread only: cancels a write stuck on the socket

 protected:
  // Wakes the writer. Ended from outside it (a queue over its cap): a write stuck on a client
  // that does not read must not keep the connection until its deadline, so `abort` runs.
  void Notify() {
    {
      std::lock_guard lock(mu_);
      if (detached_ || notify_pending_) return;
      notify_pending_ = true;
    }
    asio::post(executor_, [self = shared_from_this()] {
      bool ended;
      {
        std::lock_guard lock(self->mu_);
        self->notify_pending_ = false;
        ended = self->end_.has_value();
      }
      self->wake.cancel();
      if (ended && self->abort) std::exchange(self->abort, nullptr)();
    });
  }

  mutable std::mutex mu_;
  std::optional<StreamEnd> end_;  // guarded by mu_

 private:
  asio::any_io_executor executor_;
  bool notify_pending_ = false;  // guarded by mu_
  bool detached_ = false;        // guarded by mu_
};

// One streamed response: bytes from the producer's threads (Send, Finish, Reply) to the
// connection's coroutine.
class StreamState final : public ConnectionQueue, public StreamSink {
 public:
  StreamState(asio::any_io_executor ex, std::shared_ptr<StreamProducer> producer, size_t cap)
      : ConnectionQueue(std::move(ex)), producer_(std::move(producer)), cap_(cap) {}

  bool Send(std::string bytes) override {
    {
      std::lock_guard lock(mu_);
      if (end_ || finished_) return false;
      if (queued_ + bytes.size() > cap_) {
        end_ = StreamEnd::kOverflow;
      } else {
        queued_ += bytes.size();
        queue_.push_back(std::move(bytes));
      }
    }
    Notify();
    return !Ended();
  }
  void Finish() override {
    {
      std::lock_guard lock(mu_);
      if (end_ || finished_) return;
      finished_ = true;
    }
    Notify();
  }
  bool open() const override {
    std::lock_guard lock(mu_);
    return !end_ && !finished_;
  }
  void Reply(Response response) override {
    {
      std::lock_guard lock(mu_);
      if (end_ || finished_) return;
      reply_ = std::move(response);
      reply_->stream.reset();
      finished_ = true;
    }
    Notify();
  }
  // The deferred response, once it was given.
  std::optional<Response> TakeReply() {
    std::lock_guard lock(mu_);
    std::optional<Response> r = std::move(reply_);
    reply_.reset();
    return r;
  }

  // What the writer takes next: queued bytes, and whether the stream ended or was finished.
  struct Batch {
    std::string bytes;
    std::optional<StreamEnd> end;
    bool finished = false;
  };
  Batch Take() {
    Batch b;
    std::lock_guard lock(mu_);
    b.end = end_;
    b.finished = finished_;
    if (b.end) return b;
    for (std::string& piece : queue_) b.bytes += piece;
    queue_.clear();
    queued_ = 0;
    return b;
  }

  // The producer's callbacks, called on the connection's thread only.
  void StartProducer() { producer_->Start(std::static_pointer_cast<StreamState>(shared_from_this())); }
  void StopProducer(StreamEnd why) {
    if (stopped_) return;
    stopped_ = true;
    producer_->Stop(why);
  }
  // The producer finished and everything was written: nothing to stop.
  void Completed() { stopped_ = true; }
  // The session is over: the producer (which may hold this sink) is let go.
  void ReleaseProducer() {
    stopped_ = true;
    producer_.reset();
  }

 private:
  std::shared_ptr<StreamProducer> producer_;
  const size_t cap_;
  bool stopped_ = false;  // the connection's thread only
  std::vector<std::string> queue_;  // guarded by mu_ (vectors: an idle connection's empty deque would cost ~600 bytes)
  size_t queued_ = 0;              // guarded by mu_
  bool finished_ = false;          // guarded by mu_
  std::optional<Response> reply_;  // guarded by mu_
};

// One WebSocket: messages (with their boundaries) from the handler's threads to the
// connection's coroutine.
class WsState final : public ConnectionQueue, public WebSocketSink {
 public:
  WsState(asio::any_io_executor ex, size_t cap) : ConnectionQueue(std::move(ex)), cap_(cap) {}

  bool Send(std::string message, bool binary) override {
    {
      std::lock_guard lock(mu_);
      if (end_ || closing_) return false;
      if (queued_ + message.size() > cap_) {
        end_ = StreamEnd::kOverflow;
      } else {
        queued_ += message.size();
        queue_.emplace_back(std::move(message), binary);
      }
    }
    Notify();
    return !Ended();
  }
  void Close(int code, std::string reason) override {
    {
      std::lock_guard lock(mu_);
      if (end_ || closing_) return;
      closing_ = true;
      close_code_ = code;
      close_reason_ = std::move(reason);
    }
    Notify();
  }
  bool open() const override {
    std::lock_guard lock(mu_);
    return !end_ && !closing_;
  }

  struct Batch {
    std::vector<std::pair<std::string, bool>> messages;
    std::optional<StreamEnd> end;
    bool closing = false;
    int code = 1000;
    std::string reason;
  };
  Batch Take() {
    Batch b;
    std::lock_guard lock(mu_);
    b.end = end_;
    if (b.end) return b;
    b.messages.swap(queue_);
    queued_ = 0;
    b.closing = closing_;
    b.code = close_code_;
    b.reason = close_reason_;
    return b;
  }

 private:
  const size_t cap_;
  std::vector<std::pair<std::string, bool>> queue_;  // guarded by mu_
  size_t queued_ = 0;                               // guarded by mu_
  bool closing_ = false;                            // guarded by mu_
  int close_code_ = 1000;                           // guarded by mu_
  std::string close_reason_;                        // guarded by mu_
};

}  // namespace betterdev::http::detail
