#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "socketio/engine.hpp"
#include "socketio/packet.hpp"

namespace betterdev::socketio {
namespace {

TEST(EnginePayload, TextAndBinaryPacketsRoundTrip) {
  std::vector<EnginePacket> in = {{"4hello", false}, {std::string("\x01\x02\x03\x04", 4), true}, {"2", false}};
  const std::string wire = EncodePayload(in.data(), in.size());
  EXPECT_EQ(wire, "4hello\x1e" "bAQIDBA==\x1e" "2");
  std::vector<EnginePacket> out;
  ASSERT_TRUE(DecodePayload(wire, out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].data, in[1].data);
  EXPECT_TRUE(out[1].binary);
  EXPECT_EQ(out[2].data, "2");
}

TEST(EnginePayload, MalformedPayloadsAreRefused) {
  std::vector<EnginePacket> out;
  for (const char* bad : {"", "abc", "4a\x1e", "\x1e" "4a", "4a\x1e\x1e" "4b", "b!!", "7x", "bAQ"}) {
    EXPECT_FALSE(DecodePayload(bad, out)) << bad;
  }
}

TEST(SocketIoPacket, DecodesEveryPart) {
  auto p = DecodePacket(R"(52-/admin,789["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->type, PacketType::kBinaryEvent);
  EXPECT_EQ(p->attachments, 2u);
  EXPECT_EQ(p->nsp, "/admin");
  EXPECT_EQ(p->id, 789u);
  EXPECT_EQ((*p->data)[0], "message");
  // Encoding gives back the same text, key order kept.
  EXPECT_EQ(EncodePacket(*p), R"(52-/admin,789["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");

  auto c = DecodePacket("0/custom,");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type, PacketType::kConnect);
  EXPECT_EQ(c->nsp, "/custom");
  EXPECT_FALSE(c->data);
  auto r = DecodePacket("0/random");  // no comma before the end
  ASSERT_TRUE(r);
  EXPECT_EQ(r->nsp, "/random");
  auto a = DecodePacket(R"(0{"token":"123"})");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->nsp, "/");
  EXPECT_EQ((*a->data)["token"], "123");
  EXPECT_EQ(EncodePacket(Packet{PacketType::kConnectError, "/random", std::nullopt, Json{{"message", "Invalid namespace"}}, 0, {}}),
            R"(4/random,{"message":"Invalid namespace"})");
  // What the Engine.IO layer carries is "4" + this: 44/random,{...} on the wire.
}

TEST(SocketIoPacket, MalformedOrInvalidPayloadsAreRefused) {
  for (const char* bad : {"", "7", "abc", "2{}", R"(2abc["message-with-ack",1])", "2[]", "2[1", R"(2["connect"])",
                          R"(0[1])", R"(1{"a":1})", R"(3{})", "5[\"x\"]", R"(5x-["x"])", "4", "2"}) {
    EXPECT_FALSE(DecodePacket(bad)) << bad;
  }
}

// An Engine.IO handler that records what it hears.
class Recorder final : public EngineHandler {
 public:
  void OnOpen(const std::shared_ptr<EngineSocket>& socket, const http::Request&) override {
    std::lock_guard lock(mu_);
    socket_ = socket;
  }
  void OnMessage(const std::shared_ptr<EngineSocket>&, std::string data, bool) override {
    std::lock_guard lock(mu_);
    messages_.push_back(std::move(data));
  }
  void OnClose(const std::shared_ptr<EngineSocket>&, std::string_view reason) override {
    std::lock_guard lock(mu_);
    closed_ = std::string(reason);
    cv_.notify_all();
  }
  std::string WaitClosed() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return !closed_.empty(); });
    return closed_;
  }
  std::shared_ptr<EngineSocket> socket() {
    std::lock_guard lock(mu_);
    return socket_;
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<EngineSocket> socket_;
  std::vector<std::string> messages_;
  std::string closed_;
};

http::Request Polling(http::Method m, const std::string& sid = "", std::string body = "") {
  http::Request r;
  r.method = m;
  r.path = "/engine.io/";
  r.query = "EIO=4&transport=polling" + (sid.empty() ? "" : "&sid=" + sid);
  r.body = std::move(body);
  return r;
}

std::string Open(EngineServer& server) {
  http::Request req = Polling(http::Method::kGet);
  http::Response res = server.Handle(req);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body[0], '0');
  auto open = nlohmann::json::parse(res.body.substr(1));
  return open["sid"].get<std::string>();
}

TEST(EngineServerTest, PollingCarriesMessagesBothWays) {
  TimerQueue timers;
  Recorder handler;
  EngineServer server(handler, timers);
  const std::string sid = Open(server);
  http::Request post = Polling(http::Method::kPost, sid, "4hello\x1e" "4world");
  http::Response res = server.Handle(post);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "ok");
  EXPECT_EQ(handler.messages(), (std::vector<std::string>{"hello", "world"}));
  // What the handler sends waits for the next poll, which takes it at once.
  ASSERT_TRUE(handler.socket()->Send("one"));
  ASSERT_TRUE(handler.socket()->Send(std::string("\x01\x02", 2), true));
  http::Request get = Polling(http::Method::kGet, sid);
  res = server.Handle(get);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "4one\x1e" "bAQI=");
  // With nothing queued the poll waits (a deferred response).
  res = server.Handle(get);
  EXPECT_TRUE(res.stream != nullptr);
  EXPECT_TRUE(res.stream_options.deferred);
  // Unknown sessions and versions are refused with Engine.IO's error body.
  http::Request unknown = Polling(http::Method::kGet, "nope");
  res = server.Handle(unknown);
  EXPECT_EQ(res.status, 400);
  EXPECT_NE(res.body.find("Session ID unknown"), std::string::npos);
}

TEST(EngineServerTest, AClientThatStopsPollingIsClosedAsTooSlowNotFromInsideSend) {
  TimerQueue timers;
  Recorder handler;
  EngineOptions o;
  o.max_queued_bytes = 1000;
  EngineServer server(handler, timers, o);
  const std::string sid = Open(server);
  size_t sent = 0;
  while (handler.socket()->Send(std::string(100, 'x'))) ++sent;
  EXPECT_LE(sent, 10u);
  EXPECT_EQ(handler.WaitClosed(), "too slow");
  EXPECT_FALSE(handler.socket()->open());
  http::Request get = Polling(http::Method::kGet, sid);
  EXPECT_EQ(server.Handle(get).status, 400);
  EXPECT_EQ(server.sessions(), 0u);
}

TEST(EngineServerTest, NoPongClosesTheSession) {
  TimerQueue timers;
  Recorder handler;
  EngineOptions o;
  o.ping_interval = std::chrono::milliseconds(20);
  o.ping_timeout = std::chrono::milliseconds(20);
  EngineServer server(handler, timers, o);
  Open(server);
  EXPECT_EQ(handler.WaitClosed(), "ping timeout");
  EXPECT_EQ(server.sessions(), 0u);
}

}  // namespace
}  // namespace betterdev::socketio
