// The outbound client against a small HTTP/1.1 server on loopback written here, which can
// answer slowly, stream, stall, and count connections and closes.
#include "httpclient/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace betterdev::httpclient {
namespace {

using namespace std::chrono_literals;

// Accepts connections; each runs `handler(fd)` for every request on it until it returns false.
class TestServer {
 public:
  using Handler = std::function<bool(int fd, const std::string& request)>;
  explicit TestServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 512);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        ++connections_;
        std::lock_guard lock(mu_);
        conns_.emplace_back([this, c] { Serve(c); });
      }
    });
  }
  ~TestServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    accept_.join();
    std::lock_guard lock(mu_);
    for (auto& t : conns_) t.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  int connections() const { return connections_; }
  int closed_by_peer() const { return closed_; }

  static void Write(int fd, const std::string& s) { (void)::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }
  static std::string Chunk(const std::string& s) {
    char len[16];
    std::snprintf(len, sizeof len, "%zx\r\n", s.size());
    return len + s + "\r\n";
  }

 private:
  void Serve(int c) {
    std::string buf;
    for (;;) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        char tmp[4096];
        ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
        if (n <= 0) {
          if (n == 0) ++closed_;
          ::close(c);
          return;
        }
        buf.append(tmp, static_cast<size_t>(n));
      }
      size_t length = 0;
      if (size_t cl = buf.find("Content-Length: "); cl != std::string::npos && cl < end) length = std::stoul(buf.substr(cl + 16));
      while (buf.size() < end + 4 + length) {
        char tmp[4096];
        ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
        if (n <= 0) break;
        buf.append(tmp, static_cast<size_t>(n));
      }
      std::string request = buf.substr(0, end + 4 + length);
      buf.erase(0, request.size());
      if (!handler_(c, request)) break;
    }
    // Wait for the client to close (so closes are counted), then close.
    char tmp[256];
    while (::recv(c, tmp, sizeof tmp, 0) > 0) {
    }
    ++closed_;
    ::close(c);
  }

  Handler handler_;
  int fd_;
  uint16_t port_ = 0;
  std::thread accept_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
  std::atomic<int> connections_{0};
  std::atomic<int> closed_{0};
};

class Recorder final : public StreamListener {
 public:
  void OnHead(long status, double retry_after_seconds) override {
    std::lock_guard lock(mu_);
    head_status = status;
    retry_after = retry_after_seconds;
  }
  void OnData(std::string_view bytes) override {
    std::lock_guard lock(mu_);
    data.append(bytes);
    ++pieces;
    cv_.notify_all();
  }
  void OnDone(long status, const std::string& error) override {
    std::lock_guard lock(mu_);
    done_status = status;
    done_error = error;
    ++done_calls;
    cv_.notify_all();
  }
  bool WaitDone(std::chrono::milliseconds t) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, t, [&] { return done_calls > 0; });
  }
  bool WaitData(const std::string& needle, std::chrono::milliseconds t) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, t, [&] { return data.find(needle) != std::string::npos; });
  }

  std::mutex mu_;
  std::condition_variable cv_;
  long head_status = -1, done_status = -1;
  double retry_after = -2;
  std::string data, done_error;
  int pieces = 0, done_calls = 0;
};

Request Post(const std::string& url, std::string body = "{}") {
  Request r;
  r.url = url;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = std::move(body);
  return r;
}

TEST(HttpClientTest, SendKeepsTheConnectionAliveBetweenCalls) {
  TestServer server([](int fd, const std::string& req) {
    EXPECT_NE(req.find("POST /echo HTTP/1.1"), std::string::npos);
    const std::string body = req.substr(req.find("\r\n\r\n") + 4);
    TestServer::Write(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body);
    return true;
  });
  auto client = NewClient();
  for (int i = 0; i < 3; ++i) {
    Answer a = client->Send(Post(server.url("/echo"), "{\"n\":" + std::to_string(i) + "}"));
    EXPECT_EQ(a.status, 200) << a.error;
    EXPECT_EQ(a.body, "{\"n\":" + std::to_string(i) + "}");
  }
  EXPECT_EQ(server.connections(), 1) << "three calls, one connection";
}

