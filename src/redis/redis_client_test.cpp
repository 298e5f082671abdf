// The Redis connection against a real redis-server (Debian's, started on loopback by the test):
// commands and typed replies, Lua scripts by EVALSHA with the NOSCRIPT fallback, and a
// server that goes away and comes back.
#include "redis/redis_client.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include "redis/redis_test_server.hpp"

namespace betterdev::redis {
namespace {

using namespace std::chrono_literals;

TEST(RedisUrl, ParsesWhatTheSettingTakes) {
  auto plain = ParseRedisUrl("redis://localhost");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->host, "localhost");
  EXPECT_EQ(plain->port, 6379);
  EXPECT_EQ(plain->db, 0);
  auto full = ParseRedisUrl("redis://worker:p%40ss%3Aword@10.0.0.5:6380/3");
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ(full->user, "worker");
  EXPECT_EQ(full->password, "p@ss:word");
  EXPECT_EQ(full->host, "10.0.0.5");
  EXPECT_EQ(full->port, 6380);
  EXPECT_EQ(full->db, 3);
  auto password_only = ParseRedisUrl("redis://:secret@[::1]:7000");
  ASSERT_TRUE(password_only.ok()) << password_only.status().ToString();
  EXPECT_EQ(password_only->user, "");
  EXPECT_EQ(password_only->password, "secret");
  EXPECT_EQ(password_only->host, "::1");
  EXPECT_EQ(password_only->port, 7000);
  EXPECT_EQ(ParseRedisUrl("http://localhost").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRedisUrl("redis://host:99999").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRedisUrl("redis://host/x").status().code(), StatusCode::kInvalidArgument);
  auto tls = ParseRedisUrl("rediss://cache.internal:6380/1");
  ASSERT_TRUE(tls.ok());
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->host, "cache.internal");
  EXPECT_EQ(tls->port, 6380);
  EXPECT_FALSE(plain->tls);
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);  // as betterdev itself does: a write to a closed socket is an error, not a kill
    ASSERT_TRUE(server.running());
    auto c = RedisClient::Connect(server.url(), 2000ms);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client = std::move(*c);
  }
  RedisTestServer server;
  std::unique_ptr<RedisClient> client;
};

TEST_F(RedisClientTest, CommandsAnswerTypedReplies) {
  EXPECT_EQ(client->Command({"SET", "k", std::string("a\0b", 3)})->text, "OK");
  auto got = client->Command({"GET", "k"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->type, RedisReply::Type::kString);
  EXPECT_EQ(got->text, std::string("a\0b", 3));  // binary-safe
  EXPECT_TRUE(client->Command({"GET", "missing"})->is_nil());
  EXPECT_EQ(client->Command({"INCRBY", "n", "41"})->integer, 41);
  ASSERT_TRUE(client->Command({"RPUSH", "l", "x", "y"}).ok());
  auto list = client->Command({"LRANGE", "l", "0", "-1"});
  ASSERT_EQ(list->type, RedisReply::Type::kArray);
  ASSERT_EQ(list->elements.size(), 2u);
  EXPECT_EQ(list->elements[1].text, "y");
  auto wrong = client->Command({"LPUSH", "k", "x"});  // k holds a string
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->type, RedisReply::Type::kError);
  EXPECT_NE(wrong->text.find("WRONGTYPE"), std::string::npos);
}

