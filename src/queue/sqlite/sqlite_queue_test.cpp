// Behaviour of the SQLite queue, one job lifecycle rule per test, with a fake clock.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "queue/sqlite/queue_test_util.hpp"

namespace betterdev::queue {
namespace {

constexpr char kExpired[] = "lease expired: worker stopped or stalled";

TEST(JobStateNameTest, NamesEveryState) {
  EXPECT_EQ(JobStateName(JobState::kWaiting), "waiting");
  EXPECT_EQ(JobStateName(JobState::kDelayed), "delayed");
  EXPECT_EQ(JobStateName(JobState::kActive), "active");
  EXPECT_EQ(JobStateName(JobState::kCompleted), "completed");
  EXPECT_EQ(JobStateName(JobState::kFailed), "failed");
}

TEST(RetryDelayTest, DoublesAndSaturates) {
  EXPECT_EQ(RetryDelayMs(1000, 1), 1000);
  EXPECT_EQ(RetryDelayMs(1000, 2), 2000);
  EXPECT_EQ(RetryDelayMs(1000, 5), 16000);
  EXPECT_EQ(RetryDelayMs(0, 7), 0);
  EXPECT_GT(RetryDelayMs(1000, 200), RetryDelayMs(1000, 40));  // no overflow into negatives
  EXPECT_LE(RetryDelayMs(INT64_MAX / 2, 3), INT64_MAX / 4);
}

TEST_F(QueueTest, EnqueueRejectsBadOptions) {
  EXPECT_EQ(q->Enqueue("", "{}", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(q->Enqueue("X", "{}", {.attempts = 0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(q->Enqueue("X", "{}", {.backoff_ms = -1}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(q->Enqueue("X", "{}", {.delay_ms = -1}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(q->Lease("w", 0, LeaseFilter::kAny).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(q->Counts()->waiting, 0);
}

TEST_F(QueueTest, EnqueuedJobCarriesItsFields) {
  std::string id = Add("FILE_PROCESS", {.attempts = 5, .priority = 2});
  EXPECT_EQ(id.rfind("job_", 0), 0u);
  JobInfo info = Info(id);
  EXPECT_EQ(info.name, "FILE_PROCESS");
  EXPECT_EQ(info.payload, R"({"n":"FILE_PROCESS"})");
  EXPECT_EQ(info.state, JobState::kWaiting);
  EXPECT_EQ(info.max_attempts, 5);
  EXPECT_EQ(info.attempts_made, 0);
  EXPECT_EQ(info.created_at, clock.NowMillis());
  EXPECT_EQ(info.run_at, clock.NowMillis());
  EXPECT_FALSE(info.finished_at);
  auto job = Next(5000);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->id, id);
  EXPECT_EQ(job->payload, R"({"n":"FILE_PROCESS"})");
  EXPECT_EQ(job->attempts_made, 1);
  EXPECT_EQ(job->max_attempts, 5);
  EXPECT_EQ(job->lease_until, clock.NowMillis() + 5000);
  EXPECT_EQ(job->lease_token.size(), 32u);
  EXPECT_EQ(Info(id).state, JobState::kActive);
  EXPECT_EQ(q->Get("job_missing").status().code(), StatusCode::kNotFound);
}

TEST_F(QueueTest, ACallerChosenIdIsKeptAndMustBeUnique) {
  JobOptions o;
  o.id = "job_chosen_by_caller";
  auto id = q->Enqueue("FILE_PROCESS", "{}", o);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "job_chosen_by_caller");
  EXPECT_EQ(Info(*id).state, JobState::kWaiting);
  EXPECT_EQ(q->Enqueue("FILE_PROCESS", "{}", o).status().code(), StatusCode::kConflict);
  auto job = Next(5000);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->id, "job_chosen_by_caller");
}

TEST_F(QueueTest, LeasesBySmallestPriorityThenEnqueueOrder) {
  // All in the same millisecond: only the enqueue order can break ties.
  std::string a = Add("a", {.priority = 5}), b = Add("b"), c = Add("c", {.priority = 5}),
              d = Add("d", {.priority = -1}), e = Add("e");
  std::vector<std::string> order;
  while (auto job = Next()) order.push_back(job->id);
  EXPECT_EQ(order, (std::vector<std::string>{d, b, e, a, c}));
}

TEST_F(QueueTest, DelayedJobIsNotLeasedBeforeItsTime) {
  std::string late = Add("late", {.priority = -10, .delay_ms = 5000});
  std::string now = Add("now", {.priority = 10});
  EXPECT_EQ(Info(late).state, JobState::kDelayed);
  EXPECT_EQ(Info(late).run_at, clock.NowMillis() + 5000);
  EXPECT_EQ(q->Counts()->delayed, 1);
  auto first = Next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->id, now);  // the urgent but delayed job does not block the due one
  clock.Advance(4999);
  EXPECT_FALSE(Next());
  clock.Advance(1);
  EXPECT_EQ(Info(late).state, JobState::kWaiting);
  EXPECT_EQ(q->Counts()->waiting, 1);
  EXPECT_EQ(q->Counts()->delayed, 0);
  auto second = Next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, late);
}

TEST_F(QueueTest, ActiveJobIsNotLeasedAgainUntilReclaimed) {
  std::string id = Add("x");
  ASSERT_TRUE(Next(1000));
  EXPECT_FALSE(Next());
  clock.Advance(5000);  // expired, but only ReclaimExpired gives it back
  EXPECT_FALSE(Next());
  EXPECT_EQ(Info(id).state, JobState::kActive);
}

TEST_F(QueueTest, ExpiredLeaseIsRetriedWithBackoffThenFailsWithReason) {
  std::string id = Add("x", {.attempts = 2, .backoff_ms = 1000});
  auto first = Next(10000);
  ASSERT_TRUE(first);
  clock.Advance(9999);
  EXPECT_TRUE(q->ReclaimExpired()->empty());
  EXPECT_EQ(Info(id).state, JobState::kActive);
  clock.Advance(1);
  EXPECT_TRUE(q->ReclaimExpired()->empty());  // retried, so not reported
  JobInfo info = Info(id);
  EXPECT_EQ(info.state, JobState::kDelayed);
  EXPECT_EQ(info.run_at, clock.NowMillis() + 1000);
  EXPECT_EQ(info.attempts_made, 1);
  EXPECT_EQ(info.failed_reason, kExpired);
  EXPECT_EQ(q->Complete(*first).code(), StatusCode::kNotFound);  // the dead worker's lease is gone
  clock.Advance(999);
  EXPECT_FALSE(Next());
  clock.Advance(1);
  auto second = Next(10000);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->attempts_made, 2);
  clock.Advance(10000);
  auto failed = q->ReclaimExpired();
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->size(), 1u);
  EXPECT_EQ((*failed)[0].id, id);
  EXPECT_EQ((*failed)[0].state, JobState::kFailed);
  EXPECT_EQ((*failed)[0].failed_reason, kExpired);
  EXPECT_EQ((*failed)[0].payload, R"({"n":"x"})");  // the caller finds the job's subject in it
  info = Info(id);
  EXPECT_EQ(info.state, JobState::kFailed);
  EXPECT_EQ(info.attempts_made, 2);
  EXPECT_EQ(info.finished_at, clock.NowMillis());
  EXPECT_FALSE(Next());
  EXPECT_EQ(q->Counts()->failed, 1);
}

TEST_F(QueueTest, ExtendKeepsTheLeaseAlive) {
  std::string id = Add("x");
  auto job = Next(1000);
  ASSERT_TRUE(job);
  clock.Advance(900);
  ASSERT_TRUE(q->Extend(*job, 1000).ok());
  clock.Advance(900);
  EXPECT_TRUE(q->ReclaimExpired()->empty());
  EXPECT_EQ(Info(id).state, JobState::kActive);
  clock.Advance(100);
  EXPECT_TRUE(q->ReclaimExpired()->empty());
  EXPECT_EQ(Info(id).state, JobState::kDelayed);
  EXPECT_EQ(q->Extend(*job, 0).code(), StatusCode::kInvalidArgument);
}

TEST_F(QueueTest, FailRetriesWithDoublingBackoffAndKeepsTheFinalReason) {
  std::string id = Add("x", {.attempts = 4, .backoff_ms = 1000});
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto job = Next();
    ASSERT_TRUE(job) << attempt;
    EXPECT_EQ(job->attempts_made, attempt);
    auto out = q->Fail(*job, "boom " + std::to_string(attempt), true);
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(out->retried);
    int64_t delay = 1000LL << (attempt - 1);
    EXPECT_EQ(out->retry_at, clock.NowMillis() + delay);
    EXPECT_EQ(Info(id).failed_reason, "boom " + std::to_string(attempt));
    clock.Advance(delay - 1);
    EXPECT_FALSE(Next()) << attempt;
    clock.Advance(1);
  }
  auto last = Next();
  ASSERT_TRUE(last);
  auto out = q->Fail(*last, "boom 4", true);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->retried);
  JobInfo info = Info(id);
  EXPECT_EQ(info.state, JobState::kFailed);
  EXPECT_EQ(info.attempts_made, 4);
  EXPECT_EQ(info.failed_reason, "boom 4");
  EXPECT_EQ(info.finished_at, clock.NowMillis());
  clock.Advance(1000000);
  EXPECT_FALSE(Next());
}

TEST_F(QueueTest, NonRetryableFailEndsTheJobAtOnce) {
  std::string id = Add("x", {.attempts = 3});
  auto job = Next();
  ASSERT_TRUE(job);
  auto out = q->Fail(*job, "unsupported file type", false);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->retried);
  EXPECT_EQ(Info(id).state, JobState::kFailed);
  EXPECT_EQ(Info(id).attempts_made, 1);
  EXPECT_EQ(Info(id).failed_reason, "unsupported file type");
}

TEST_F(QueueTest, StaleTokenIsNotFoundAfterReLease) {
  std::string id = Add("x", {.backoff_ms = 0});
  auto old = Next(1000);
  ASSERT_TRUE(old);
  clock.Advance(1000);
  ASSERT_TRUE(q->ReclaimExpired().ok());
  auto fresh = Next(1000);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->id, id);
  EXPECT_NE(fresh->lease_token, old->lease_token);
  EXPECT_EQ(q->Extend(*old, 1000).code(), StatusCode::kNotFound);
  EXPECT_EQ(q->Progress(*old, 50).code(), StatusCode::kNotFound);
  EXPECT_EQ(q->Fail(*old, "late", true).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(q->Release(*old).code(), StatusCode::kNotFound);
  EXPECT_EQ(q->Complete(*old).code(), StatusCode::kNotFound);
  Job forged = *fresh;
  forged.lease_token = std::string(32, '0');
  EXPECT_EQ(q->Complete(forged).code(), StatusCode::kNotFound);
  EXPECT_EQ(Info(id).state, JobState::kActive);  // none of that touched the new lease
  EXPECT_EQ(Info(id).attempts_made, 2);
  ASSERT_TRUE(q->Complete(*fresh).ok());
  EXPECT_EQ(Info(id).state, JobState::kCompleted);
  EXPECT_EQ(Info(id).finished_at, clock.NowMillis());
  EXPECT_EQ(q->Complete(*fresh).code(), StatusCode::kNotFound);  // a lease ends once
}

TEST_F(QueueTest, ReleaseGivesTheJobBackWithoutCountingTheAttempt) {
  std::string first = Add("first", {.attempts = 1}), second = Add("second");
  auto job = Next();
  ASSERT_TRUE(job);
  EXPECT_EQ(job->id, first);
  ASSERT_TRUE(q->Release(*job).ok());
  EXPECT_EQ(q->Release(*job).code(), StatusCode::kNotFound);
  EXPECT_EQ(Info(first).state, JobState::kWaiting);
  EXPECT_EQ(Info(first).attempts_made, 0);
  auto again = Next();  // still first in line, and its single attempt is still available
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, first);
  EXPECT_EQ(again->attempts_made, 1);
  EXPECT_FALSE(q->Fail(*again, "boom", true)->retried);
}

TEST_F(QueueTest, ProgressIsRecordedAndResetOnTheNextLease) {
  std::string id = Add("x", {.backoff_ms = 0});
  auto job = Next();
  ASSERT_TRUE(job);
  ASSERT_TRUE(q->Progress(*job, 40).ok());
  EXPECT_EQ(Info(id).progress, 40);
  EXPECT_EQ(q->Progress(*job, 101).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(q->Progress(*job, -1).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(q->Fail(*job, "boom", true).ok());
  ASSERT_TRUE(Next());
  EXPECT_EQ(Info(id).progress, 0);
}

TEST_F(QueueTest, CancelRemovesWaitingAndActiveJobs) {
  std::string waiting = Add("waiting", {.priority = 1}), active = Add("active");
  auto job = Next();
  ASSERT_TRUE(job);
  ASSERT_EQ(job->id, active);
  ASSERT_TRUE(q->Cancel(waiting).ok());
  ASSERT_TRUE(q->Cancel(active).ok());
  EXPECT_TRUE(q->Cancel("job_missing").ok());
  EXPECT_EQ(q->Get(waiting).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(q->Get(active).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(q->Progress(*job, 10).code(), StatusCode::kNotFound);
  EXPECT_EQ(q->Extend(*job, 1000).code(), StatusCode::kNotFound);
  EXPECT_EQ(q->Complete(*job).code(), StatusCode::kNotFound);
  EXPECT_EQ(q->Fail(*job, "x", true).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(Next());
  clock.Advance(60000);
  EXPECT_TRUE(q->ReclaimExpired()->empty());
  StateCounts c = *q->Counts();
  EXPECT_EQ(c.waiting + c.delayed + c.active + c.completed + c.failed, 0);
}

TEST_F(QueueTest, CountsEachState) {
  Add("w1");
  Add("w2");
  Add("d", {.delay_ms = 1000});
  Add("a", {.priority = -3});
  Add("c", {.priority = -2});
  Add("f", {.attempts = 1, .priority = -1});
  auto a = Next(), c = Next(), f = Next();
  ASSERT_TRUE(a && c && f);
  ASSERT_TRUE(q->Complete(*c).ok());
  ASSERT_TRUE(q->Fail(*f, "boom", true).ok());
  StateCounts n = *q->Counts();
  EXPECT_EQ(n.waiting, 2);
  EXPECT_EQ(n.delayed, 1);
  EXPECT_EQ(n.active, 1);
  EXPECT_EQ(n.completed, 1);
  EXPECT_EQ(n.failed, 1);
}

TEST_F(QueueTest, PruneCompletedKeepsTheNewestAndTheFailed) {
  std::vector<std::string> done;
  for (int i = 0; i < 5; ++i) {
    done.push_back(Add("c"));
    auto job = Next();
    ASSERT_TRUE(job);
    ASSERT_TRUE(q->Complete(*job).ok());
    clock.Advance(1000);
  }
  std::string failed = Add("f", {.attempts = 1});
  ASSERT_TRUE(q->Fail(*Next(), "boom", true).ok());
  std::string waiting = Add("w");

  EXPECT_EQ(*q->PruneCompleted({}), 0);
  EXPECT_EQ(*q->PruneCompleted({.max_count = 3}), 2);
  EXPECT_EQ(q->Get(done[1]).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(q->Get(done[2]).ok());
  // done[2] finished 3000 ms ago, done[3] 2000 ms ago: "older than 2500 ms" takes only done[2].
  EXPECT_EQ(*q->PruneCompleted({.max_count = 3, .max_age_ms = 2500}), 1);
  EXPECT_TRUE(q->Get(done[3]).ok());
  EXPECT_EQ(*q->PruneCompleted({.max_count = 0}), 2);
  EXPECT_EQ(Info(failed).state, JobState::kFailed);
  EXPECT_EQ(Info(waiting).state, JobState::kWaiting);
  EXPECT_EQ(q->PruneCompleted({.max_count = -1}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(QueueTest, PruneCompletedWorksInBatches) {
  for (int i = 0; i < 2500; ++i) Add("c");
  while (auto job = Next()) ASSERT_TRUE(q->Complete(*job).ok());
  clock.Advance(10);
  EXPECT_EQ(*q->PruneCompleted({.max_age_ms = 5}), 2500);
  EXPECT_EQ(q->Counts()->completed, 0);
}

}  // namespace
}  // namespace betterdev::queue