TEST(HttpClientTest, SendReportsRetryAfterAndConnectionFailures) {
  TestServer server([](int fd, const std::string&) {
    TestServer::Write(fd, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 2\r\n\r\n{}");
    return true;
  });
  auto client = NewClient();
  Answer a = client->Send(Post(server.url("/x")));
  EXPECT_EQ(a.status, 429);
  EXPECT_DOUBLE_EQ(a.retry_after_seconds, 3);
  Answer none = client->Send(Post("http://127.0.0.1:1/x"));
  EXPECT_EQ(none.status, 0);
  EXPECT_FALSE(none.error.empty());
}

TEST(HttpClientTest, StreamDeliversPiecesInOrderAsTheyArrive) {
  TestServer server([](int fd, const std::string&) {
    TestServer::Write(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; ++i) {
      TestServer::Write(fd, TestServer::Chunk("data: " + std::to_string(i) + "\n\n"));
      std::this_thread::sleep_for(20ms);
    }
    TestServer::Write(fd, "0\r\n\r\n");
    return true;
  });
  auto client = NewClient();
  auto rec = std::make_shared<Recorder>();
  auto t = client->Stream(Post(server.url("/stream")), {}, rec);
  ASSERT_TRUE(rec->WaitDone(5s));
  EXPECT_EQ(rec->head_status, 200);
  EXPECT_EQ(rec->done_status, 200) << rec->done_error;
  EXPECT_EQ(rec->data, "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n");
  EXPECT_GE(rec->pieces, 2) << "pieces arrive as they are written, not at the end";
  EXPECT_EQ(rec->done_calls, 1);
}

TEST(HttpClientTest, CancelClosesTheConnectionAtOnce) {
  std::promise<void> hold;
  auto held = hold.get_future().share();
  TestServer server([held](int fd, const std::string&) {
    TestServer::Write(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + TestServer::Chunk("data: first\n\n"));
    held.wait_for(10s);
    return false;
  });
  auto client = NewClient();
  auto rec = std::make_shared<Recorder>();
  auto t = client->Stream(Post(server.url("/stream")), {}, rec);
  ASSERT_TRUE(rec->WaitData("first", 5s));
  const auto start = std::chrono::steady_clock::now();
  t->Cancel();
  ASSERT_TRUE(rec->WaitDone(1s));
  EXPECT_EQ(rec->done_status, 0);
  EXPECT_EQ(rec->done_error, "cancelled");
  hold.set_value();
  for (int i = 0; i < 100 && server.closed_by_peer() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server.closed_by_peer(), 1) << "the server must see the connection close";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  t->Cancel();  // again: nothing happens
  EXPECT_EQ(rec->done_calls, 1);
}

TEST(HttpClientTest, FirstByteAndIdleTimeouts) {
  std::atomic<bool> release{false};
  TestServer server([&release](int fd, const std::string& req) {
    if (req.find("/silent") != std::string::npos) {
      while (!release) std::this_thread::sleep_for(10ms);
      return false;
    }
    TestServer::Write(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + TestServer::Chunk("data: a\n\n"));
    while (!release) std::this_thread::sleep_for(10ms);
    return false;
  });
  auto client = NewClient();
  auto silent = std::make_shared<Recorder>();
  auto stalls = std::make_shared<Recorder>();
  auto t1 = client->Stream(Post(server.url("/silent")), {200, 10000}, silent);
  auto t2 = client->Stream(Post(server.url("/stall")), {10000, 200}, stalls);
  ASSERT_TRUE(silent->WaitDone(3s));
  ASSERT_TRUE(stalls->WaitDone(3s));
  release = true;
  EXPECT_EQ(silent->done_status, 0);
  EXPECT_NE(silent->done_error.find("no answer within 200 ms"), std::string::npos) << silent->done_error;
  EXPECT_EQ(stalls->done_status, 0);
  EXPECT_EQ(stalls->data, "data: a\n\n");
  EXPECT_NE(stalls->done_error.find("stalled"), std::string::npos) << stalls->done_error;
}

TEST(HttpClientTest, ManyConcurrentStreamsShareOneLoop) {
  TestServer server([](int fd, const std::string&) {
    TestServer::Write(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(100ms);
      TestServer::Write(fd, TestServer::Chunk("x"));
    }
    TestServer::Write(fd, "0\r\n\r\n");
    return true;
  });
  auto client = NewClient();
  std::vector<std::shared_ptr<Recorder>> recs;
  std::vector<std::shared_ptr<Transfer>> ts;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    recs.push_back(std::make_shared<Recorder>());
    ts.push_back(client->Stream(Post(server.url("/s")), {}, recs.back()));
  }
  for (auto& r : recs) {
    ASSERT_TRUE(r->WaitDone(20s));
    EXPECT_EQ(r->done_status, 200) << r->done_error;
    EXPECT_EQ(r->data, "xxx");
  }
  // 100 streams of 300 ms each, concurrently (a thread per stream would not be needed to get here).
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
}

TEST(HttpClientTest, AfterRunsLaterOnTheLoop) {
  auto client = NewClient();
  std::promise<std::chrono::steady_clock::time_point> ran;
  const auto start = std::chrono::steady_clock::now();
  client->After(100ms, [&ran] { ran.set_value(std::chrono::steady_clock::now()); });
  auto f = ran.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_GE(f.get() - start, 100ms);
}

TEST(HttpClientTest, BackoffGrowsAndHonoursRetryAfter) {
  for (int attempt = 1; attempt <= 4; ++attempt) {
    auto ms = Backoff(attempt, -1, 100, 10000).count();
    EXPECT_GE(ms, 50 << (attempt - 1));
    EXPECT_LE(ms, 100 << (attempt - 1));
  }
  EXPECT_EQ(Backoff(1, 2.5, 100, 10000).count(), 2500);
  EXPECT_EQ(Backoff(1, 1000, 100, 10000).count(), 120000) << "Retry-After is capped at 120 s";
  EXPECT_LE(Backoff(20, -1, 100, 1000).count(), 1000);
}

}  // namespace
}  // namespace betterdev::httpclient