TEST_F(RedisClientTest, RunsScriptsBySha1AndSurvivesAFlushedScriptCache) {
  const Script count = Script::Of("count", 1, "return {redis.call('LLEN', KEYS[1]), ARGV[1]}");
  ASSERT_TRUE(client->Command({"RPUSH", "q:wait", "1", "2", "3"}).ok());
  for (int round = 0; round < 2; ++round) {
    // Round 0: the server has never seen the script (NOSCRIPT, then EVAL); round 1: after a
    // SCRIPT FLUSH, as after a restart of Redis.
    auto reply = client->Run(count, {"q:wait"}, {"x"});
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    ASSERT_EQ(reply->type, RedisReply::Type::kArray) << reply->text;
    ASSERT_EQ(reply->elements.size(), 2u);
    EXPECT_EQ(reply->elements[0].integer, 3);
    EXPECT_EQ(reply->elements[1].text, "x");
    // Cached now under the SHA-1 we computed: what EVALSHA names.
    auto exists = client->Command({"SCRIPT", "EXISTS", count.sha1});
    ASSERT_EQ(exists->elements.size(), 1u);
    EXPECT_EQ(exists->elements[0].integer, 1);
    ASSERT_TRUE(client->Command({"SCRIPT", "FLUSH"}).ok());
  }
  EXPECT_EQ(client->Run(count, {}, {}).status().code(), StatusCode::kInvalidArgument);  // 1 key, not 0
}

TEST_F(RedisClientTest, AServerThatGoesAwayIsUnavailableUntilItReturns) {
  ASSERT_TRUE(client->Command({"SET", "kept", "1"}).ok());
  server.Stop();
  auto down = client->Command({"GET", "kept"});
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(client->Command({"GET", "kept"}).status().code(), StatusCode::kUnavailable);
  server.Restart();
  auto back = client->Command({"GET", "kept"});  // reconnects; the append-only file kept it
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->text, "1");
}

TEST(RedisClientConnect, AuthAndDatabaseFromTheUrl) {
  RedisTestServer server;
  auto admin = RedisClient::Connect(server.url(), 2000ms);
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)->Command({"ACL", "SETUSER", "worker", "on", ">s3cret", "~*", "+@all"}).ok());
  RedisUrl url = server.url();
  url.user = "worker";
  url.password = "wrong";
  EXPECT_EQ(RedisClient::Connect(url, 2000ms).status().code(), StatusCode::kUnavailable);
  url.password = "s3cret";
  url.db = 2;
  auto worker = RedisClient::Connect(url, 2000ms);
  ASSERT_TRUE(worker.ok()) << worker.status().ToString();
  ASSERT_TRUE((*worker)->Command({"SET", "in-two", "x"}).ok());
  EXPECT_TRUE((*admin)->Command({"GET", "in-two"})->is_nil()) << "db 0 does not see db 2";
  ASSERT_TRUE((*admin)->Command({"SELECT", "2"}).ok());
  EXPECT_EQ((*admin)->Command({"GET", "in-two"})->text, "x");
}

TEST(RedisClientTls, RedissSpeaksTlsAndChecksTheCertificateAndItsName) {
  ::signal(SIGPIPE, SIG_IGN);
  RedisTestServer server{RedisTestServer::Tls{}};
  auto client = RedisClient::Connect(server.url(), 2000ms);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ASSERT_TRUE((*client)->Command({"SET", "k", std::string(100000, 'x')}).ok());
  auto got = (*client)->Command({"GET", "k"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->text.size(), 100000u) << "a reply longer than one TLS record";
  auto blocked = (*client)->Command({"BLPOP", "empty", "0.2"});
  ASSERT_TRUE(blocked.ok()) << blocked.status().ToString();
  EXPECT_TRUE(blocked->is_nil());
  // Not signed by an authority we trust (the system's): refused, saying why.
  RedisUrl untrusted = server.url();
  untrusted.tls_ca_file.clear();
  auto refused = RedisClient::Connect(untrusted, 2000ms);
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("certificate"), std::string::npos) << refused.status().message();
  // Signed, but for 127.0.0.1, not for the name we dialled.
  RedisUrl wrong_name = server.url();
  wrong_name.host = "localhost";
  auto mismatch = RedisClient::Connect(wrong_name, 2000ms);
  EXPECT_EQ(mismatch.status().code(), StatusCode::kUnavailable) << "the certificate does not name localhost";
  // Plain text to a TLS port is not a Redis conversation.
  RedisUrl plain = server.url();
  plain.tls = false;
  auto spoken = RedisClient::Connect(plain, 500ms);
  if (spoken.ok()) {
    EXPECT_FALSE((*spoken)->Command({"PING"}).ok());
  }
}

}  // namespace
}  // namespace betterdev::redis
