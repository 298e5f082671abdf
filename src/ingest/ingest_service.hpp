// The API side of ingestion: accept an uploaded file, create its document and job, answer
// questions about documents, delete them. Never parses a file (workers do).
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "blob/blob_store.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "queue/queue.hpp"
#include "realtime/event_log.hpp"
#include "store/store.hpp"

namespace betterdev::ingest {

struct AcceptedUpload {
  store::Document document;
  bool created = false;  // false: the user already had these bytes (deduplicated)
};

class IngestService {
 public:
  IngestService(store::Store& store, blob::BlobStore& blobs, queue::JobQueue& queue, const Clock& clock,
                IdGenerator& ids, const IngestConfig& config, Logger& log);

  blob::BlobStore& blobs() { return blobs_; }
  // Called after every enqueue (serve wakes an idle worker with it). Set before serving.
  void OnEnqueued(std::function<void()> f) { on_enqueued_ = std::move(f); }
  // Where document.queued and document.deleted go (the real-time channels). Set before serving.
  void SetEventLog(realtime::EventLog* log) { events_ = log; }
  // With a vector mirror (Pinecone), a deleted document's vectors (in the delete's own
  // transaction) and a reprocessed document's older version's vectors are recorded for the
  // search service's mirror retries to drop (store::SearchRepository::MirrorDeletes): they
  // are never answered once the document or its new job no longer names them.
  void SetVectorMirror(bool on) { vector_mirror_ = on; }
  // Unavailable when the job queue cannot answer.
  Status PingQueue();
  Status PingBlobs();

  // `staged` is finished (bytes on stable storage) and `content_type` was detected from the
  // bytes and is supported. Same bytes as one of the user's documents: that document, unless
  // `reprocess`, which queues it again. `filename` is display-only.
  Result<AcceptedUpload> Accept(const std::string& user_id, blob::BlobWriter& staged, const std::string& filename,
                                const std::string& content_type, bool reprocess);

  Result<store::Document> Get(const std::string& user_id, const std::string& id);
  Result<store::Page<store::Document>> List(const std::string& user_id, const store::PageRequest& page,
                                            std::optional<store::DocumentStatus> status);
  Result<store::Page<store::StoredChunk>> Chunks(const std::string& user_id, const std::string& id,
                                                 const store::PageRequest& page);
  // Removes the document, its chunks, its job (a worker holding it stops at its next lease
  // renewal and its results are discarded) and the blob when no other document uses it (the
  // store decides, safe against an upload of the same bytes in any process: store.hpp).
  Status Delete(const std::string& user_id, const std::string& id);

  // Removes the blobs no document names any more that a crash, a failed removal or an upload's
  // pin left behind. Answers how many went. Runs at start and periodically.
  Result<int> CollectBlobs();

  // Gives every document queued for longer than `age_ms` without a job in the queue its job
  // (the process that queued it died between writing the document and enqueueing the job, or
  // the queue refused it then). Answers how many were enqueued. Runs at start and periodically;
  // safe in several processes at once (job ids are the documents' own, a second enqueue of the
  // same id is a conflict and skipped).
  Result<int> EnqueueOrphans(int64_t age_ms);

 private:
  Status Enqueue(const std::string& job_id, const std::string& document_id, const std::string& user_id);

  store::Store& store_;
  blob::BlobStore& blobs_;
  queue::JobQueue& queue_;
  const Clock& clock_;
  IdGenerator& ids_;
  IngestConfig config_;
  Logger& log_;
  std::function<void()> on_enqueued_;
  realtime::EventLog* events_ = nullptr;
  bool vector_mirror_ = false;
  void PublishEvent(realtime::EventType type, const std::string& user_id, const std::string& document_id,
                    const std::string& reason = "");
  Result<bool> CollectBlob(const std::string& sha256);
};

// Display name from a client-supplied file name: the last path component, without control,
// line-separator or bidirectional-override characters and without bytes that are not strict
// UTF-8, at most kMaxFilenameBytes (never cutting a character); "upload" when nothing is left.
inline constexpr size_t kMaxFilenameBytes = 255;
std::string CleanFilename(std::string_view name);

}  // namespace betterdev::ingest
