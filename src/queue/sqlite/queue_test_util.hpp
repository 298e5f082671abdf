// Shared fixture for the SQLite queue tests: a queue file in a temp dir and a hand-moved clock.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "queue/sqlite/sqlite_queue.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::queue {

class QueueTest : public ::testing::Test {
 protected:
  void SetUp() override { q = Open(); }

  std::unique_ptr<JobQueue> Open() {
    auto opened = OpenSqliteQueue(dir.File("queue.db"), clock);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  std::string Add(std::string_view name, JobOptions options = {}) {
    auto id = q->Enqueue(name, R"({"n":")" + std::string(name) + R"("})", options);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : std::string();
  }

  // The next leased job, or nullopt (a failed Lease call fails the test).
  std::optional<Job> Next(int64_t lease_ms = 30000) { return Next(*q, lease_ms); }
  static std::optional<Job> Next(JobQueue& queue, int64_t lease_ms = 30000) {
    auto job = queue.Lease("worker-1", lease_ms, LeaseFilter::kAny);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() ? *job : std::nullopt;
  }

  JobInfo Info(const std::string& id) {
    auto info = q->Get(id);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    return info.ok() ? *info : JobInfo{};
  }

  testutil::TempDir dir;
  testutil::FakeClock clock;
  std::unique_ptr<JobQueue> q;
};

}  // namespace betterdev::queue
