// The Redis queue against a real redis-server (started on loopback by the test, persistence on)
// running BullMQ's own scripts from the pinned package: the JobQueue contract, the places where
// it follows BullMQ (stalls, priorities, Release), and a Redis that goes away and comes back.
#include "queue/redis/redis_queue.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "redis/redis_test_server.hpp"

namespace betterdev::queue {
namespace {

using namespace std::chrono_literals;

class RedisQueueTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
  void SetUp() override { q = Open(); }

  std::unique_ptr<JobQueue> Open(RedisQueueOptions o = {}) {
    o.url = server.url();
    o.bullmq_dir = BETTERDEV_BULLMQ_DIR;
    o.timeout = 2s;
    if (o.stalled_interval_ms == 30000) o.stalled_interval_ms = 100;
    auto opened = OpenRedisQueue(o, clock);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  std::string Add(JobOptions options = {}, std::string_view payload = R"({"document_id":"d1"})") {
    auto id = q->Enqueue("FILE_PROCESS", payload, options);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : std::string();
  }
  std::optional<Job> Next(int64_t lease_ms = 30000) {
    auto job = q->Lease("w1", lease_ms, LeaseFilter::kAny);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() ? *job : std::nullopt;
  }
  JobInfo Info(const std::string& id) {
    auto info = q->Get(id);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() ? *info : JobInfo{};
  }
  redis::RedisReply Redis(const std::vector<std::string>& argv) {
    auto client = redis::RedisClient::Connect(server.url(), 2s);
    EXPECT_TRUE(client.ok());
    auto reply = (*client)->Command(argv);
    EXPECT_TRUE(reply.ok());
    return reply.ok() ? *reply : redis::RedisReply{};
  }

  redis::RedisTestServer server;
  SystemClock clock;
  std::unique_ptr<JobQueue> q;
};

TEST_F(RedisQueueTest, AJobGoesFromWaitingThroughActiveToCompletedInBullmqsLayout) {
  const std::string id = Add();
  EXPECT_EQ(id, "1") << "BullMQ numbers jobs from its id counter";
  EXPECT_EQ(Info(id).state, JobState::kWaiting);
  EXPECT_EQ(Redis({"LRANGE", "bull:file-processing:wait", "0", "-1"}).elements.at(0).text, id);
  auto job = Next();
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->id, id);
  EXPECT_EQ(job->name, "FILE_PROCESS");
  EXPECT_EQ(job->payload, R"({"document_id":"d1"})");
  EXPECT_EQ(job->attempts_made, 1);
  EXPECT_EQ(job->max_attempts, 3);
  EXPECT_FALSE(Next().has_value()) << "a leased job is not leased twice";
  EXPECT_EQ(Info(id).state, JobState::kActive);
  EXPECT_EQ(Redis({"GET", "bull:file-processing:1:lock"}).text, job->lease_token);
  ASSERT_TRUE(q->Extend(*job, 30000).ok());
  ASSERT_TRUE(q->Progress(*job, 40).ok());
  EXPECT_EQ(Info(id).progress, 40);
  EXPECT_EQ(Redis({"HGET", "bull:file-processing:1", "pb"}).text, "w1") << "processedBy: the worker's name";
  ASSERT_TRUE(q->Complete(*job, R"({"status":"ready"})").ok());
  JobInfo done = Info(id);
  EXPECT_EQ(done.state, JobState::kCompleted);
  EXPECT_TRUE(done.finished_at.has_value());
  EXPECT_EQ(Redis({"HGET", "bull:file-processing:1", "returnvalue"}).text, R"({"status":"ready"})");
  auto counts = q->Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->completed, 1);
  EXPECT_EQ(counts->waiting + counts->active + counts->delayed + counts->failed, 0);
  EXPECT_EQ(q->Complete(*job).code(), StatusCode::kNotFound) << "finished once";
}

