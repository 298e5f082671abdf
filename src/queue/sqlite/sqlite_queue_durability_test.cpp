// The SQLite queue across restarts, threads, queue instances and processes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "queue/sqlite/queue_schema.hpp"
#include "queue/sqlite/queue_test_util.hpp"
#include "store/sqlite/db.hpp"

namespace betterdev::queue {
namespace {

TEST_F(QueueTest, JobsAndStatesSurviveReopening) {
  std::string waiting = Add("waiting", {.priority = 1}), delayed = Add("delayed", {.delay_ms = 60000});
  std::string done = Add("done", {.priority = -2}), failed = Add("failed", {.attempts = 1, .priority = -1});
  std::string active = Add("active");
  auto d = Next(), f = Next(), a = Next(60000);
  ASSERT_TRUE(d && f && a);
  ASSERT_EQ(a->id, active);
  ASSERT_TRUE(q->Progress(*a, 30).ok());
  ASSERT_TRUE(q->Complete(*d).ok());
  ASSERT_TRUE(q->Fail(*f, "bad input", true).ok());

  q.reset();
  q = Open();
  ASSERT_TRUE(q);
  EXPECT_EQ(Info(waiting).state, JobState::kWaiting);
  EXPECT_EQ(Info(delayed).state, JobState::kDelayed);
  EXPECT_EQ(Info(done).state, JobState::kCompleted);
  EXPECT_EQ(Info(failed).state, JobState::kFailed);
  EXPECT_EQ(Info(failed).failed_reason, "bad input");
  EXPECT_EQ(Info(active).state, JobState::kActive);
  EXPECT_EQ(Info(active).progress, 30);
  StateCounts n = *q->Counts();
  EXPECT_EQ(n.waiting, 1);
  EXPECT_EQ(n.delayed, 1);
  EXPECT_EQ(n.active, 1);
  EXPECT_EQ(n.completed, 1);
  EXPECT_EQ(n.failed, 1);
  // The lease survived too: its holder can finish, and the rest resumes in order.
  ASSERT_TRUE(q->Complete(*a).ok());
  auto next = Next();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->id, waiting);
  EXPECT_EQ(next->payload, R"({"n":"waiting"})");
}

TEST_F(QueueTest, SchemaVersionIsRecordedAndANewerFileIsRefused) {
  q.reset();
  auto conn = store::sqlite::Connection::Open(dir.File("queue.db"), 1000);
  ASSERT_TRUE(conn.ok());
  {
    store::sqlite::Statement v = (*conn)->Prepare("PRAGMA user_version");
    ASSERT_TRUE(*v.Step());
    EXPECT_EQ(v.Int(0), sqlite::kQueueSchemaVersion);
  }
  ASSERT_TRUE((*conn)->Exec("PRAGMA user_version = 99").ok());
  conn->reset();
  auto reopened = OpenSqliteQueue(dir.File("queue.db"), clock);
  EXPECT_EQ(reopened.status().code(), StatusCode::kInternal);
}

// Leases and completes until nothing is due, recording each job it completed.
void Drain(JobQueue& queue, const std::string& worker, std::map<std::string, int>& done, std::mutex& mu, int& errors) {
  for (;;) {
    auto job = queue.Lease(worker, 60000, LeaseFilter::kAny);
    if (!job.ok()) {
      std::lock_guard lock(mu);
      ++errors;
      continue;
    }
    if (!*job) return;
    Status s = queue.Complete(**job);
    std::lock_guard lock(mu);
    ++(s.ok() ? done[(*job)->id] : errors);
  }
}

TEST_F(QueueTest, FourThreadsOnTwoInstancesCompleteEachJobExactlyOnce) {
  // Two instances on one file behave like two processes: separate connections and locks.
  std::unique_ptr<JobQueue> other = Open();
  ASSERT_TRUE(other);
  constexpr int kThreads = 4, kPerThread = 500;
  std::map<std::string, int> done;
  std::mutex mu;
  int errors = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    JobQueue& queue = t % 2 ? *other : *q;
    threads.emplace_back([&, t] {
      // Produce while the others consume; every thread drains after its last enqueue, so
      // nothing can be left behind.
      for (int i = 0; i < kPerThread; ++i) {
        auto id = queue.Enqueue("noop", "{}", {.priority = i % 3});
        std::lock_guard lock(mu);
        if (!id.ok()) ++errors;
      }
      Drain(queue, "worker-" + std::to_string(t), done, mu, errors);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(done.size(), size_t{kThreads * kPerThread});
  for (const auto& [id, times] : done) EXPECT_EQ(times, 1) << id;
  StateCounts n = *q->Counts();
  EXPECT_EQ(n.completed, kThreads * kPerThread);
  EXPECT_EQ(n.waiting + n.active + n.delayed + n.failed, 0);
}

TEST_F(QueueTest, TwoProcessesLeaseFromOneFileWithoutDuplicates) {
  constexpr int kJobs = 1000, kProcesses = 2;
  std::map<std::string, int> expected;
  for (int i = 0; i < kJobs; ++i) expected[Add("noop", {.priority = i % 4})] = 1;
  q.reset();  // a connection must not cross fork()
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // The child reports through a file and never returns into the test runner.
      auto queue = OpenSqliteQueue(dir.File("queue.db"), clock);
      std::ofstream out(dir.File("done-" + std::to_string(p)));
      int errors = queue.ok() ? 0 : 1;
      while (queue.ok()) {
        auto job = (*queue)->Lease("proc-" + std::to_string(p), 60000, LeaseFilter::kAny);
        if (!job.ok()) ++errors;
        if (!job.ok() || !*job) break;
        if ((*queue)->Complete(**job).ok()) {
          out << (*job)->id << '\n';
        } else {
          ++errors;
        }
      }
      out.close();
      _exit(errors == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::map<std::string, int> done;
  for (int p = 0; p < kProcesses; ++p) {
    std::ifstream in(dir.File("done-" + std::to_string(p)));
    for (std::string id; std::getline(in, id);) ++done[id];
  }
  EXPECT_EQ(done, expected);
  q = Open();
  EXPECT_EQ(q->Counts()->completed, kJobs);
}

}  // namespace
}  // namespace betterdev::queue
