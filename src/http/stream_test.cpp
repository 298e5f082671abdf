// The streamed-response kind of the HTTP server, driven over real loopback sockets: events in
// order, the connection reused afterwards, heartbeats, a client that goes away, a client that
// stops reading (queue cap and write deadline) and graceful shutdown with a final event.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <thread>

#include "http/server.hpp"

namespace betterdev::http {
namespace {

using namespace std::chrono_literals;

// A producer whose work runs on its own thread, as a model's event loop would.
class TestProducer final : public StreamProducer {
 public:
  using Body = std::function<void(TestProducer&, std::shared_ptr<StreamSink>)>;
  explicit TestProducer(Body body) : body_(std::move(body)) {}
  ~TestProducer() override {
    // The last reference may be dropped by the producer's own thread (through its sink).
    if (thread_.joinable()) {
      if (thread_.get_id() == std::this_thread::get_id()) thread_.detach();
      else thread_.join();
    }
  }
  void Start(std::shared_ptr<StreamSink> sink) override {
    thread_ = std::thread([this, sink]() mutable {
      body_(*this, sink);
      sink.reset();
    });
  }
  void Stop(StreamEnd why) override {
    std::lock_guard lock(mu_);
    stops_.push_back(why);
    cv_.notify_all();
  }
  // Waits until Stop was called; nullopt after `timeout`.
  std::optional<StreamEnd> WaitStop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !stops_.empty(); })) return std::nullopt;
    return stops_.front();
  }
  size_t stop_calls() {
    std::lock_guard lock(mu_);
    return stops_.size();
  }
  bool stopped() {
    std::lock_guard lock(mu_);
    return !stops_.empty();
  }

 private:
  Body body_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<StreamEnd> stops_;
};

