// Fair turns between groups (the users jobs are for): Lease takes the group with the fewest
// running jobs, the least recently served first; LeaseFilter::kIdleGroups only groups with none.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "queue/sqlite/queue_schema.hpp"
#include "queue/sqlite/queue_test_util.hpp"

namespace betterdev::queue {
namespace {

class FairQueueTest : public QueueTest {
 protected:
  std::string For(const std::string& group, std::string_view name, JobOptions options = {}) {
    options.group = group;
    return Add(name, options);
  }
  // The names of the jobs leased one after another (without finishing any), until none is due.
  std::vector<std::string> LeaseAll(LeaseFilter filter = LeaseFilter::kAny) {
    std::vector<std::string> names;
    for (;;) {
      auto job = q->Lease("w", 30000, filter);
      EXPECT_TRUE(job.ok()) << job.status().ToString();
      if (!job.ok() || !*job) return names;
      leased.push_back(**job);
      names.push_back(Info((*job)->id).payload.substr(6, 2));  // {"n":"a1"}
    }
  }
  std::optional<Job> LeaseOne(LeaseFilter filter) {
    auto job = q->Lease("w", 30000, filter);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() ? *job : std::nullopt;
  }
  std::vector<Job> leased;
};

TEST_F(FairQueueTest, GroupsTakeTurnsWhateverTheOrderOfArrival) {
  // Group a queued three jobs before b queued two: b does not wait behind all of a's.
  For("a", "a1"), For("a", "a2"), For("a", "a3"), For("b", "b1"), For("b", "b2");
  EXPECT_EQ(LeaseAll(), (std::vector<std::string>{"a1", "b1", "a2", "b2", "a3"}));
}

TEST_F(FairQueueTest, TheGroupWithFewerRunningJobsGoesFirst) {
  For("a", "a1"), For("a", "a2"), For("a", "a3"), For("b", "b1"), For("b", "b2");
  ASSERT_EQ(LeaseAll().size(), 5u);
  // a has three running, b two. b finishes one: b's new jobs go first until b runs as many as
  // a, though a queued first.
  ASSERT_TRUE(q->Complete(leased[1]).ok());  // b1
  For("a", "a4"), For("b", "b3"), For("b", "b4"), For("b", "b5");
  EXPECT_EQ(LeaseAll(), (std::vector<std::string>{"b3", "b4", "a4", "b5"}));
}

TEST_F(FairQueueTest, PriorityOrdersJobsWithinTheirGroup) {
  For("a", "a1", {.priority = 5}), For("a", "a2", {.priority = 1}), For("b", "b1", {.priority = 9});
  EXPECT_EQ(LeaseAll(), (std::vector<std::string>{"a2", "b1", "a1"}));
}

TEST_F(FairQueueTest, TheSpareLaneTakesOnlyJobsOfGroupsWithNothingRunning) {
  For("a", "a1"), For("a", "a2");
  ASSERT_TRUE(LeaseOne(LeaseFilter::kAny));  // a1 runs
  EXPECT_FALSE(LeaseOne(LeaseFilter::kIdleGroups)) << "a has a job running: a2 waits for a main lane";
  For("b", "b1");
  auto b = LeaseOne(LeaseFilter::kIdleGroups);
  ASSERT_TRUE(b);
  EXPECT_EQ(Info(b->id).payload, R"({"n":"b1"})");
  EXPECT_FALSE(LeaseOne(LeaseFilter::kIdleGroups));
  auto a2 = LeaseOne(LeaseFilter::kAny);
  ASSERT_TRUE(a2);
  EXPECT_EQ(Info(a2->id).payload, R"({"n":"a2"})");
}

// Every way a job stops running gives its group back its turn: the running counts are kept by
// triggers on every state change, and a count that drifted would lock a group out of the spare
// lane (or let it in twice).
TEST_F(FairQueueTest, EveryWayAJobStopsRunningLeavesItsGroupIdle) {
  For("a", "a1", {.attempts = 5, .backoff_ms = 1000});
  auto idle_again = [&](const char* after) {
    For("a", "next");
    auto job = LeaseOne(LeaseFilter::kIdleGroups);
    EXPECT_TRUE(job) << "group a is not idle after " << after;
    return job;
  };
  auto job = LeaseOne(LeaseFilter::kAny);
  ASSERT_TRUE(job);
  ASSERT_TRUE(q->Release(*job).ok());
  job = idle_again("release");  // takes a1 again (it kept its place)
  ASSERT_TRUE(job);
  ASSERT_TRUE(q->Fail(*job, "x", true).ok());  // a1 delayed for a retry
  job = idle_again("a retry");
  ASSERT_TRUE(job);
  ASSERT_TRUE(q->Complete(*job).ok());
  job = idle_again("completion");
  ASSERT_TRUE(job);
  ASSERT_TRUE(q->Cancel(job->id).ok());
  job = idle_again("cancel");
  ASSERT_TRUE(job);
  clock.Advance(60000);
  ASSERT_EQ(q->ReclaimExpired()->size(), 0u);  // the running job's lease expired: retried
  clock.Advance(60000);
  // Three jobs are back in line (a1, and two "next"), none running: the spare lane takes one.
  EXPECT_EQ(LeaseAll(LeaseFilter::kIdleGroups).size(), 1u);
  EXPECT_EQ(LeaseAll(LeaseFilter::kAny).size(), 2u);
  ASSERT_TRUE(q->Fail(leased[2], "bad file", false).ok());  // failed for good
  ASSERT_TRUE(q->Complete(leased[0]).ok());
  ASSERT_TRUE(q->Complete(leased[1]).ok());
  idle_again("completions and a final failure");
}

TEST_F(FairQueueTest, AVersionOneFileIsMigratedWithItsJobsInOneGroup) {
  q.reset();
  {
    auto conn = store::sqlite::Connection::Open(dir.File("v1.db"), 1000);
    ASSERT_TRUE(conn.ok());
    // The version 1 schema as it shipped (indexes left out), with a waiting and a running job.
    ASSERT_TRUE((*conn)
                    ->Exec(R"sql(
      CREATE TABLE jobs (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
        payload TEXT NOT NULL, state TEXT NOT NULL, priority INTEGER NOT NULL, run_at INTEGER NOT NULL,
        attempts_made INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL, backoff_ms INTEGER NOT NULL,
        progress INTEGER NOT NULL DEFAULT 0, lease_token TEXT, lease_until INTEGER, worker_id TEXT,
        failed_reason TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, finished_at INTEGER);
      CREATE INDEX jobs_ready ON jobs(priority, seq) WHERE state = 'waiting';
      INSERT INTO jobs(id, name, payload, state, priority, run_at, max_attempts, backoff_ms, created_at,
                       attempts_made, lease_token, lease_until)
        VALUES ('job_running', 'X', '{}', 'active', 0, 0, 3, 1000, 0, 1, 'tok', 1),
               ('job_waiting', 'X', '{}', 'waiting', 0, 0, 3, 1000, 0, 0, NULL, NULL);
      PRAGMA user_version = 1;)sql")
                    .ok());
  }
  auto opened = OpenSqliteQueue(dir.File("v1.db"), clock);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  q = std::move(*opened);
  EXPECT_FALSE(LeaseOne(LeaseFilter::kIdleGroups)) << "the running job counts in its group";
  auto job = LeaseOne(LeaseFilter::kAny);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->id, "job_waiting");
  ASSERT_EQ(q->ReclaimExpired()->size(), 0u);  // job_running's lease (until 1 ms) expired: retried
  ASSERT_TRUE(q->Complete(*job).ok());
  clock.Advance(10000);
  job = LeaseOne(LeaseFilter::kIdleGroups);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->id, "job_running");
}

}  // namespace
}  // namespace betterdev::queue
