#include <gtest/gtest.h>

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

}  // namespace
}  // namespace betterdev::socketio
