// A worker process's main loop: lease a job, run it in a sandboxed job process (job_server.hpp),
// embed the chunks, store the results, repeat; the job's lease is renewed from a thread of its
// own the whole time (lease_keeper.hpp).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "embed/embedder.hpp"
#include "ingest/events.hpp"
#include "ingest/job_server.hpp"
#include "ingest/lease_keeper.hpp"
#include "queue/queue.hpp"
#include "store/store.hpp"
#include "store/vector_mirror.hpp"

namespace betterdev::ingest {

inline constexpr std::string_view kFileProcessJob = "FILE_PROCESS";

// The FILE_PROCESS job (docs/architecture.md, "The job contract"): its data is
// {"document_id": "...", "user_id": "..."}.
std::string FileJobPayload(const std::string& document_id, const std::string& user_id);
// What a finished FILE_PROCESS job answers (BullMQ's returnvalue): {"document_id", "status"}
// with status "ready" (then also "pages" and "chunks"), "deleted" (the document went while it
// was read) or "skipped" (nothing to do: deleted, reprocessed, or done by an earlier attempt).
// A failed job's reason is the document's error.
std::string FileJobResult(const std::string& document_id, std::string_view status, int pages, int64_t chunks);

struct WorkerDeps {
  store::Store& store;
  blob::BlobStore& blobs;
  queue::JobQueue& queue;
  EventSink& events;
  const Clock& clock;
  Logger& log;
  embed::Embedder& embedder;  // chunks are embedded before a document is ready
  double embedding_price_per_million = 0.02;  // USD per 1M tokens, for a remote embedder's cost estimate
  // Starts the job server (again, when the last one died).
  std::function<Result<std::unique_ptr<JobServer>>()> start_job_server;
  // A vector store outside the database (Pinecone), or null: a document's vectors go there
  // before it shows as ready (an older version's stay until the document is deleted, never
  // answered: search resolves hits against the store).
  store::VectorMirror* mirror = nullptr;
};

// A worker process runs two: its main lane takes any job, its spare lane only jobs of users with
// nothing running (queue::LeaseFilter::kIdleGroups), so one user's long jobs on every worker
// never keep another user's small file waiting. Each has its own job server and lease keeper.
class Worker {
 public:
  Worker(WorkerDeps deps, const IngestConfig& config, std::string worker_id,
         queue::LeaseFilter filter = queue::LeaseFilter::kAny);
  ~Worker();

  // Starts the job server; answers the confinement it found ("landlock v7, seccomp").
  Result<std::string> Start();

  // Runs until `stop` becomes true; a job in progress is then abandoned and given back to the
  // queue without counting the attempt. When idle it waits up to poll_ms for a byte on
  // `wake_fd` (written when a job is enqueued; -1: just wait).
  void Run(const std::atomic<bool>& stop, int wake_fd = -1);
  // Leases and processes at most one job; false when none was due.
  bool RunOnce(const std::atomic<bool>& stop);

 private:
  struct Outcome;
  void Process(const queue::Job& job, const std::atomic<bool>& stop);
  Outcome RunJobProcess(const queue::Job& job, const store::Document& doc, const std::string& path,
                        const std::atomic<bool>& stop);
  void Finish(const queue::Job& job, const store::Document& doc, Outcome& outcome);
  // Embeds the chunks in batches (stage "embedding"); the error says what failed.
  Status EmbedChunks(const queue::Job& job, const store::Document& doc, Outcome& outcome);
  Status MirrorVectors(const queue::Job& job, const store::Document& doc, const Outcome& outcome);
  Result<RunningJob> StartJob(const JobRequest& request, int input_fd);
  void Reclaim();
  void Progress(const queue::Job& job, const store::Document& doc, const std::string& stage, int progress, int page,
                int pages, bool force);

  WorkerDeps d_;
  IngestConfig config_;
  std::string worker_id_;
  queue::LeaseFilter filter_;
  std::unique_ptr<JobServer> job_server_;
  LeaseKeeper lease_;
  int64_t last_reclaim_ = 0;
  int64_t last_progress_ = 0;
};

}  // namespace betterdev::ingest
