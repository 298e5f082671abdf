// The Redis queue and real BullMQ (Node, the pinned package) on one real redis-server, both
// ways: a job a Node producer adds is processed here, and BullMQ's Queue, QueueEvents,
// waitUntilFinished, getWorkers and Worker see and take the jobs added here, in the right
// states. The Node side is testdata/bullmq_peer.cjs, one action per run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "queue/redis/redis_queue.hpp"
#include "redis/redis_test_server.hpp"

namespace betterdev::queue {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

// One run of the Node peer: its standard output read line by line.
class NodePeer {
 public:
  NodePeer(int port, const std::string& action, const Json& arg) {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      const std::string script = BETTERDEV_BULLMQ_PEER;
      const std::string p = std::to_string(port), a = arg.dump();
      ::execlp("node", "node", script.c_str(), p.c_str(), action.c_str(), a.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~NodePeer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
  }
  // The next line it prints, as JSON (null at its end).
  Json Line() {
    std::string line;
    char c;
    while (::read(out_, &c, 1) == 1 && c != '\n') line.push_back(c);
    return line.empty() ? Json() : Json::parse(line, nullptr, false);
  }
  // Its answer (the last line), once it exited.
  Json Answer() {
    Json last, line;
    while (!(line = Line()).is_null()) last = line;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the Node peer failed";
    return last;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

class BullmqInteropTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::signal(SIGPIPE, SIG_IGN); }
  void SetUp() override {
    RedisQueueOptions o;
    o.url = server.url();
    o.bullmq_dir = BETTERDEV_BULLMQ_DIR;
    auto opened = OpenRedisQueue(o, clock);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    q = std::move(*opened);
  }
  Json Node(const std::string& action, const Json& arg = Json::object()) {
    return NodePeer(server.url().port, action, arg).Answer();
  }
  std::optional<Job> Next() {
    auto job = q->Lease("w-here", 30000, LeaseFilter::kAny);
    EXPECT_TRUE(job.ok()) << job.status().ToString();
    return job.ok() ? *job : std::nullopt;
  }

  redis::RedisTestServer server;
  SystemClock clock;
  std::unique_ptr<JobQueue> q;
};

TEST_F(BullmqInteropTest, AJobANodeProducerAddsIsProcessedHereAndItsOutcomeReachesQueueEvents) {
  const Json data{{"document_id", "doc_1"}, {"user_id", "usr_1"}};
  const std::string id =
      Node("add", {{"data", data}, {"opts", {{"attempts", 2}, {"backoff", {{"type", "fixed"}, {"delay", 100}}}}}})["id"];
  NodePeer waiter(server.url().port, "wait", {{"id", id}});
  ASSERT_EQ(waiter.Line(), Json({{"listening", true}}));
  auto first = Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->id, id);
  EXPECT_EQ(first->name, "FILE_PROCESS");
  EXPECT_EQ(Json::parse(first->payload), data);
  EXPECT_EQ(first->max_attempts, 2);
  ASSERT_TRUE(q->Progress(*first, 30).ok());
  auto retried = q->Fail(*first, "provider unavailable", true);
  ASSERT_TRUE(retried.ok());
  EXPECT_TRUE(retried->retried) << "the producer's attempts: 2";
  std::this_thread::sleep_for(150ms);  // its fixed backoff
  auto second = Next();
  ASSERT_TRUE(second.has_value());
  ASSERT_TRUE(q->Progress(*second, 90).ok());
  ASSERT_TRUE(q->Complete(*second, R"({"document_id":"doc_1","status":"ready","pages":3,"chunks":7})").ok());
  Json outcome = waiter.Answer();
  EXPECT_EQ(outcome["completed"], Json({{"document_id", "doc_1"}, {"status", "ready"}, {"pages", 3}, {"chunks", 7}}));
  EXPECT_EQ(outcome["progress"], Json({30, 90}));
  Json seen = Node("inspect", {{"id", id}});
  EXPECT_EQ(seen["state"], "completed");
  EXPECT_EQ(seen["attemptsMade"], 2);
}

TEST_F(BullmqInteropTest, AJobAddedHereIsSeenByBullmqInEachState) {
  JobOptions o;
  o.id = "job_42";
  auto id = q->Enqueue("FILE_PROCESS", R"({"document_id":"doc_2"})", o);
  ASSERT_TRUE(id.ok());
  Json seen = Node("inspect", {{"id", *id}});
  EXPECT_EQ(seen["state"], "waiting");
  EXPECT_EQ(seen["data"], Json({{"document_id", "doc_2"}}));
  EXPECT_EQ(seen["counts"]["waiting"], 1);
  EXPECT_TRUE(q->WaitForWork("w-here", 1));  // opens the lane's named connection
  auto job = Next();
  ASSERT_TRUE(job.has_value());
  ASSERT_TRUE(q->Progress(*job, 55).ok());
  seen = Node("inspect", {{"id", *id}});
  EXPECT_EQ(seen["state"], "active");
  EXPECT_EQ(seen["progress"], 55);
  EXPECT_EQ(seen["workers"], Json({"bull:ZmlsZS1wcm9jZXNzaW5n:w:w-here"}));
  auto failed = q->Fail(*job, "not a PDF: the file is a ZIP archive", false);
  ASSERT_TRUE(failed.ok());
  seen = Node("inspect", {{"id", *id}});
  EXPECT_EQ(seen["state"], "failed");
  EXPECT_EQ(seen["failedReason"], "not a PDF: the file is a ZIP archive");
  EXPECT_EQ(seen["counts"]["failed"], 1);
}

TEST_F(BullmqInteropTest, ANodeWorkerTakesJobsAddedHere) {
  auto a = q->Enqueue("FILE_PROCESS", R"({"document_id":"doc_a"})", {});
  auto b = q->Enqueue("FILE_PROCESS", R"({"document_id":"doc_b"})", {});
  ASSERT_TRUE(a.ok() && b.ok());
  Json ran = Node("work", {{"count", 2}});
  EXPECT_EQ(ran["ran"], Json({*a, *b}));
  for (const std::string& id : {*a, *b}) {
    auto info = q->Get(id);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->state, JobState::kCompleted);
  }
}

