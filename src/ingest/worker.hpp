// A worker process's main loop: lease a job, run it in a job process, renew the lease while it
// runs, store the results, repeat.
#pragma once

#include <atomic>
#include <string>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "embed/embedder.hpp"
#include "ingest/events.hpp"
#include "queue/queue.hpp"
#include "store/store.hpp"

namespace betterdev::ingest {

inline constexpr std::string_view kFileProcessJob = "FILE_PROCESS";

// {"document_id": "...", "user_id": "..."}
std::string FileJobPayload(const std::string& document_id, const std::string& user_id);

struct WorkerDeps {
  store::Store& store;
  blob::BlobStore& blobs;
  queue::JobQueue& queue;
  EventSink& events;
  const Clock& clock;
  Logger& log;
  embed::Embedder& embedder;  // chunks are embedded before a document is ready
  double embedding_price_per_million = 0.02;  // USD per 1M tokens, for a remote embedder's cost estimate
};

class Worker {
 public:
  // The worker process must be single-threaded (no background logger thread): each job runs in
  // a child forked from it without exec.
  Worker(WorkerDeps deps, const IngestConfig& config, std::string worker_id);

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
  void Reclaim();
  void Progress(const queue::Job& job, const store::Document& doc, const std::string& stage, int progress, int page,
                int pages, bool force);

  WorkerDeps d_;
  IngestConfig config_;
  std::string worker_id_;
  int64_t last_reclaim_ = 0;
  int64_t last_progress_ = 0;
};

}  // namespace betterdev::ingest
