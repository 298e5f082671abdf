// The WebSocket kind of the HTTP server, driven by Beast's WebSocket client over loopback:
// messages both ways in order, a client that stops reading is cut off at the queue cap,
// graceful shutdown closes with 1001, a plain GET of a WebSocket route is 426.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "http/server.hpp"

namespace betterdev::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = beast::websocket;
using namespace std::chrono_literals;

// Echoes each message; on "flood N" sends N messages of 64 KiB and records whether Send refused.
class Echo final : public WebSocketHandler {
 public:
  void OnOpen(std::shared_ptr<WebSocketSink> sink) override {
    sink_ = sink;
    sink_->Send("hello");
  }
  void OnMessage(std::string message, bool) override {
    if (message.rfind("flood ", 0) == 0) {
      const int n = std::stoi(message.substr(6));
      for (int i = 0; i < n; ++i)
        if (!sink_->Send(std::string(64 * 1024, 'f'))) {
          refused = true;
          break;
        }
      return;
    }
    if (message == "bye") return sink_->Close(4000, "as asked");
    sink_->Send("echo: " + message);
  }
  void OnClose(StreamEnd why) override {
    std::lock_guard lock(mu_);
    end = why;
    cv_.notify_all();
  }
  std::optional<StreamEnd> WaitClose(std::chrono::milliseconds t) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, t, [&] { return end.has_value(); });
    return end;
  }
  std::atomic<bool> refused{false};

 private:
  std::shared_ptr<WebSocketSink> sink_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<StreamEnd> end;
};

class WebSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.host = "127.0.0.1";
    config_.port = 0;
    config_.threads = 2;
    config_.access_log = false;
    router_.Add(Method::kGet, "/ws", [this](Request&) {
      WebSocketOptions o;
      o.max_queued_bytes = 1u << 20;
      return Response::WebSocket(handler_, o);
    });
    server_ = std::make_unique<Server>(config_, router_, metrics_, log_);
    ASSERT_TRUE(server_->Listen().ok());
    runner_ = std::thread([this] { server_->Run(); });
  }
  void TearDown() override {
    server_->Stop();
    runner_.join();
  }
  std::unique_ptr<ws::stream<beast::tcp_stream>> Connect(asio::io_context& ioc) {
    auto c = std::make_unique<ws::stream<beast::tcp_stream>>(ioc);
    beast::get_lowest_layer(*c).connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    c->handshake("127.0.0.1", "/ws");
    return c;
  }
  std::string Read(ws::stream<beast::tcp_stream>& c) {
    beast::flat_buffer b;
    c.read(b);
    return beast::buffers_to_string(b.data());
  }

  HttpConfig config_;
  Router router_;
  MetricsRegistry metrics_;
  Logger log_{stderr, LogLevel::kError};
  std::unique_ptr<Server> server_;
  std::thread runner_;
  std::shared_ptr<Echo> handler_ = std::make_shared<Echo>();
};

TEST_F(WebSocketTest, MessagesFlowBothWaysInOrderAndTheHandlerMayClose) {
  asio::io_context ioc;
  auto c = Connect(ioc);
  EXPECT_EQ(Read(*c), "hello");
  for (int i = 0; i < 20; ++i) c->write(asio::buffer("m" + std::to_string(i)));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Read(*c), "echo: m" + std::to_string(i));
  c->write(asio::buffer(std::string("bye")));
  beast::flat_buffer b;
  beast::error_code ec;
  c->read(b, ec);
  EXPECT_EQ(ec, ws::error::closed);
  EXPECT_EQ(c->reason().code, 4000);
  EXPECT_EQ(std::string(c->reason().reason.c_str()), "as asked");
  EXPECT_EQ(handler_->WaitClose(2s), StreamEnd::kFinished);
}

TEST_F(WebSocketTest, AClientThatStopsReadingIsCutOffAtTheQueueCap) {
  asio::io_context ioc;
  auto c = Connect(ioc);
  EXPECT_EQ(Read(*c), "hello");
  // 400 x 64 KiB = 25 MiB, far past the socket buffers and the 1 MiB cap, never read.
  c->write(asio::buffer(std::string("flood 400")));
  auto end = handler_->WaitClose(10s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(*end, StreamEnd::kOverflow);
  EXPECT_TRUE(handler_->refused.load());
}

TEST_F(WebSocketTest, ShutdownClosesWith1001) {
  asio::io_context ioc;
  auto c = Connect(ioc);
  EXPECT_EQ(Read(*c), "hello");
  server_->Stop();
  beast::flat_buffer b;
  beast::error_code ec;
  c->read(b, ec);
  EXPECT_EQ(ec, ws::error::closed);
  EXPECT_EQ(c->reason().code, 1001);
}

TEST_F(WebSocketTest, APlainRequestIsTold426) {
  asio::io_context ioc;
  beast::tcp_stream s(ioc);
  s.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  std::string req = "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(s, asio::buffer(req));
  std::string got(4096, '\0');
  size_t n = s.socket().read_some(asio::buffer(got));
  got.resize(n);
  EXPECT_NE(got.find("426"), std::string::npos) << got;
  EXPECT_NE(got.find("upgrade_required"), std::string::npos) << got;
}

}  // namespace
}  // namespace betterdev::http
