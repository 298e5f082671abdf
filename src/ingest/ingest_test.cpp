#include <algorithm>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ingest/child_process.hpp"
#include "ingest/events.hpp"
#include "ingest/ingest_service.hpp"
#include "ingest/job_process.hpp"
#include "ingest/lease_keeper.hpp"
#include "ingest/worker.hpp"
#include "blob/blob_store.hpp"
#include "queue/sqlite/sqlite_queue.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "testutil/testutil.hpp"

#include <chrono>
#include <thread>

namespace betterdev::ingest {
namespace {

TEST(LeaseKeeper, KeepsALeaseAliveThroughSlowWorkAndReportsItsLoss) {
  testutil::TempDir dir;
  SystemClock clock;
  auto queue = queue::OpenSqliteQueue(dir.File("queue.db"), clock);
  ASSERT_TRUE(queue.ok());
  std::FILE* sink = std::fopen("/dev/null", "w");
  Logger log(sink);
  const int64_t lease_ms = 300;
  LeaseKeeper keeper(**queue, log, lease_ms);
  ASSERT_TRUE((*queue)->Enqueue("FILE_PROCESS", "{}", {}).ok());
  auto job = (*queue)->Lease("w1", lease_ms, queue::LeaseFilter::kAny);
  ASSERT_TRUE(job.ok() && job->has_value());
  keeper.Hold(**job);
  // Work four times longer than the lease, on this thread, which never renews anything.
  std::this_thread::sleep_for(std::chrono::milliseconds(4 * lease_ms));
  auto reclaimed = (*queue)->ReclaimExpired();
  ASSERT_TRUE(reclaimed.ok());
  EXPECT_TRUE(reclaimed->empty());
  EXPECT_FALSE((*queue)->Lease("w2", lease_ms, queue::LeaseFilter::kAny)->has_value()) << "no other worker can take it";
  EXPECT_EQ((*queue)->Get((*job)->id)->state, queue::JobState::kActive);
  EXPECT_FALSE(keeper.lost());
  // Cancelled (its document deleted): the keeper notices at its next renewal.
  ASSERT_TRUE((*queue)->Cancel((*job)->id).ok());
  for (int i = 0; i < 100 && !keeper.lost(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(keeper.lost());
  keeper.Drop();

  // Dropped: the lease is left to expire.
  ASSERT_TRUE((*queue)->Enqueue("FILE_PROCESS", "{}", {}).ok());
  auto next = (*queue)->Lease("w1", lease_ms, queue::LeaseFilter::kAny);
  ASSERT_TRUE(next.ok() && next->has_value());
  keeper.Hold(**next);
  EXPECT_FALSE(keeper.lost()) << "a new job starts unlost";
  keeper.Drop();
  std::this_thread::sleep_for(std::chrono::milliseconds(2 * lease_ms));
  reclaimed = (*queue)->ReclaimExpired();
  ASSERT_TRUE(reclaimed.ok());
  EXPECT_EQ((*queue)->Get((*next)->id)->state, queue::JobState::kDelayed);
  std::fclose(sink);
}

TEST(IngestService, ADocumentQueuedWithoutItsJobGetsItBack) {
  // What a process that died between writing a document and enqueueing its job (an upload, or
  // a reprocess) leaves behind: a queued document naming a job the queue does not have.
  testutil::TempDir dir;
  testutil::FakeClock clock;
  IdGenerator ids(clock);
  auto store = store::OpenSqliteStore({dir.File("t.db")});
  auto queue = queue::OpenSqliteQueue(dir.File("queue.db"), clock);
  auto blobs = blob::OpenFsBlobStore(dir.File("blobs"));
  ASSERT_TRUE(store.ok() && queue.ok() && blobs.ok());
  std::FILE* sink = std::fopen("/dev/null", "w");
  Logger log(sink);
  IngestService ingest(**store, **blobs, **queue, clock, ids, IngestConfig{}, log);
  store::User u{ids.New("usr"), "a@example.com", "hash", clock.NowMillis()};
  ASSERT_TRUE((*store)->users().Create(u).ok());
  store::Document d;
  d.id = ids.New("doc");
  d.user_id = u.id;
  d.filename = "a.txt";
  d.content_type = "text/plain";
  d.sha256 = "ab";
  d.job_id = ids.New("job");
  d.created_at = d.updated_at = clock.NowMillis();
  ASSERT_TRUE((*store)->documents().Create(d).ok());
  // A document with its job is left alone.
  store::Document fine = d;
  fine.id = ids.New("doc");
  fine.sha256 = "cd";
  fine.job_id = ids.New("job");
  ASSERT_TRUE((*store)->documents().Create(fine).ok());
  queue::JobOptions o;
  o.id = fine.job_id;
  ASSERT_TRUE((*queue)->Enqueue(kFileProcessJob, FileJobPayload(fine.id, u.id), o).ok());

  EXPECT_EQ(*ingest.EnqueueOrphans(60000), 0) << "too recent: an upload may be between its two writes";
  clock.Advance(61000);
  EXPECT_EQ(*ingest.EnqueueOrphans(60000), 1);
  auto job = (*queue)->Get(d.job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, queue::JobState::kWaiting);
  EXPECT_EQ(job->payload, FileJobPayload(d.id, u.id));
  EXPECT_EQ(*ingest.EnqueueOrphans(60000), 0) << "once";
  std::fclose(sink);
}

TEST(IngestService, WithAVectorMirrorReprocessAndDeleteRecordTheVectorsToDrop) {
  testutil::TempDir dir;
  testutil::FakeClock clock;
  IdGenerator ids(clock);
  auto store = store::OpenSqliteStore({dir.File("t.db")});
  auto queue = queue::OpenSqliteQueue(dir.File("queue.db"), clock);
  auto blobs = blob::OpenFsBlobStore(dir.File("blobs"));
  ASSERT_TRUE(store.ok() && queue.ok() && blobs.ok());
  std::FILE* sink = std::fopen("/dev/null", "w");
  Logger log(sink);
  IngestService ingest(**store, **blobs, **queue, clock, ids, IngestConfig{}, log);
  store::User u{ids.New("usr"), "a@example.com", "hash", clock.NowMillis()};
  ASSERT_TRUE((*store)->users().Create(u).ok());
  auto upload = [&](bool reprocess) -> Result<AcceptedUpload> {
    auto w = (*blobs)->Create();
    if (!w.ok()) return w.status();
    BD_RETURN_IF_ERROR((*w)->Write("the same bytes, uploaded again"));
    BD_RETURN_IF_ERROR((*w)->Finish());
    return ingest.Accept(u.id, **w, "a.txt", "text/plain", reprocess);
  };
  auto first = upload(false);
  ASSERT_TRUE(first.ok()) << first.status().message();
  const std::string v1 = first->document.job_id;
  // Without a mirror nothing is recorded.
  auto second = upload(true);
  ASSERT_TRUE(second.ok()) << second.status().message();
  const std::string v2 = second->document.job_id;
  ASSERT_NE(v2, v1);
  auto pending = (*store)->search().MirrorDeletes(10);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
  // With one: the version a reprocess replaces, by its job.
  ingest.SetVectorMirror(true);
  auto third = upload(true);
  ASSERT_TRUE(third.ok()) << third.status().message();
  pending = (*store)->search().MirrorDeletes(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->at(0).user_id, u.id);
  EXPECT_EQ(pending->at(0).document_id, first->document.id);
  EXPECT_EQ(pending->at(0).job_id, v2);
  // A delete records the whole document (an empty job), with the document's delete.
  ASSERT_TRUE(ingest.Delete(u.id, first->document.id).ok());
  pending = (*store)->search().MirrorDeletes(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  const bool whole = std::any_of(pending->begin(), pending->end(), [&](const store::MirrorDelete& m) {
    return m.user_id == u.id && m.document_id == first->document.id && m.job_id.empty();
  });
  EXPECT_TRUE(whole);
  std::fclose(sink);
}

TEST(CleanFilename, KeepsOnlyADisplayName) {
  EXPECT_EQ(CleanFilename("report.pdf"), "report.pdf");
  EXPECT_EQ(CleanFilename("../../etc/passwd"), "passwd");
  EXPECT_EQ(CleanFilename("C:\\Users\\me\\Q1 report.pdf"), "Q1 report.pdf");
  EXPECT_EQ(CleanFilename("a\nb\x01" "c.txt"), "abc.txt");
  EXPECT_EQ(CleanFilename("\xC3\xA9t\xC3\xA9.md"), "\xC3\xA9t\xC3\xA9.md");
  EXPECT_EQ(CleanFilename("bad\xFF\xFEutf8.txt"), "badutf8.txt");
  EXPECT_EQ(CleanFilename(""), "upload");
  EXPECT_EQ(CleanFilename("dir/"), "upload");
  EXPECT_EQ(CleanFilename(".."), "upload");
  EXPECT_EQ(CleanFilename(std::string(300, 'x')).size(), 255u);
  // A multi-byte character is never cut in half at the length limit.
  std::string long_name(254, 'x');
  long_name += "\xC3\xA9";
  EXPECT_EQ(CleanFilename(long_name), std::string(254, 'x'));
  // Overlong forms (a NUL and a slash in disguise), surrogates and code points past U+10FFFF
  // are not UTF-8: their bytes go.
  EXPECT_EQ(CleanFilename("a\xC0\x80" "b\xE0\x80\xAF" "c.txt"), "abc.txt");
  EXPECT_EQ(CleanFilename("a\xED\xA0\x80" "b\xF4\x90\x80\x80" "c.txt"), "abc.txt");
  // C1 controls, line separators and bidirectional overrides are dropped; other characters stay.
  EXPECT_EQ(CleanFilename("a\xC2\x85" "b\xE2\x80\xA8" "c\xE2\x80\xAE" "fdp.exe"), "abcfdp.exe");
  EXPECT_EQ(CleanFilename("\xE2\x81\xA6x\xE2\x81\xA9.pdf"), "x.pdf");
  EXPECT_EQ(CleanFilename("\xF0\x9F\x93\x84 \xE6\x8A\xA5\xE5\x91\x8A.pdf"), "\xF0\x9F\x93\x84 \xE6\x8A\xA5\xE5\x91\x8A.pdf");
  EXPECT_EQ(CleanFilename(std::string(kMaxFilenameBytes - 1, 'x') + "\xF0\x9F\x93\x84"),
            std::string(kMaxFilenameBytes - 1, 'x'));
}

TEST(Events, RoundTripEveryType) {
  IngestEvent e{IngestEvent::Type::kReady, "usr_1", "doc_1", "job_1", 2};
  e.pages = 12;
  e.chunks = 30;
  e.bytes = 4096;
  e.extract_seconds = 1.5;
  e.chunk_seconds = 0.25;
  e.embed_seconds = 0.125;
  auto back = DecodeEvent(EncodeEvent(e));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->type, IngestEvent::Type::kReady);
  EXPECT_EQ(back->document_id, "doc_1");
  EXPECT_EQ(back->attempt, 2);
  EXPECT_EQ(back->chunks, 30);
  EXPECT_DOUBLE_EQ(back->extract_seconds, 1.5);
  EXPECT_DOUBLE_EQ(back->chunk_seconds, 0.25);
  EXPECT_DOUBLE_EQ(back->embed_seconds, 0.125);
  e.type = IngestEvent::Type::kFailed;
  e.error = "extractor crashed (signal 11, Segmentation fault) on page 7";
  EXPECT_EQ(DecodeEvent(EncodeEvent(e))->error, e.error);
  EXPECT_FALSE(DecodeEvent("not json").has_value());
  EXPECT_FALSE(DecodeEvent(R"({"type":"bogus"})").has_value());
  EXPECT_FALSE(DecodeEvent(R"({"type":"ready","pages":"many"})").has_value());
}

TEST(Events, WorkersEventsBecomeWhatClientsAreTold) {
  IngestEvent p{IngestEvent::Type::kProgress, "u1", "d1", "j1", 1};
  p.stage = "extracting";
  p.progress = 40;
  p.page = 2;
  p.pages = 5;
  realtime::Event e = RealtimeEventSink::Convert(p, 123);
  EXPECT_EQ(e.type, realtime::EventType::kProcessing);
  EXPECT_EQ(e.user_id, "u1");
  EXPECT_EQ(e.document_id, "d1");
  EXPECT_EQ(e.at_ms, 123);
  EXPECT_EQ(e.stage, "extracting");
  EXPECT_EQ(e.progress, 40);
  EXPECT_EQ(e.page, 2);
  EXPECT_EQ(e.pages, 5);
  IngestEvent r{IngestEvent::Type::kReady, "u1", "d1", "j1", 1};
  r.chunks = 9;
  r.pages = 5;
  e = RealtimeEventSink::Convert(r, 1);
  EXPECT_EQ(e.type, realtime::EventType::kReady);
  EXPECT_EQ(e.chunks, 9);
  EXPECT_EQ(e.progress, 100);
  IngestEvent f{IngestEvent::Type::kRetrying, "u1", "d1", "j1", 2};
  f.error = "extractor crashed";
  e = RealtimeEventSink::Convert(f, 1);
  EXPECT_EQ(e.type, realtime::EventType::kRetrying);
  EXPECT_EQ(e.reason, "extractor crashed");
  EXPECT_EQ(e.attempts, 2);
  f.type = IngestEvent::Type::kFailed;
  EXPECT_EQ(RealtimeEventSink::Convert(f, 1).type, realtime::EventType::kFailed);

  // A tee hands each event to every sink.
  struct Count final : EventSink {
    int n = 0;
    void Publish(const IngestEvent&) override { ++n; }
  } a, b;
  TeeEventSink tee({&a, &b});
  tee.Publish(p);
  EXPECT_EQ(a.n, 1);
  EXPECT_EQ(b.n, 1);
}

TEST(JobProtocol, DecodesEachMessageAndRejectsGarbage) {
  auto chunk = DecodeJobMessage(
      R"({"t":"chunk","ordinal":3,"page_start":2,"page_end":3,"char_start":10,"char_end":20,"text":"h\u00e9"})");
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(chunk->type, JobMessage::Type::kChunk);
  EXPECT_EQ(chunk->chunk.ordinal, 3);
  EXPECT_EQ(chunk->chunk.page_end, 3);
  EXPECT_EQ(chunk->chunk.text, "h\xC3\xA9");
  EXPECT_EQ(DecodeJobMessage(R"({"t":"page","page":7,"pages":9})")->page, 7);
  EXPECT_EQ(DecodeJobMessage(R"({"t":"error","reason":"encrypted"})")->reason, "encrypted");
  EXPECT_EQ(DecodeJobMessage(R"({"t":"done","pages":2,"chars":5,"chunks":1})")->chunks, 1);
  EXPECT_EQ(DecodeJobMessage(R"({"t":"done","pages":2,"chars":5,"chunks":1})")->ocr_confidence, 100);
  auto ocr = DecodeJobMessage(R"({"t":"done","pages":2,"chars":5,"chunks":1,"ocr_pages":2,"ocr_confidence":41})");
  ASSERT_TRUE(ocr.has_value());
  EXPECT_EQ(ocr->ocr_pages, 2);
  EXPECT_EQ(ocr->ocr_confidence, 41);
  EXPECT_FALSE(DecodeJobMessage(R"({"t":"chunk","ordinal":"x"})").has_value());
  EXPECT_FALSE(DecodeJobMessage(R"({"t":"nope"})").has_value());
  EXPECT_FALSE(DecodeJobMessage("{").has_value());
  // Numbers a job process could write to confuse the worker: out of range, floats (converting
  // 2.5e124 to an integer is undefined behaviour; found by fuzz_job_message), negatives.
  EXPECT_FALSE(DecodeJobMessage(R"({"t":"done","pages":2,"chars":2.5e124,"chunks":1})").has_value());
  EXPECT_FALSE(DecodeJobMessage(R"({"t":"done","pages":2.0,"chars":5,"chunks":1})").has_value());
  EXPECT_FALSE(DecodeJobMessage(R"({"t":"page","page":-1,"pages":9})").has_value());
  EXPECT_FALSE(DecodeJobMessage(R"({"t":"page","page":4294967297,"pages":9})").has_value());
  EXPECT_FALSE(DecodeJobMessage(R"({"t":"done","pages":2,"chars":18446744073709551615,"chunks":1})").has_value());
}

TEST(ChildProcess, PipesStdoutAndReportsHowItEnded) {
  auto child = SpawnChild({"/bin/sh", "-c", "echo hello; exit 3"}, {});
  ASSERT_TRUE(child.ok());
  char buf[64];
  ssize_t n = ::read(child->stdout_read, buf, sizeof buf);
  ::close(child->stdout_read);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))), "hello\n");
  int status = 0;
  ASSERT_EQ(::waitpid(child->pid, &status, 0), child->pid);
  EXPECT_EQ(DescribeWaitStatus(status), "exited with code 3");

  // Signalled only once it runs its own program (before exec it still has this process's handlers).
  auto sleeper = SpawnChild({"/bin/sh", "-c", "echo ready; exec sleep 30"}, {});
  ASSERT_TRUE(sleeper.ok());
  ASSERT_GT(::read(sleeper->stdout_read, buf, sizeof buf), 0);
  ::kill(sleeper->pid, SIGSEGV);
  ASSERT_EQ(::waitpid(sleeper->pid, &status, 0), sleeper->pid);
  ::close(sleeper->stdout_read);
  EXPECT_EQ(DescribeWaitStatus(status), "crashed (signal 11, Segmentation fault)");
  EXPECT_GT(ResidentBytes(::getpid()), 0u);
}

}  // namespace
}  // namespace betterdev::ingest