TEST_F(RedisQueueTest, ACompletionTakesTheLanesNextJobInTheSameCall) {
  const std::string a = Add(), b = Add(), c = Add();
  auto first = Next();
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(q->Complete(*first).ok());
  EXPECT_EQ(Info(b).state, JobState::kActive) << "fetched by the completion (BullMQ's fetchNext)";
  EXPECT_EQ(Redis({"HGET", "bull:file-processing:" + b, "pb"}).text, "w1");
  auto other = q->Lease("w2", 30000, LeaseFilter::kAny);
  ASSERT_TRUE(other.ok() && other->has_value());
  EXPECT_EQ((*other)->id, c) << "another lane does not get it";
  auto second = Next();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->id, b);
  EXPECT_EQ(second->attempts_made, 1);
  ASSERT_TRUE(q->Extend(*second, 30000).ok()) << "its lock is the lane's";
  ASSERT_TRUE(q->Complete(*second).ok());
  ASSERT_TRUE(q->Complete(**other).ok());
  // A fetched job nobody leased goes back to waiting when the queue closes (a stopping worker).
  const std::string d = Add();
  auto third = Next();
  ASSERT_TRUE(third.has_value());
  const std::string e = Add();
  ASSERT_TRUE(q->Complete(*third).ok());
  EXPECT_EQ(Info(e).state, JobState::kActive);
  q.reset();
  q = Open();
  EXPECT_EQ(Info(e).state, JobState::kWaiting);
  EXPECT_EQ(Redis({"EXISTS", "bull:file-processing:" + e + ":lock"}).integer, 0);
  (void)a;
  (void)d;
}