TEST_F(BullmqInteropTest, PrioritiesAndDelaysANodeProducerSetsAreHonoured) {
  const std::string low = Node("add", {{"data", {{"n", 1}}}, {"opts", {{"priority", 9}}}})["id"];
  const std::string high = Node("add", {{"data", {{"n", 2}}}, {"opts", {{"priority", 2}}}})["id"];
  const std::string later = Node("add", {{"data", {{"n", 3}}}, {"opts", {{"delay", 1500}}}})["id"];
  auto first = Next(), second = Next();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(first->id, high);
  EXPECT_EQ(second->id, low);
  EXPECT_FALSE(Next().has_value()) << "the delayed one is not due";
  std::this_thread::sleep_for(1600ms);
  auto due = Next();
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->id, later);
}

TEST_F(BullmqInteropTest, PauseAndResumeByBullmqAreHonoured) {
  Node("pause");
  ASSERT_TRUE(q->Enqueue("FILE_PROCESS", "{}", {}).ok());
  EXPECT_FALSE(Next().has_value()) << "paused";
  Node("resume");
  EXPECT_TRUE(Next().has_value());
}

TEST_F(BullmqInteropTest, RemoveOnCompleteAndRemoveOnFailFromTheProducerAreHonoured) {
  const std::string id = Node("add", {{"data", Json::object()}, {"opts", {{"removeOnComplete", true}}}})["id"];
  auto job = Next();
  ASSERT_TRUE(job.has_value());
  ASSERT_TRUE(q->Complete(*job).ok());
  EXPECT_EQ(q->Get(id).status().code(), StatusCode::kNotFound) << "removed when it completed";
  EXPECT_EQ(Node("inspect", {{"id", id}})["state"], nullptr);
  const std::string kept = Node("add", {{"data", Json::object()}, {"opts", {{"removeOnFail", false}}}})["id"];
  const std::string dropped = Node("add", {{"data", Json::object()}, {"opts", {{"removeOnFail", true}}}})["id"];
  for (int i = 0; i < 2; ++i) {
    auto failing = Next();
    ASSERT_TRUE(failing.has_value());
    ASSERT_TRUE(q->Fail(*failing, "unreadable", false).ok());
  }
  EXPECT_EQ(q->Get(kept)->state, JobState::kFailed);
  EXPECT_EQ(q->Get(dropped).status().code(), StatusCode::kNotFound) << "removeOnFail: true";
}

}  // namespace
}  // namespace betterdev::queue
