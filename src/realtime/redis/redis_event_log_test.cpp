// The event transport over a real redis-server (started on loopback by the test): processes on
// other machines append, every API process reads all of it in one order, and the hub serves it.
#include "realtime/redis/redis_event_log.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "realtime/realtime_test_util.hpp"
#include "redis/redis_test_server.hpp"

namespace betterdev::realtime {
namespace {

using namespace std::chrono_literals;

class RedisEventLogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
  std::unique_ptr<EventLog> Open(int64_t max_events = 100000) {
    RedisEventLogOptions o;
    o.url = server.url();
    o.max_events = max_events;
    auto log = OpenRedisEventLog(o);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(*log) : nullptr;
  }
  redis::RedisTestServer server;
};

TEST_F(RedisEventLogTest, ProcessesOnOtherMachinesShareOneOrderedLog) {
  auto a = Open(), b = Open();  // two handles: a worker's and an API's
  EXPECT_EQ(*a->LastSeq(), 0u);
  std::thread t1([&] {
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(a->Append(Ev(EventType::kProcessing, "alice", "d1", i + 1)).ok());
  });
  std::thread t2([&] {
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(b->Append(Ev(EventType::kProcessing, "bob", "d2", i + 1)).ok());
  });
  t1.join();
  t2.join();
  auto all = b->ReadAfter(0, 1000);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 400u);
  int alice = 0, bob = 0;
  for (size_t i = 0; i < all->size(); ++i) {
    const Event& e = (*all)[i];
    EXPECT_EQ(e.seq, i + 1) << "no gap, no reordering";
    EXPECT_EQ(e.progress, e.user_id == "alice" ? ++alice : ++bob) << "each writer's order kept";
  }
  auto tail = a->ReadAfter(390, 5);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 5u);
  EXPECT_EQ((*tail)[0].seq, 391u);
  EXPECT_EQ(*a->LastSeq(), 400u);
}

TEST_F(RedisEventLogTest, EveryFieldSurvivesTheTrip) {
  auto log = Open();
  Event e = Ev(EventType::kRetrying, "usr_ü", "doc 1");
  e.reason = "provider said: 503 — try later";
  e.attempts = 2;
  e.next_attempt_at_ms = e.at_ms + 4000;
  e.page = 3;
  e.pages = 9;
  e.chunks = 77;
  ASSERT_TRUE(log->Append(e).ok());
  auto got = log->ReadAfter(0, 10);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  const Event& g = got->at(0);
  EXPECT_EQ(g.type, EventType::kRetrying);
  EXPECT_EQ(g.user_id, e.user_id);
  EXPECT_EQ(g.document_id, e.document_id);
  EXPECT_EQ(g.at_ms, e.at_ms);
  EXPECT_EQ(g.reason, e.reason);
  EXPECT_EQ(g.attempts, 2);
  EXPECT_EQ(g.next_attempt_at_ms, e.next_attempt_at_ms);
  EXPECT_EQ(g.page, 3);
  EXPECT_EQ(g.pages, 9);
  EXPECT_EQ(g.chunks, 77);
}

TEST_F(RedisEventLogTest, TheStreamKeepsItsWindow) {
  auto log = Open(/*max_events=*/100);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(log->Append(Ev(EventType::kQueued, "u", "d")).ok());
  auto all = log->ReadAfter(0, 5000);
  ASSERT_TRUE(all.ok());
  EXPECT_GE(all->size(), 100u);
  EXPECT_LT(all->size(), 1000u) << "trimmed (approximately) to the newest";
  EXPECT_EQ(all->back().seq, 1000u);
}

TEST_F(RedisEventLogTest, AHubServesEventsAnotherMachineAppended) {
  auto api = Open(), worker = Open();
  Logger logger{stderr, LogLevel::kError};
  EventHub hub(*api, logger, {5, 16, 1000});
  ASSERT_TRUE(hub.Start().ok());
  auto alice = std::make_shared<Recorder>();
  hub.Subscribe("alice", std::nullopt, alice);
  ASSERT_TRUE(worker->Append(Ev(EventType::kProcessing, "alice", "d1", 40)).ok());
  ASSERT_TRUE(worker->Append(Ev(EventType::kProcessing, "bob", "d2", 10)).ok());
  ASSERT_TRUE(worker->Append(Ev(EventType::kReady, "alice", "d1")).ok());
  auto got = alice->WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].progress, 40);
  EXPECT_EQ(got[1].type, EventType::kReady);
}

TEST_F(RedisEventLogTest, ACounterBehindTheStreamCatchesUp) {
  auto log = Open();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->Append(Ev(EventType::kQueued, "u", "d")).ok());
  auto admin = redis::RedisClient::Connect(server.url(), 2s);
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)->Command({"DEL", "betterdev:{file-processing}:events:seq"}).ok());  // lost
  ASSERT_TRUE(log->Append(Ev(EventType::kReady, "u", "d")).ok());
  auto all = log->ReadAfter(0, 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ(all->back().seq, 4u);
  EXPECT_EQ(all->back().type, EventType::kReady);
}

TEST_F(RedisEventLogTest, ARedisRestartCostsAppendsWhileDownAndNothingAfter) {
  auto log = Open();
  ASSERT_TRUE(log->Append(Ev(EventType::kQueued, "u", "d1")).ok());
  server.Stop();
  EXPECT_EQ(log->Append(Ev(EventType::kQueued, "u", "d2")).code(), StatusCode::kUnavailable);
  server.Restart();
  Status appended = log->Append(Ev(EventType::kQueued, "u", "d3"));
  for (int i = 0; i < 60 && !appended.ok(); ++i) {  // the reconnect back-off
    std::this_thread::sleep_for(100ms);
    appended = log->Append(Ev(EventType::kQueued, "u", "d3"));
  }
  ASSERT_TRUE(appended.ok()) << appended.ToString();
  auto all = log->ReadAfter(0, 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->at(1).document_id, "d3");
  EXPECT_EQ(all->at(1).seq, 2u) << "the counter persisted";
}

}  // namespace
}  // namespace betterdev::realtime