TEST_F(RedisQueueTest, AValueThatIsNotJsonIsStoredAsAJsonString) {
  Add();
  auto job = Next();
  ASSERT_TRUE(job.has_value());
  ASSERT_TRUE(q->Complete(*job, "plain text").ok());
  EXPECT_EQ(Redis({"HGET", "bull:file-processing:1", "returnvalue"}).text, R"("plain text")");
  EXPECT_EQ(q->Enqueue("FILE_PROCESS", "{not json", {}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(RedisQueueTest, FailuresRetryWithExponentialBackoffThenFail) {
  JobOptions o;
  o.attempts = 3;
  o.backoff_ms = 100;
  const std::string id = Add(o);
  auto first = Next();
  ASSERT_TRUE(first.has_value());
  auto r1 = q->Fail(*first, "provider down", true);
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_TRUE(r1->retried);
  JobInfo info = Info(id);
  EXPECT_EQ(info.state, JobState::kDelayed);
  EXPECT_EQ(info.failed_reason, "provider down");
  EXPECT_FALSE(Next().has_value()) << "not before its backoff";
  std::this_thread::sleep_for(150ms);
  auto second = Next();
  ASSERT_TRUE(second.has_value()) << "due after 100 ms";
  EXPECT_EQ(second->attempts_made, 2);
  auto r2 = q->Fail(*second, "provider down again", true);
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->retried);
  EXPECT_GE(r2->retry_at - clock.NowMillis(), 150) << "the second retry waits 200 ms";
  std::this_thread::sleep_for(250ms);
  auto third = Next();
  ASSERT_TRUE(third.has_value());
  auto r3 = q->Fail(*third, "still down", true);
  ASSERT_TRUE(r3.ok());
  EXPECT_FALSE(r3->retried) << "out of attempts";
  info = Info(id);
  EXPECT_EQ(info.state, JobState::kFailed);
  EXPECT_EQ(info.failed_reason, "still down");
  EXPECT_EQ(Redis({"HGET", "bull:file-processing:1", "atm"}).text, "3");
}

TEST_F(RedisQueueTest, AnUnrecoverableFailureEndsAtOnce) {
  const std::string id = Add();
  auto job = Next();
  ASSERT_TRUE(job.has_value());
  auto r = q->Fail(*job, "not a PDF", false);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->retried);
  EXPECT_EQ(Info(id).state, JobState::kFailed);
  EXPECT_FALSE(Next().has_value());
}

TEST_F(RedisQueueTest, PrioritiesAndDelaysAreBullmqs) {
  JobOptions low, high, later;
  low.priority = 10;
  high.priority = 1;
  later.delay_ms = 150;
  const std::string plain = Add();
  const std::string l = Add(low);
  const std::string h = Add(high);
  const std::string d = Add(later);
  EXPECT_EQ(Info(d).state, JobState::kDelayed);
  JobOptions negative;
  negative.priority = -1;
  EXPECT_EQ(q->Enqueue("FILE_PROCESS", "{}", negative).status().code(), StatusCode::kInvalidArgument);
  // BullMQ: jobs without a priority first, then by priority.
  EXPECT_EQ(Next()->id, plain);
  EXPECT_EQ(Next()->id, h);
  EXPECT_EQ(Next()->id, l);
  EXPECT_FALSE(Next().has_value());
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(Next()->id, d);
}

TEST_F(RedisQueueTest, ACallerChosenIdIsTakenOnce) {
  JobOptions o;
  o.id = "job_abc";
  EXPECT_EQ(Add(o), "job_abc");
  EXPECT_EQ(q->Enqueue("FILE_PROCESS", "{}", o).status().code(), StatusCode::kConflict);
  EXPECT_EQ(Redis({"LLEN", "bull:file-processing:wait"}).integer, 1);
  for (const char* bad : {"42", "a:b"}) {  // BullMQ's rules: not an integer, no ':'
    JobOptions b;
    b.id = bad;
    EXPECT_EQ(q->Enqueue("FILE_PROCESS", "{}", b).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(RedisQueueTest, CancellingAnActiveJobTakesItsLease) {
  const std::string id = Add();
  auto job = Next();
  ASSERT_TRUE(job.has_value());
  ASSERT_TRUE(q->Cancel(id).ok());
  EXPECT_EQ(q->Get(id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(q->Extend(*job, 30000).code(), StatusCode::kNotFound);
  EXPECT_EQ(q->Progress(*job, 50).code(), StatusCode::kNotFound);
  EXPECT_EQ(q->Complete(*job).code(), StatusCode::kNotFound);
  EXPECT_TRUE(q->Cancel("no-such-job").ok());
}

TEST_F(RedisQueueTest, ReleaseGivesTheJobBackWithoutCountingAFailure) {
  const std::string id = Add();
  auto job = Next();
  ASSERT_TRUE(job.has_value());
  ASSERT_TRUE(q->Release(*job).ok());
  EXPECT_EQ(Info(id).state, JobState::kWaiting);
  auto again = Next();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->attempts_made, 2) << "a start is a start (the worker's fence)";
  EXPECT_EQ(Redis({"HGET", "bull:file-processing:1", "atm"}).text, "") << "no failure counted";
  EXPECT_EQ(q->Extend(*job, 1000).code(), StatusCode::kNotFound) << "the first lease is over";
}

TEST_F(RedisQueueTest, AStalledJobComesBackThenFailsWhenItStallsTooOften) {
  const std::string id = Add();
  auto job = Next(/*lease_ms=*/100);
  ASSERT_TRUE(job.has_value());
  // The stall check marks active jobs, and takes back those still marked and unlocked at its
  // next run (no more often than the stalled interval, 100 ms here).
  auto reclaim = [&] {
    for (int i = 0; i < 3; ++i) {
      std::this_thread::sleep_for(120ms);
      auto failed = q->ReclaimExpired();
      EXPECT_TRUE(failed.ok()) << failed.status().ToString();
      if (Info(id).state != JobState::kActive) return;
    }
  };
  reclaim();
  EXPECT_EQ(Info(id).state, JobState::kWaiting);
  EXPECT_EQ(q->Extend(*job, 1000).code(), StatusCode::kNotFound) << "its old holder lost it";
  auto second = Next(100);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->attempts_made, 2);
  reclaim();
  // Stalled twice with max_stalled_count 1: the next lease fails it (BullMQ's deferred failure).
  EXPECT_FALSE(Next().has_value());
  auto failed = q->ReclaimExpired();
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ(failed->at(0).id, id);
  EXPECT_EQ(failed->at(0).payload, R"({"document_id":"d1"})");
  EXPECT_EQ(Info(id).state, JobState::kFailed);
  EXPECT_EQ(Info(id).failed_reason, "job stalled more than allowable limit");
}

TEST_F(RedisQueueTest, AnExtendedLeaseDoesNotStall) {
  const std::string id = Add();
  auto job = Next(300);
  ASSERT_TRUE(job.has_value());
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(120ms);
    ASSERT_TRUE(q->Extend(*job, 300).ok());
    ASSERT_TRUE(q->ReclaimExpired().ok());
  }
  EXPECT_EQ(Info(id).state, JobState::kActive);
  EXPECT_TRUE(q->Complete(*job).ok());
}

TEST_F(RedisQueueTest, RetentionTrimsCompletedJobs) {
  RedisQueueOptions o;
  o.keep_completed.max_count = 2;
  q = Open(o);
  for (int i = 0; i < 4; ++i) {
    Add();
    auto job = Next();
    ASSERT_TRUE(job.has_value());
    ASSERT_TRUE(q->Complete(*job).ok());
  }
  EXPECT_EQ(q->Counts()->completed, 2) << "removeOnComplete {count: 2}";
  EXPECT_EQ(q->Get("1").status().code(), StatusCode::kNotFound);
  auto pruned = q->PruneCompleted({int64_t{1}, std::nullopt});
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 1);
  EXPECT_EQ(q->Counts()->completed, 1);
  EXPECT_TRUE(q->Get("4").ok()) << "the newest stays";
}

TEST_F(RedisQueueTest, AWaitingWorkerWakesWhenAJobArrives) {
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    EXPECT_TRUE(q->WaitForWork("w1", 10000));
    woke = true;
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(woke) << "nothing to do yet";
  const int64_t added = clock.NowMillis();
  Add();
  waiter.join();
  EXPECT_LT(clock.NowMillis() - added, 5000) << "woken by the marker, not the timeout";
  // Named as BullMQ names a worker's connection, so BullMQ's getWorkers lists it.
  auto clients = Redis({"CLIENT", "LIST"});
  EXPECT_NE(clients.text.find("name=bull:ZmlsZS1wcm9jZXNzaW5n:w:w1"), std::string::npos) << clients.text;
  // With nothing queued it waits out its timeout (after at most one spurious wake-up: taking a
  // job leaves a marker for other workers, as BullMQ's does).
  ASSERT_TRUE(Next().has_value());
  EXPECT_TRUE(q->WaitForWork("w1", 300));
  const int64_t start = clock.NowMillis();
  EXPECT_TRUE(q->WaitForWork("w1", 300));
  EXPECT_GE(clock.NowMillis() - start, 250);
}

TEST_F(RedisQueueTest, PausedQueueLeasesNothingUntilResumed) {
  Add();
  Redis({"HSET", "bull:file-processing:meta", "paused", "1"});  // what BullMQ's pause script sets
  EXPECT_FALSE(Next().has_value());
  Redis({"HDEL", "bull:file-processing:meta", "paused"});
  EXPECT_TRUE(Next().has_value());
}

TEST_F(RedisQueueTest, ARedisRestartLosesNoJobAndTheQueueReconnects) {
  const std::string a = Add();
  const std::string b = Add();
  auto job = Next();
  ASSERT_TRUE(job.has_value());
  server.Stop();
  EXPECT_EQ(q->Enqueue("FILE_PROCESS", "{}", {}).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(q->Lease("w1", 1000, LeaseFilter::kAny).status().code(), StatusCode::kUnavailable);
  server.Restart();
  Status completed = q->Complete(*job);
  for (int i = 0; i < 60 && completed.code() == StatusCode::kUnavailable; ++i) {  // the reconnect back-off
    std::this_thread::sleep_for(100ms);
    completed = q->Complete(*job);
  }
  ASSERT_TRUE(completed.ok()) << completed.ToString() << ": the lease survived (append-only file)";
  auto next = Next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->id, b);
  EXPECT_EQ(Info(a).state, JobState::kCompleted);
}

TEST(RedisQueueTls, JobsTravelOverTls) {
  ::signal(SIGPIPE, SIG_IGN);
  redis::RedisTestServer server{redis::RedisTestServer::Tls{}};
  RedisQueueOptions o;
  o.url = server.url();
  o.bullmq_dir = BETTERDEV_BULLMQ_DIR;
  SystemClock clock;
  auto q = OpenRedisQueue(o, clock);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  auto id = (*q)->Enqueue("FILE_PROCESS", R"({"document_id":"d1"})", {});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_TRUE((*q)->WaitForWork("w1", 1000)) << "the blocking wait over TLS";
  auto job = (*q)->Lease("w1", 30000, LeaseFilter::kAny);
  ASSERT_TRUE(job.ok() && job->has_value());
  ASSERT_TRUE((*q)->Complete(**job, R"({"status":"ready"})").ok());
  EXPECT_EQ((*q)->Get(*id)->state, JobState::kCompleted);
}

}  // namespace
}  // namespace betterdev::queue
