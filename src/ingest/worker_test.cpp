// The worker's error paths, with the store and the queue failing on demand (testutil/faults.hpp)
// and the real job server reading the files: this test binary is its own job server (its main,
// at the end, serves when started as "<binary> job-server --socket-fd N", as the worker starts
// `betterdev job-server`), so the tests need no other build.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string_view>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "blob/blob_store.hpp"
#include "embed/embedder.hpp"
#include "ingest/child_process.hpp"
#include "ingest/ingest_service.hpp"
#include "ingest/worker.hpp"
#include "queue/sqlite/sqlite_queue.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "testutil/faults.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::ingest {
namespace {

class NoEvents final : public EventSink {
 public:
  void Publish(const IngestEvent&) override {}
};

class WorkerFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqliteStore({dir.File("t.db")});
    auto q = queue::OpenSqliteQueue(dir.File("queue.db"), clock);
    auto b = blob::OpenFsBlobStore(dir.File("blobs"));
    ASSERT_TRUE(s.ok() && q.ok() && b.ok());
    real_store = std::move(*s);
    real_queue = std::move(*q);
    blobs = std::move(*b);
    store = std::make_unique<testutil::FaultyStore>(*real_store, faults);
    queue = std::make_unique<testutil::FaultyQueue>(*real_queue, faults);
    faulty_blobs = std::make_unique<testutil::FaultyBlobs>(*blobs, faults);
    sink = std::fopen("/dev/null", "w");
    log = std::make_unique<Logger>(sink);
    config.job_backoff_ms = 10;
    config.lease_seconds = 1;
    config.worker_nice = 0;
    ingest = std::make_unique<IngestService>(*store, *blobs, *queue, clock, ids, config, *log);
    worker = std::make_unique<Worker>(
        WorkerDeps{*store, *faulty_blobs, *queue, events, clock, *log, *embedder, 0.0,
                   [] { return JobServer::Start({SelfExe(), "job-server"}, {"OMP_THREAD_LIMIT=1"}); }},
        config, "w1");
    ASSERT_TRUE(worker->Start().ok());
    store::User u{ids.New("usr"), "a@example.com", "hash", clock.NowMillis()};
    ASSERT_TRUE(real_store->users().Create(u).ok());
    user = u.id;
  }
  void TearDown() override {
    worker.reset();
    std::fclose(sink);
  }

  std::string Upload(const std::string& text) {
    auto w = blobs->Create();
    EXPECT_TRUE(w.ok());
    EXPECT_TRUE((*w)->Write(text).ok());
    EXPECT_TRUE((*w)->Finish().ok());
    auto accepted = ingest->Accept(user, **w, "notes.txt", "text/plain", false);
    EXPECT_TRUE(accepted.ok()) << accepted.status().message();
    return accepted->document.id;
  }
  // Runs the worker until a job was processed or `seconds` passed.
  bool RunOne(int seconds = 10) {
    for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
         std::chrono::steady_clock::now() < end;) {
      if (worker->RunOnce(stop)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  store::Document Doc(const std::string& id) { return *real_store->documents().Get(user, id); }
  size_t ChunkCount(const std::string& id) { return real_store->documents().ListChunks(user, id, {1000, std::nullopt})->items.size(); }

  testutil::TempDir dir;
  SystemClock clock;
  IdGenerator ids{clock};
  testutil::Faults faults;
  std::unique_ptr<store::Store> real_store;
  std::unique_ptr<queue::JobQueue> real_queue;
  std::unique_ptr<blob::BlobStore> blobs;
  std::unique_ptr<testutil::FaultyStore> store;
  std::unique_ptr<testutil::FaultyQueue> queue;
  std::unique_ptr<testutil::FaultyBlobs> faulty_blobs;
  std::FILE* sink = nullptr;
  std::unique_ptr<Logger> log;
  NoEvents events;
  std::unique_ptr<embed::Embedder> embedder = embed::NewLocalEmbedder(64);
  IngestConfig config;
  std::unique_ptr<IngestService> ingest;
  std::unique_ptr<Worker> worker;
  std::atomic<bool> stop{false};
  std::string user;
};

const std::string kText = "Gluons bind quarks. " + std::string(3000, 'x') + " Mesons decay.";

TEST_F(WorkerFaults, AStoreErrorWhileSavingChunksLeavesNoHalfDocumentAndTheJobRetries) {
  const std::string id = Upload(kText);
  faults.Arm("documents.CompleteWithChunks", Status::Unavailable("disk I/O error"));
  ASSERT_TRUE(RunOne());
  store::Document d = Doc(id);
  EXPECT_EQ(d.status, store::DocumentStatus::kQueued) << "waiting for its retry";
  EXPECT_NE(d.error.find("could not store the chunks: disk I/O error"), std::string::npos) << d.error;
  EXPECT_EQ(d.chunk_count, 0);
  EXPECT_EQ(ChunkCount(id), 0u);
  // Back in the queue for a retry: delayed by its backoff, or already due (which reads as waiting).
  const queue::JobState state = real_queue->Get(d.job_id)->state;
  EXPECT_TRUE(state == queue::JobState::kDelayed || state == queue::JobState::kWaiting) << queue::JobStateName(state);
  // The retry stores it whole.
  ASSERT_TRUE(RunOne());
  d = Doc(id);
  EXPECT_EQ(d.status, store::DocumentStatus::kReady);
  EXPECT_EQ(d.attempts, 2);
  EXPECT_GT(d.chunk_count, 1);
  EXPECT_EQ(ChunkCount(id), static_cast<size_t>(d.chunk_count));
  EXPECT_EQ(real_queue->Get(d.job_id)->state, queue::JobState::kCompleted);
}

TEST_F(WorkerFaults, AQueueErrorWhileCompletingLosesNoResult) {
  const std::string id = Upload(kText);
  faults.Arm("queue.Complete", Status::Unavailable("database is locked"));
  ASSERT_TRUE(RunOne());
  store::Document d = Doc(id);
  ASSERT_EQ(d.status, store::DocumentStatus::kReady);
  const int64_t chunks = d.chunk_count;
  EXPECT_EQ(real_queue->Get(d.job_id)->state, queue::JobState::kActive) << "its completion was lost";
  // The lease lapses (nobody renews it now), the job comes back, and the next run finds the
  // document ready: it completes the job without touching the document.
  ASSERT_TRUE(RunOne(15));
  d = Doc(id);
  EXPECT_EQ(d.status, store::DocumentStatus::kReady);
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.chunk_count, chunks);
  EXPECT_EQ(ChunkCount(id), static_cast<size_t>(chunks));
  EXPECT_EQ(real_queue->Get(d.job_id)->state, queue::JobState::kCompleted);
  EXPECT_EQ(faults.Calls("documents.CompleteWithChunks"), 1) << "stored once";
}