class Client {
 public:
  explicit Client(uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Client() { Close(); }
  bool connected() const { return connected_; }
  void Send(const std::string& s) { ASSERT_EQ(::send(fd_, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size())); }
  // Reads until `needle` has arrived (or the connection closes / 10 s pass); returns all read so far.
  std::string ReadUntil(const std::string& needle) {
    while (got_.find(needle) == std::string::npos) {
      char buf[8192];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got_.append(buf, static_cast<size_t>(n));
    }
    return got_;
  }
  void Forget() { got_.clear(); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string got_;
};

class StreamServerTest : public ::testing::Test {
 protected:
  void Serve() {
    config_.host = "127.0.0.1";
    config_.port = 0;
    config_.threads = 2;
    config_.access_log = false;
    config_.shutdown_timeout_seconds = 5;
    router_.Add(Method::kGet, "/plain", [](Request&) { return Response::Text(200, "text/plain", "plain"); });
    router_.Add(Method::kGet, "/stream", [this](Request&) {
      return Response::Stream(200, "text/event-stream", producer_, options_);
    });
    server_ = std::make_unique<Server>(config_, router_, metrics_, log_);
    ASSERT_TRUE(server_->Listen().ok());
    runner_ = std::thread([this] { server_->Run(); });
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (runner_.joinable()) runner_.join();
  }
  uint16_t port() const { return server_->port(); }

  HttpConfig config_;
  Router router_;
  MetricsRegistry metrics_;
  Logger log_{stderr, LogLevel::kError};
  std::unique_ptr<Server> server_;
  std::thread runner_;
  std::shared_ptr<TestProducer> producer_;
  StreamOptions options_;
};

TEST(SseEventTest, FormatsFieldsAndSplitsLines) {
  EXPECT_EQ(SseEvent("token", "{\"text\":\"a\"}"), "event: token\ndata: {\"text\":\"a\"}\n\n");
  EXPECT_EQ(SseEvent("x", "one\ntwo\r\nthree", "7"), "id: 7\nevent: x\ndata: one\ndata: two\ndata: three\n\n");
  EXPECT_EQ(SseEvent("", ""), "data: \n\n");
}

TEST_F(StreamServerTest, EventsArriveInOrderAndTheConnectionIsReusedAfterwards) {
  producer_ = std::make_shared<TestProducer>([](TestProducer&, std::shared_ptr<StreamSink> sink) {
    for (int i = 0; i < 50; ++i) {
      EXPECT_TRUE(sink->Send(SseEvent("n", std::to_string(i))));
      if (i % 10 == 0) std::this_thread::sleep_for(5ms);
    }
    sink->Finish();
    EXPECT_FALSE(sink->open());
    EXPECT_FALSE(sink->Send("late"));
  });
  Serve();
  Client c(port());
  ASSERT_TRUE(c.connected());
  c.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got = c.ReadUntil("\r\n0\r\n\r\n");
  EXPECT_NE(got.find("HTTP/1.1 200 OK"), std::string::npos) << got;
  EXPECT_NE(got.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(got.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(got.find("X-Request-Id: "), std::string::npos);
  size_t at = 0;
  for (int i = 0; i < 50; ++i) {
    size_t next = got.find("data: " + std::to_string(i) + "\n", at);
    ASSERT_NE(next, std::string::npos) << "event " << i;
    at = next;
  }
  EXPECT_EQ(got.find("late"), std::string::npos);
  EXPECT_EQ(producer_->stop_calls(), 0u) << "a stream the producer finished is not stopped";
  // Same connection, next request.
  c.Forget();
  c.Send("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(c.ReadUntil("plain").find("200 OK"), std::string::npos);
}

TEST_F(StreamServerTest, HeartbeatsFlowWhileNothingElseIsSent) {
  std::promise<void> release;
  auto released = release.get_future().share();
  producer_ = std::make_shared<TestProducer>([released](TestProducer&, std::shared_ptr<StreamSink> sink) {
    released.wait();
    sink->Send(SseEvent("done", "{}"));
    sink->Finish();
  });
  options_.heartbeat_interval = 100ms;
  options_.heartbeat = ": heartbeat\n\n";
  Serve();
  Client c(port());
  c.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  // Two heartbeats, each in its own chunk, while the producer says nothing.
  EXPECT_NE(c.ReadUntil(": heartbeat\n\n\r\n").find(": heartbeat"), std::string::npos);
  c.Forget();
  EXPECT_NE(c.ReadUntil(": heartbeat\n\n\r\n").find(": heartbeat"), std::string::npos);
  release.set_value();
  EXPECT_NE(c.ReadUntil("event: done").find("event: done"), std::string::npos);
}

TEST_F(StreamServerTest, AClientThatGoesAwayStopsTheProducerWithinASecond) {
  std::atomic<bool> saw_closed{false};
  producer_ = std::make_shared<TestProducer>([&saw_closed](TestProducer& self, std::shared_ptr<StreamSink> sink) {
    sink->Send(SseEvent("retrieval", "{}"));
    // A model that would take a minute: wait for the stop instead.
    self.WaitStop(60s);
    saw_closed = !sink->open() && !sink->Send("after");
  });
  Serve();
  Client c(port());
  c.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  c.ReadUntil("event: retrieval");
  auto closed_at = std::chrono::steady_clock::now();
  c.Close();
  auto why = producer_->WaitStop(1s);
  ASSERT_TRUE(why.has_value()) << "the producer was not stopped within 1 s of the client leaving";
  EXPECT_EQ(*why, StreamEnd::kClientGone);
  EXPECT_LT(std::chrono::steady_clock::now() - closed_at, 1s);
  server_->Stop();
  runner_.join();
  producer_.reset();  // joins its thread
  EXPECT_TRUE(saw_closed);
}

TEST_F(StreamServerTest, AClientThatStopsReadingIsCutOffAtTheQueueCap) {
  std::atomic<int> accepted{0};
  producer_ = std::make_shared<TestProducer>([&accepted](TestProducer&, std::shared_ptr<StreamSink> sink) {
    const std::string piece(16 * 1024, 'x');
    for (int i = 0; i < 100000 && sink->Send(piece); ++i) ++accepted;
  });
  options_.max_queued_bytes = 256 * 1024;
  options_.write_timeout = 60s;
  Serve();
  Client c(port(), 4096);
  c.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  auto why = producer_->WaitStop(10s);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why, StreamEnd::kOverflow);
  EXPECT_LT(accepted.load(), 100000) << "Send must refuse once the cap is reached";
  // The server goes on serving others.
  Client other(port());
  other.Send("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(other.ReadUntil("plain").find("200 OK"), std::string::npos);
}

TEST_F(StreamServerTest, AStalledWriteEndsAtTheWriteDeadline) {
  producer_ = std::make_shared<TestProducer>([](TestProducer&, std::shared_ptr<StreamSink> sink) {
    sink->Send(std::string(32u << 20, 'y'));  // far more than the socket buffers hold
  });
  options_.max_queued_bytes = 64u << 20;
  options_.write_timeout = 300ms;
  Serve();
  Client c(port(), 4096);
  c.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  auto why = producer_->WaitStop(10s);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why, StreamEnd::kWriteTimeout);
}

TEST_F(StreamServerTest, ShutdownLetsTheProducerSendAFinalEvent) {
  producer_ = std::make_shared<TestProducer>([](TestProducer& self, std::shared_ptr<StreamSink> sink) {
    sink->Send(SseEvent("token", "{\"text\":\"partial\"}"));
    if (self.WaitStop(30s) == StreamEnd::kShutdown) {
      sink->Send(SseEvent("error", "{\"message\":\"the server is shutting down\"}"));
      sink->Finish();
    }
  });
  Serve();
  Client c(port());
  c.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  c.ReadUntil("partial");
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  std::string got = c.ReadUntil("\r\n0\r\n\r\n");
  EXPECT_NE(got.find("event: error"), std::string::npos) << got;
  c.Forget();
  EXPECT_EQ(c.ReadUntil("never sent"), "") << "the connection closes after the final event";
  runner_.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(StreamServerTest, ADeferredResponseIsWrittenWholeWhenTheProducerReplies) {
  producer_ = std::make_shared<TestProducer>([](TestProducer&, std::shared_ptr<StreamSink> sink) {
    std::this_thread::sleep_for(100ms);
    sink->Reply(Response::Json(201, "{\"answer\":42}").WithHeader("Location", "/x"));
    EXPECT_FALSE(sink->open());
  });
  options_.deferred = true;
  Serve();
  Client c(port());
  c.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string got = c.ReadUntil("{\"answer\":42}");
  EXPECT_NE(got.find("HTTP/1.1 201 Created"), std::string::npos) << got;
  EXPECT_NE(got.find("Content-Length: 13"), std::string::npos) << got;
  EXPECT_NE(got.find("Location: /x"), std::string::npos) << got;
  EXPECT_EQ(got.find("chunked"), std::string::npos) << got;
  c.Forget();
  c.Send("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(c.ReadUntil("plain").find("200 OK"), std::string::npos);
}

TEST_F(StreamServerTest, ADeferredResponseWhoseClientLeavesStopsTheProducer) {
  producer_ = std::make_shared<TestProducer>([](TestProducer& self, std::shared_ptr<StreamSink> sink) {
    if (self.WaitStop(30s)) sink->Reply(Response::Json(200, "{}"));  // ignored: the stream has ended
  });
  options_.deferred = true;
  Serve();
  {
    Client c(port());
    c.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    std::this_thread::sleep_for(100ms);
  }
  auto why = producer_->WaitStop(1s);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why, StreamEnd::kClientGone);
}

}  // namespace
}  // namespace betterdev::http
