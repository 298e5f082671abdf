// The event log (SQLite, shared by processes) and the hub that fans its events out per user.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "realtime/event_log.hpp"
#include "realtime/hub.hpp"
#include "realtime/realtime_test_util.hpp"
#include "store/sqlite/db.hpp"
#include "core/time.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::realtime {
namespace {

using namespace std::chrono_literals;

TEST(EventTypeTest, NamesRoundTrip) {
  for (EventType t : {EventType::kQueued, EventType::kProcessing, EventType::kReady, EventType::kFailed,
                      EventType::kRetrying, EventType::kDeleted}) {
    EXPECT_EQ(ParseEventType(EventTypeName(t)), t);
  }
  EXPECT_EQ(EventTypeName(EventType::kReady), "document.ready");
  EXPECT_FALSE(ParseEventType("document.exploded").has_value());
}

TEST(SqliteEventLogTest, ProcessesShareOneOrderedLog) {
  testutil::TempDir dir;
  // Two handles on one file stand for two processes (a worker and the API).
  auto a = OpenSqliteEventLog(dir.File("events.db"));
  auto b = OpenSqliteEventLog(dir.File("events.db"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(*(*a)->LastSeq(), 0u);
  std::thread t1([&] {
    for (int i = 0; i < 200; ++i) ASSERT_TRUE((*a)->Append(Ev(EventType::kProcessing, "alice", "d1", i + 1)).ok());
  });
  std::thread t2([&] {
    for (int i = 0; i < 200; ++i) ASSERT_TRUE((*b)->Append(Ev(EventType::kProcessing, "bob", "d2", i + 1)).ok());
  });
  t1.join();
  t2.join();
  auto all = (*a)->ReadAfter(0, 1000);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 400u);
  int alice = 0, bob = 0;
  for (size_t i = 0; i < all->size(); ++i) {
    const Event& e = (*all)[i];
    if (i > 0) {
      EXPECT_GT(e.seq, (*all)[i - 1].seq);
    }
    // Each writer's events keep their order.
    if (e.user_id == "alice") {
      EXPECT_EQ(e.progress, ++alice);
    } else {
      EXPECT_EQ(e.progress, ++bob);
    }
    EXPECT_EQ(e.stage, "extracting");
  }
  auto tail = (*b)->ReadAfter((*all)[389].seq, 5);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 5u);
  EXPECT_EQ((*tail)[0].seq, (*all)[390].seq);
  EXPECT_EQ(*(*b)->LastSeq(), all->back().seq);
}

TEST(SqliteEventLogTest, OldEventsArePruned) {
  testutil::TempDir dir;
  auto log = OpenSqliteEventLog(dir.File("events.db"), {100, 60000});
  ASSERT_TRUE(log.ok());
  Event old = Ev(EventType::kQueued, "alice", "d1");
  old.at_ms -= 120000;  // two minutes ago, past the one minute kept
  ASSERT_TRUE((*log)->Append(old).ok());
  ASSERT_TRUE((*log)->Append(Ev(EventType::kReady, "alice", "d1")).ok());
  auto events = (*log)->ReadAfter(0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, EventType::kReady);
  EXPECT_EQ((*events)[0].seq, 2u) << "seq is never reused";
}

TEST(SqliteEventLogTest, RetryingCarriesTheNextAttemptAlsoInALogMadeBeforeThatColumn) {
  testutil::TempDir dir;
  {
    // The table as the first release made it, with one event in it.
    auto conn = store::sqlite::Connection::Open(dir.File("events.db"), 1000);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)->Exec("CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, "
                              "user_id TEXT NOT NULL, document_id TEXT NOT NULL, at INTEGER NOT NULL, stage TEXT NOT NULL "
                              "DEFAULT '', progress INTEGER NOT NULL DEFAULT 0, page INTEGER NOT NULL DEFAULT 0, pages "
                              "INTEGER NOT NULL DEFAULT 0, chunks INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT "
                              "'', attempts INTEGER NOT NULL DEFAULT 0); INSERT INTO events(type, user_id, document_id, at) "
                              "VALUES ('document.queued', 'alice', 'd1', strftime('%s', 'now') * 1000)").ok());
  }
  auto log = OpenSqliteEventLog(dir.File("events.db"));
  ASSERT_TRUE(log.ok()) << log.status().message();
  Event e = Ev(EventType::kRetrying, "alice", "d1");
  e.reason = "the embedding provider is unavailable";
  e.attempts = 1;
  e.next_attempt_at_ms = e.at_ms + 30000;
  ASSERT_TRUE((*log)->Append(e).ok());
  auto events = (*log)->ReadAfter(0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].next_attempt_at_ms, 0);
  EXPECT_EQ((*events)[1].type, EventType::kRetrying);
  EXPECT_EQ((*events)[1].next_attempt_at_ms, e.at_ms + 30000);
  EXPECT_EQ((*events)[1].attempts, 1);
}

class HubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = OpenSqliteEventLog(dir.File("events.db"));
    ASSERT_TRUE(l.ok());
    log = std::move(*l);
  }
  testutil::TempDir dir;
  Logger logger{stderr, LogLevel::kError};
  std::unique_ptr<EventLog> log;
};

TEST_F(HubTest, EachUserHearsOnlyTheirOwnEventsInOrder) {
  EventHub hub(*log, logger, {5, 16, 1000});
  ASSERT_TRUE(hub.Start().ok());
  auto alice = std::make_shared<Recorder>();
  auto bob = std::make_shared<Recorder>();
  EXPECT_FALSE(hub.Subscribe("alice", std::nullopt, alice).resync);
  hub.Subscribe("bob", std::nullopt, bob);
  EXPECT_EQ(hub.subscribers(), 2u);
  // A worker (another handle on the log) and the API itself publish.
  auto worker = OpenSqliteEventLog(dir.File("events.db"));
  ASSERT_TRUE(worker.ok());
  hub.Publish(Ev(EventType::kQueued, "alice", "d1"));
  ASSERT_TRUE((*worker)->Append(Ev(EventType::kProcessing, "alice", "d1", 50)).ok());
  ASSERT_TRUE((*worker)->Append(Ev(EventType::kProcessing, "bob", "d9", 10)).ok());
  ASSERT_TRUE((*worker)->Append(Ev(EventType::kReady, "alice", "d1")).ok());
  auto got = alice->WaitFor(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].type, EventType::kQueued);
  EXPECT_EQ(got[1].type, EventType::kProcessing);
  EXPECT_EQ(got[1].progress, 50);
  EXPECT_EQ(got[2].type, EventType::kReady);
  for (const Event& e : got) EXPECT_EQ(e.user_id, "alice");
  ASSERT_EQ(bob->WaitFor(1).size(), 1u);
  EXPECT_EQ(bob->WaitFor(1)[0].document_id, "d9");
}

TEST_F(HubTest, AReconnectingClientCatchesUpFromTheWindowOrIsToldToResync) {
  EventHub hub(*log, logger, {5, 4, 1000});
  // Events from before the hub started are not in any window.
  ASSERT_TRUE(log->Append(Ev(EventType::kQueued, "alice", "old")).ok());
  ASSERT_TRUE(hub.Start().ok());
  const uint64_t before = hub.delivered();
  for (int i = 1; i <= 3; ++i) hub.Publish(Ev(EventType::kProcessing, "alice", "d1", i * 10));
  while (hub.delivered() < before + 3) std::this_thread::sleep_for(5ms);
  const uint64_t first = before + 1;

  // Saw the first: gets the two after it, then live ones.
  auto r = std::make_shared<Recorder>();
  auto sub = hub.Subscribe("alice", first, r);
  EXPECT_FALSE(sub.resync);
  ASSERT_EQ(r->size(), 2u);
  hub.Publish(Ev(EventType::kReady, "alice", "d1"));
  auto got = r->WaitFor(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].progress, 20);
  EXPECT_EQ(got[1].progress, 30);
  EXPECT_EQ(got[2].type, EventType::kReady);

  // Saw everything: nothing replayed.
  auto up = std::make_shared<Recorder>();
  EXPECT_FALSE(hub.Subscribe("alice", hub.delivered(), up).resync);
  EXPECT_EQ(up->size(), 0u);
  // From before this process started, or an id it never gave: re-read state.
  EXPECT_TRUE(hub.Subscribe("alice", before - 1, std::make_shared<Recorder>()).resync);
  EXPECT_TRUE(hub.Subscribe("alice", hub.delivered() + 100, std::make_shared<Recorder>()).resync);
  // Older than the window (4 events kept): re-read state.
  for (int i = 0; i < 6; ++i) hub.Publish(Ev(EventType::kProcessing, "alice", "d2", i + 1));
  while (hub.delivered() < before + 10) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(hub.Subscribe("alice", first + 1, std::make_shared<Recorder>()).resync);
  // Another user with no events since the start is simply up to date.
  EXPECT_FALSE(hub.Subscribe("carol", before, std::make_shared<Recorder>()).resync);

  // Unsubscribed: hears nothing more.
  hub.Unsubscribe("alice", sub.id);
  const size_t heard = r->size();
  hub.Publish(Ev(EventType::kDeleted, "alice", "d1"));
  while (hub.delivered() < before + 11) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(r->size(), heard);
}

}  // namespace
}  // namespace betterdev::realtime