TEST_F(WorkerFaults, AStoreErrorReadingTheDocumentRetriesTheJob) {
  const std::string id = Upload(kText);
  faults.Arm("documents.GetById", Status::Unavailable("database is locked"));
  ASSERT_TRUE(RunOne());
  EXPECT_EQ(Doc(id).status, store::DocumentStatus::kQueued);
  EXPECT_EQ(real_queue->Get(Doc(id).job_id)->failed_reason, "database unavailable: database is locked");
  ASSERT_TRUE(RunOne());
  EXPECT_EQ(Doc(id).status, store::DocumentStatus::kReady);
}

TEST_F(WorkerFaults, AnUnreachableBlobStoreRetriesTheJob) {
  const std::string id = Upload(kText);
  faults.Arm("blobs.LocalPath", Status::Unavailable("S3 GET blobs/...: Couldn't connect to server"));
  ASSERT_TRUE(RunOne());
  store::Document d = Doc(id);
  EXPECT_EQ(d.status, store::DocumentStatus::kQueued) << "waiting for its retry, not failed";
  EXPECT_NE(d.error.find("cannot read the uploaded file from storage"), std::string::npos) << d.error;
  EXPECT_EQ(faults.Calls("blobs.DoneWith"), 0) << "nothing was handed out";
  ASSERT_TRUE(RunOne());
  EXPECT_EQ(Doc(id).status, store::DocumentStatus::kReady);
  EXPECT_EQ(faults.Calls("blobs.DoneWith"), 1) << "the local copy is released after the job process read it";
}

TEST_F(WorkerFaults, ABlobMissingFromStorageFailsTheDocumentAtOnce) {
  const std::string id = Upload(kText);
  faults.Arm("blobs.LocalPath", Status::NotFound("blob is missing"));
  ASSERT_TRUE(RunOne());
  store::Document d = Doc(id);
  EXPECT_EQ(d.status, store::DocumentStatus::kFailed);
  EXPECT_EQ(d.error, "the uploaded file is missing from storage");
}

}  // namespace
}  // namespace betterdev::ingest

// GoogleTest's main, and the job server's when the worker under test starts this binary as one.
int main(int argc, char** argv) {
  if (argc == 4 && std::string_view(argv[1]) == "job-server" && std::string_view(argv[2]) == "--socket-fd")
    return betterdev::ingest::RunJobServer(std::atoi(argv[3]));
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
