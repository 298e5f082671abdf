#include "ingest/worker.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/random.hpp"
#include "ingest/child_process.hpp"
#include "ingest/embedding.hpp"
#include "ingest/job_process.hpp"

namespace betterdev::ingest {
namespace {

using SteadyClock = std::chrono::steady_clock;
using Json = nlohmann::json;

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

// Progress over the whole processing: reading pages is most of the work.
int ExtractProgress(int page, int pages) {
  if (pages <= 0) return 5;
  return 5 + 65 * std::min(page, pages) / pages;
}
constexpr int kChunkingProgress = 75;
constexpr int kEmbeddingProgress = 78;  // to 95 as batches finish
constexpr int kIndexingProgress = 96;
constexpr size_t kEmbedBatch = 64;

// Tesseract's mean word confidence on good scans is 80-96; text it cannot read (a script whose
// data is not installed, mirrored or garbled pages) comes out near 50 and is gibberish.
constexpr int kLowOcrConfidence = 60;

std::string OcrNote(int ocr_pages, int confidence, const std::string& languages) {
  if (ocr_pages == 0 || confidence >= kLowOcrConfidence) return "";
  return "OCR read " + std::to_string(ocr_pages) + (ocr_pages == 1 ? " page" : " pages") + " with low confidence (" +
         std::to_string(confidence) + " of 100): the text may be wrong. The scan may be in a language other than " +
         languages + " (see --ocr-languages) or of poor quality";
}

// Only the queue's word ends a document: a Fail that could not be recorded (the queue
// unreachable) leaves the job to come back when its lease lapses, and the document waiting.
bool FinalFailure(const Result<queue::FailOutcome>& r) { return r.ok() && !r->retried; }

}  // namespace

std::string FileJobPayload(const std::string& document_id, const std::string& user_id) {
  return Json{{"document_id", document_id}, {"user_id", user_id}}.dump();
}

std::string FileJobResult(const std::string& document_id, std::string_view status, int pages, int64_t chunks) {
  Json r{{"document_id", document_id}, {"status", status}};
  if (status == "ready") {
    r["pages"] = pages;
    r["chunks"] = chunks;
  }
  return r.dump();
}

struct Worker::Outcome {
  enum class Kind { kDone, kRejected, kFailed, kLeaseLost, kStopped };
  Kind kind = Kind::kFailed;
  std::string reason;
  std::vector<store::StoredChunk> chunks;
  int pages = 0;
  int last_page = 0;  // last page fully read
  int64_t chars = 0;
  std::string stage = "extracting";
  double extract_seconds = 0;
  double chunk_seconds = 0;
  int64_t embedding_tokens = 0;  // what the embedder counted for the texts it was sent
  int ocr_pages = 0;
  int ocr_confidence = 100;
};

Worker::Worker(WorkerDeps deps, const IngestConfig& config, std::string worker_id, queue::LeaseFilter filter)
    : d_(std::move(deps)),
      config_(config),
      worker_id_(std::move(worker_id)),
      filter_(filter),
      lease_(d_.queue, d_.log, int64_t{config.lease_seconds} * 1000) {}

Worker::~Worker() = default;

Result<std::string> Worker::Start() {
  auto server = d_.start_job_server();
  if (!server.ok()) return server.status();
  job_server_ = std::move(*server);
  return job_server_->sandbox();
}

Result<RunningJob> Worker::StartJob(const JobRequest& request, int input_fd) {
  for (int tries = 0;; ++tries) {
    if (!job_server_) {
      auto server = d_.start_job_server();
      if (!server.ok()) return server.status();
      job_server_ = std::move(*server);
      d_.log.Warn("job server restarted", {{"sandbox", job_server_->sandbox()}});
    }
    auto running = job_server_->Run(request, input_fd);
    if (running.ok() || running.status().code() != StatusCode::kUnavailable || tries == 1) return running;
    job_server_.reset();  // it died: start another
  }
}

void Worker::Run(const std::atomic<bool>& stop, int wake_fd) {
  while (!stop) {
    if (RunOnce(stop)) continue;
    // A queue that can block (Redis: BullMQ's marker) wakes the lane when a job arrives; up to
    // a second, so a stop is seen soon.
    if (d_.queue.WaitForWork(worker_id_, std::max(config_.poll_ms, 1000))) continue;
    if (wake_fd < 0) {
      for (int waited = 0; waited < config_.poll_ms && !stop; waited += 20)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    // A signal (stop) interrupts the wait; a byte means a job was just enqueued.
    pollfd pfd{wake_fd, POLLIN, 0};
    if (::poll(&pfd, 1, config_.poll_ms) > 0) {
      char byte;
      (void)!::read(wake_fd, &byte, 1);
    }
  }
}

bool Worker::RunOnce(const std::atomic<bool>& stop) {
  int64_t now = d_.clock.NowMillis();
  if (now - last_reclaim_ >= config_.lease_seconds * 1000 / 2) {
    last_reclaim_ = now;
    Reclaim();
  }
  auto job = d_.queue.Lease(worker_id_, int64_t{config_.lease_seconds} * 1000, filter_);
  if (!job.ok()) {
    d_.log.Warn("cannot lease a job", {{"error", job.status().message()}});
    return false;
  }
  if (!job->has_value()) return false;
  lease_.Hold(**job);
  Process(**job, stop);
  lease_.Drop();
  return true;
}

void Worker::Reclaim() {
  // Completed jobs are history only: keep the newest and a week's worth.
  if (auto pruned = d_.queue.PruneCompleted({int64_t{10000}, int64_t{7} * 24 * 3600 * 1000}); !pruned.ok())
    d_.log.Warn("cannot prune completed jobs", {{"error", pruned.status().message()}});
  auto expired = d_.queue.ReclaimExpired();
  if (!expired.ok()) {
    d_.log.Warn("cannot reclaim expired jobs", {{"error", expired.status().message()}});
    return;
  }
  for (const queue::JobInfo& info : *expired) {
    Json payload = Json::parse(info.payload, nullptr, false);
    if (!payload.is_object()) continue;
    std::string doc_id = payload.value("document_id", "");
    std::string reason = "the worker processing this file stopped responding (killed or stalled) on each of " +
                         std::to_string(info.attempts_made) + " attempts";
    if (d_.store.documents().MarkAttemptFailed(doc_id, info.id, info.attempts_made, reason, true, d_.clock.NowMillis()).ok()) {
      IngestEvent e{IngestEvent::Type::kFailed, payload.value("user_id", ""), doc_id, info.id, info.attempts_made};
      e.error = reason;
      d_.events.Publish(e);
    }
    d_.log.Warn("job failed: lease expired", {{"job_id", info.id}, {"document_id", doc_id}});
  }
}

void Worker::Progress(const queue::Job& job, const store::Document& doc, const std::string& stage, int progress,
                      int page, int pages, bool force) {
  int64_t now = d_.clock.NowMillis();
  if (!force && now - last_progress_ < 250) return;
  last_progress_ = now;
  (void)d_.store.documents().UpdateProgress(doc.id, job.id, job.attempts_made, {stage, progress, page, pages}, now);
  (void)d_.queue.Progress(job, progress);
  IngestEvent e{IngestEvent::Type::kProgress, doc.user_id, doc.id, job.id, job.attempts_made};
  e.stage = stage;
  e.progress = progress;
  e.page = page;
  e.pages = pages;
  d_.events.Publish(e);
}

void Worker::Process(const queue::Job& job, const std::atomic<bool>& stop) {
  Json payload = Json::parse(job.payload, nullptr, false);
  if (job.name != kFileProcessJob || !payload.is_object() || !payload.contains("document_id")) {
    (void)d_.queue.Fail(job, "not a job this worker understands", false);
    return;
  }
  std::string doc_id = payload.value("document_id", "");
  auto doc = d_.store.documents().GetById(doc_id);
  if (!doc.ok() && doc.status().code() != StatusCode::kNotFound) {
    (void)d_.queue.Fail(job, "database unavailable: " + doc.status().message(), true);
    return;
  }
  // Deleted, superseded by a newer job (reprocess), or finished by an earlier attempt whose
  // lease had lapsed: nothing to do.
  if (!doc.ok() || doc->job_id != job.id ||
      !d_.store.documents().MarkProcessing(doc_id, job.id, job.attempts_made, d_.clock.NowMillis()).ok()) {
    (void)d_.queue.Complete(job, FileJobResult(doc_id, "skipped", 0, 0));
    return;
  }
  d_.log.Info("job started", {{"job_id", job.id}, {"document_id", doc_id}, {"attempt", job.attempts_made}, {"worker_id", worker_id_}});
  Outcome outcome;
  auto path = d_.blobs.LocalPath(doc->sha256);
  if (path.ok()) {
    outcome = RunJobProcess(job, *doc, *path, stop);
    d_.blobs.DoneWith(doc->sha256);  // the job process has read it: a remote store's copy can go
  } else if (path.status().code() == StatusCode::kNotFound) {
    outcome.kind = Outcome::Kind::kRejected;
    outcome.reason = "the uploaded file is missing from storage";
  } else {  // the store is unreachable or failing: another attempt may find it
    outcome.kind = Outcome::Kind::kFailed;
    outcome.reason = "cannot read the uploaded file from storage: " + path.status().message();
  }
  Finish(job, *doc, outcome);
}

Worker::Outcome Worker::RunJobProcess(const queue::Job& job, const store::Document& doc, const std::string& path,
                                      const std::atomic<bool>& stop) {
  Outcome out;
  auto start = SteadyClock::now();
  Progress(job, doc, "extracting", ExtractProgress(0, 0), 0, 0, true);
  // The job process gets the file as an open descriptor: it cannot open the data directory.
  const int input = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (input < 0) {
    out.kind = Outcome::Kind::kRejected;
    out.reason = "the uploaded file is missing from storage";
    return out;
  }
  JobRequest request;
  request.spec = MakeExtractJobSpec(config_, doc.content_type);
  request.memory_limit_bytes = config_.job_memory_mb << 20;
  // Reading files is throughput work: with workers below the API's priority, it also gives way
  // to request handling at once (SCHED_IDLE), which nice alone does not guarantee.
  request.idle_scheduling = config_.worker_nice > 0;
  request.sandbox = config_.sandbox;
  auto child = StartJob(request, input);
  ::close(input);
  if (!child.ok()) {
    out.reason = "could not start the extractor: " + child.status().message();
    return out;
  }
  const uint64_t memory_limit = config_.job_memory_mb << 20;
  const auto deadline = start + std::chrono::seconds(config_.job_timeout_seconds);
  std::string buf;
  std::vector<char> block(64 * 1024);
  bool done = false;
  bool killed = false;
  std::optional<SteadyClock::time_point> chunk_start;
  auto kill_child = [&](Outcome::Kind kind, std::string reason) {
    JobServer::Kill(*child);
    killed = true;
    out.kind = kind;
    out.reason = std::move(reason);
  };
  auto where = [&] {
    if (out.stage == "chunking") return std::string("while chunking");
    if (out.pages > 0 && out.last_page >= out.pages) return std::string("after the last page");
    return "on page " + std::to_string(out.last_page + 1);
  };
  for (;;) {
    pollfd pfd{child->output, POLLIN, 0};
    int ready = ::poll(&pfd, 1, 250);
    bool eof = false;
    if (ready > 0) {
      ssize_t n = ::read(child->output, block.data(), block.size());
      if (n < 0 && errno != EINTR && errno != EAGAIN) eof = true;
      if (n == 0) eof = true;
      if (n > 0) buf.append(block.data(), static_cast<size_t>(n));
    }
    size_t line_start = 0;
    for (size_t nl; !killed && (nl = buf.find('\n', line_start)) != std::string::npos; line_start = nl + 1) {
      auto m = DecodeJobMessage(std::string_view(buf).substr(line_start, nl - line_start));
      if (!m) {
        kill_child(Outcome::Kind::kFailed, "the extractor sent something unreadable " + where());
        break;
      }
      switch (m->type) {
        case JobMessage::Type::kPage:
          out.last_page = m->page;
          out.pages = std::max(out.pages, m->pages);
          Progress(job, doc, "extracting", ExtractProgress(m->page, out.pages), m->page, out.pages, false);
          break;
        case JobMessage::Type::kStage:
          out.stage = m->stage;
          if (m->stage == "chunking") chunk_start = SteadyClock::now();
          Progress(job, doc, m->stage, kChunkingProgress, out.last_page, out.pages, true);
          break;
        case JobMessage::Type::kChunk:
          out.chunks.push_back({doc.id, m->chunk.ordinal, m->chunk.page_start, m->chunk.page_end, m->chunk.char_start,
                                m->chunk.char_end, std::move(m->chunk.text), std::move(m->chunk.context)});
          out.chunks.back().section = std::move(m->chunk.section);
          break;
        case JobMessage::Type::kDone:
          done = true;
          out.pages = m->pages;
          out.chars = m->chars;
          out.ocr_pages = m->ocr_pages;
          out.ocr_confidence = m->ocr_confidence;
          break;
        case JobMessage::Type::kError:
          out.reason = m->reason;
          break;
      }
    }
    buf.erase(0, line_start);
    if (eof || killed) break;
    auto now = SteadyClock::now();
    if (stop) {
      kill_child(Outcome::Kind::kStopped, "the worker is shutting down");
      break;
    }
    if (lease_.lost()) {
      kill_child(Outcome::Kind::kLeaseLost, "the job was cancelled or taken over");
      break;
    }
    if (now >= deadline) {
      kill_child(Outcome::Kind::kFailed, "extraction timed out after " + std::to_string(config_.job_timeout_seconds) +
                                             " s " + where());
      break;
    }
    if (uint64_t rss = ResidentBytes(child->pid); rss > memory_limit) {
      kill_child(Outcome::Kind::kFailed, "the extractor ran out of memory (limit " +
                                             std::to_string(config_.job_memory_mb) + " MB) " + where());
      break;
    }
  }
  // A child that closed its output but keeps running gets a few seconds to exit, then is
  // killed; the job server reports how it ended.
  int status = 0;
  for (int waited_ms = 0;; waited_ms += 100) {
    auto ended = job_server_->Wait(*child, 100);
    if (!ended.ok()) {  // the server died, and its job process with it
      job_server_.reset();
      status = SIGKILL;  // reads as "crashed (signal 9)"
      break;
    }
    if (ended->has_value()) {
      status = **ended;
      break;
    }
    if (waited_ms == 5000 && !killed) kill_child(Outcome::Kind::kFailed, "the extractor stopped answering " + where());
  }
  JobServer::Close(*child);
  if (chunk_start) {
    out.extract_seconds = std::chrono::duration<double>(*chunk_start - start).count();
    out.chunk_seconds = SecondsSince(*chunk_start);
  } else {
    out.extract_seconds = SecondsSince(start);
  }
  if (killed) return out;
  if (WIFEXITED(status) && WEXITSTATUS(status) == kJobExitOk && done) {
    out.kind = Outcome::Kind::kDone;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == kJobExitRejected) {
    out.kind = Outcome::Kind::kRejected;
    if (out.reason.empty()) out.reason = "the file could not be read";
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == kJobExitOutOfMemory) {
    out.reason = "the extractor ran out of memory (limit " + std::to_string(config_.job_memory_mb) + " MB) " + where();
  } else {
    out.reason = "extractor " + DescribeWaitStatus(status) + " " + where() + (out.reason.empty() ? "" : ": " + out.reason);
  }
  return out;
}

Status Worker::EmbedChunks(const queue::Job& job, const store::Document& doc, Outcome& out) {
  const size_t n = out.chunks.size();
  std::vector<std::string> texts;
  for (size_t from = 0; from < n; from += kEmbedBatch) {
    if (lease_.lost()) return Status::NotFound("the job was cancelled or taken over");
    const int progress = kEmbeddingProgress + static_cast<int>((kIndexingProgress - 1 - kEmbeddingProgress) * from / n);
    Progress(job, doc, "embedding", progress, out.pages, out.pages, from == 0);
    texts.clear();
    const size_t to = std::min(n, from + kEmbedBatch);
    for (size_t i = from; i < to; ++i) {
      texts.push_back(EmbeddingText(out.chunks[i].text, store::TitledContext(doc.filename, out.chunks[i].section, out.chunks[i].context)));
    }
    Result<std::vector<std::vector<float>>> vectors =
        EmbedWithCache(d_.embedder, d_.store.search(), texts, d_.clock.NowMillis(), out.embedding_tokens);
    if (!vectors.ok()) return vectors.status();
    for (size_t i = from; i < to; ++i) out.chunks[i].vector = std::move((*vectors)[i - from]);
  }
  return Status::Ok();
}

Status Worker::MirrorVectors(const queue::Job& job, const store::Document& doc, const Outcome& out) {
  const embed::EmbeddingModel& model = d_.embedder.model();
  std::vector<store::MirroredVector> vectors;
  vectors.reserve(out.chunks.size());
  for (size_t i = 0; i < out.chunks.size(); ++i) {
    if (out.chunks[i].vector.empty()) continue;
    vectors.push_back({doc.user_id, {doc.id, job.id, out.chunks[i].ordinal}, out.chunks[i].vector});
  }
  return d_.mirror->Put({model.id, model.dimension}, vectors);
}

void Worker::Finish(const queue::Job& job, const store::Document& doc, Outcome& out) {
  store::DocumentRepository& docs = d_.store.documents();
  int64_t now = d_.clock.NowMillis();
  IngestEvent e{IngestEvent::Type::kFailed, doc.user_id, doc.id, job.id, job.attempts_made};
  switch (out.kind) {
    case Outcome::Kind::kDone: {
      auto embed_start = SteadyClock::now();
      Status embedded = EmbedChunks(job, doc, out);
      if (lease_.lost()) {  // the document was deleted or reprocessed meanwhile: nothing to store
        d_.log.Info("job abandoned", {{"job_id", job.id}, {"document_id", doc.id}, {"reason", "lease lost while embedding"}});
        return;
      }
      if (!embedded.ok()) {
        const std::string reason = "could not embed the chunks: " + embedded.message();
        // Only an unreachable or failing provider is worth another attempt; a refusal is not.
        auto r = d_.queue.Fail(job, reason, embedded.code() == StatusCode::kUnavailable);
        (void)docs.MarkAttemptFailed(doc.id, job.id, job.attempts_made, reason, FinalFailure(r), now);
        return;
      }
      const double embed_seconds = SecondsSince(embed_start);
      Progress(job, doc, "indexing", kIndexingProgress, out.pages, out.pages, true);
      auto start = SteadyClock::now();
      if (d_.mirror != nullptr) {  // before the document shows as ready: a ready document's vectors are searchable
        Status put = MirrorVectors(job, doc, out);
        if (lease_.lost()) {
          d_.log.Info("job abandoned", {{"job_id", job.id}, {"document_id", doc.id}, {"reason", "lease lost while storing vectors"}});
          (void)d_.mirror->DeleteDocument(doc.user_id, doc.id, job.id);  // this job's only
          return;
        }
        if (!put.ok()) {
          const std::string reason = "could not store the vectors in " + std::string(d_.mirror->name()) + ": " + put.message();
          auto r = d_.queue.Fail(job, reason, put.code() == StatusCode::kUnavailable);
          (void)docs.MarkAttemptFailed(doc.id, job.id, job.attempts_made, reason, FinalFailure(r), now);
          return;
        }
      }
      // What this attempt's embedding cost, recorded before the document shows as ready (a reader
      // who sees "ready" sees its cost too); spent even if storing the chunks fails below.
      const double cost = d_.embedder.remote()
                              ? static_cast<double>(out.embedding_tokens) * d_.embedding_price_per_million / 1e6
                              : 0.0;
      (void)docs.AddEmbeddingUsage(doc.id, job.id, out.embedding_tokens, cost);
      const embed::EmbeddingModel& model = d_.embedder.model();
      Status s = docs.CompleteWithChunks(doc.id, job.id, job.attempts_made, out.pages, out.chars, out.chunks, {model.id, model.dimension},
                                         d_.clock.NowMillis());
      if (!s.ok() && s.code() != StatusCode::kNotFound) {
        auto r = d_.queue.Fail(job, "could not store the chunks: " + s.message(), true);
        (void)docs.MarkAttemptFailed(doc.id, job.id, job.attempts_made, "could not store the chunks: " + s.message(),
                                     FinalFailure(r), now);
        return;
      }
      if (d_.mirror != nullptr && !s.ok()) {
        // Deleted or reprocessed meanwhile: this job's vectors name no chunk. Only this job's
        // (another job of the document may have put its own by now); never answered by search
        // anyway (search/mirror_retriever.hpp), so a failure only costs space.
        if (Status dropped = d_.mirror->DeleteDocument(doc.user_id, doc.id, job.id); !dropped.ok()) {
          d_.log.Warn("the vector store kept a stale job's vectors", {{"document_id", doc.id}, {"error", dropped.message()}});
          // A deleted document's vectors all go: recorded for search's retries (mirror_retriever.hpp).
          if (docs.GetById(doc.id).status().code() == StatusCode::kNotFound) {
            (void)d_.store.search().AddMirrorDelete({doc.user_id, doc.id, ""}, d_.clock.NowMillis());
          }
        }
      }
      (void)d_.queue.Complete(job, FileJobResult(doc.id, s.ok() ? "ready" : "deleted", out.pages,
                                                 static_cast<int64_t>(out.chunks.size())));
      if (s.ok()) {
        if (std::string note = OcrNote(out.ocr_pages, out.ocr_confidence, config_.ocr_languages); !note.empty())
          (void)docs.SetNote(doc.id, job.id, note);
        e.type = IngestEvent::Type::kReady;
        e.pages = out.pages;
        e.chunks = static_cast<int64_t>(out.chunks.size());
        e.bytes = static_cast<int64_t>(doc.size_bytes);
        e.extract_seconds = out.extract_seconds;
        e.chunk_seconds = out.chunk_seconds;
        e.index_seconds = SecondsSince(start);
        e.embed_seconds = embed_seconds;
        d_.events.Publish(e);
        d_.log.Info("document ready", {{"document_id", doc.id}, {"pages", out.pages}, {"chunks", e.chunks}});
      }
      return;
    }
    case Outcome::Kind::kStopped:
      (void)d_.queue.Release(job);
      (void)docs.MarkAttemptFailed(doc.id, job.id, job.attempts_made, "", false, now);
      return;
    case Outcome::Kind::kLeaseLost:
      d_.log.Info("job abandoned", {{"job_id", job.id}, {"document_id", doc.id}, {"reason", out.reason}});
      return;
    case Outcome::Kind::kRejected:
    case Outcome::Kind::kFailed: {
      bool retryable = out.kind == Outcome::Kind::kFailed;
      auto r = d_.queue.Fail(job, out.reason, retryable);
      const bool final = FinalFailure(r);
      (void)docs.MarkAttemptFailed(doc.id, job.id, job.attempts_made, out.reason, final, now);
      e.type = final ? IngestEvent::Type::kFailed : IngestEvent::Type::kRetrying;
      e.error = out.reason;
      if (r.ok() && r->retried) e.retry_at_ms = r->retry_at;
      d_.events.Publish(e);
      d_.log.Warn(final ? "document failed" : "attempt failed; will retry",
                  {{"document_id", doc.id}, {"job_id", job.id}, {"attempt", job.attempts_made}, {"reason", out.reason}});
      return;
    }
  }
}

}  // namespace betterdev::ingest
