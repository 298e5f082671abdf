#include "ingest/ingest_service.hpp"

#include "core/utf8.hpp"
#include "ingest/worker.hpp"

namespace betterdev::ingest {
namespace {

// How long an upload's pin keeps its blob from removal: it covers the commit (a rename and an
// fsync) and the document's insert, with room for a stalled disk.
constexpr int64_t kBlobPinMs = 10 * 60 * 1000;

}  // namespace

IngestService::IngestService(store::Store& store, blob::BlobStore& blobs, queue::JobQueue& queue, const Clock& clock,
                             IdGenerator& ids, const IngestConfig& config, Logger& log)
    : store_(store), blobs_(blobs), queue_(queue), clock_(clock), ids_(ids), config_(config), log_(log) {}

// The document row always names its job before the job exists: a worker that leases the job
// then finds the document, and a missing document can only mean a deleted one.
Status IngestService::Enqueue(const std::string& job_id, const std::string& document_id, const std::string& user_id) {
  queue::JobOptions options;
  options.attempts = config_.job_attempts;
  options.backoff_ms = config_.job_backoff_ms;
  options.id = job_id;
  options.group = user_id;  // users take turns at the workers
  // Published before the job exists: a worker may take it at once, and its first progress
  // must not reach clients before "queued".
  PublishEvent(realtime::EventType::kQueued, user_id, document_id);
  auto job = queue_.Enqueue(kFileProcessJob, FileJobPayload(document_id, user_id), options);
  if (!job.ok()) {
    PublishEvent(realtime::EventType::kFailed, user_id, document_id,
                 "the document could not be queued: " + job.status().message());
    return job.status();
  }
  if (on_enqueued_) on_enqueued_();
  return Status::Ok();
}

// Best effort: an event that cannot be written costs a log line, never the request.
void IngestService::PublishEvent(realtime::EventType type, const std::string& user_id, const std::string& document_id,
                                 const std::string& reason) {
  if (events_ == nullptr) return;
  realtime::Event e;
  e.type = type;
  e.reason = reason;
  e.user_id = user_id;
  e.document_id = document_id;
  e.at_ms = clock_.NowMillis();
  if (Status s = events_->Append(e); !s.ok())
    log_.Warn("event not published", {{"type", realtime::EventTypeName(type)}, {"error", s.message()}});
}

Result<AcceptedUpload> IngestService::Accept(const std::string& user_id, blob::BlobWriter& staged,
                                             const std::string& filename, const std::string& content_type,
                                             bool reprocess) {
  store::DocumentRepository& docs = store_.documents();
  const std::string& sha = staged.sha256_hex();
  auto existing = docs.FindBySha(user_id, sha);
  if (existing.ok()) {
    if (!reprocess) return AcceptedUpload{*existing, false};
    std::string job_id = ids_.New("job");
    BD_RETURN_IF_ERROR(docs.Requeue(user_id, existing->id, job_id, vector_mirror_, clock_.NowMillis()));
    // The answer shows the document as queued: read before the job exists, since a woken
    // worker may take it at once.
    Result<store::Document> requeued = docs.Get(user_id, existing->id);
    if (!requeued.ok()) return requeued.status();
    (void)queue_.Cancel(existing->job_id);  // a worker holding it stops at its next renewal
    if (Status s = Enqueue(job_id, existing->id, user_id); !s.ok()) {
      // Not left queued for a job that does not exist: failed, with the reason, and it can be
      // reprocessed again. (A process that dies right here leaves it queued: EnqueueOrphans.)
      (void)docs.MarkAttemptFailed(existing->id, job_id, 0, "the document could not be queued: " + s.message(), true,
                                   clock_.NowMillis());
      return s;
    }
    return AcceptedUpload{std::move(*requeued), false};
  }
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();

  // Pinned before the commit: a delete of the same bytes in any process now keeps the blob.
  const int64_t now = clock_.NowMillis();
  Result<std::string> pin = docs.PinBlob(sha, now, now + kBlobPinMs);
  if (!pin.ok()) return pin.status();
  // Once the document exists (or the upload failed) the pin has done its work.
  struct Unpin {
    store::DocumentRepository& docs;
    const std::string& id;
    ~Unpin() { (void)docs.UnpinBlob(id); }  // a pin left behind only ends later
  } unpin{docs, *pin};
  BD_RETURN_IF_ERROR(staged.Commit());
  store::Document d;
  d.id = ids_.New("doc");
  d.user_id = user_id;
  d.filename = filename;
  d.content_type = content_type;
  d.size_bytes = staged.size();
  d.sha256 = sha;
  d.status = store::DocumentStatus::kQueued;
  d.created_at = d.updated_at = clock_.NowMillis();
  d.job_id = ids_.New("job");
  if (Status s = docs.Create(d); !s.ok()) {
    // The same bytes from the same user through another process, a moment earlier: theirs.
    if (s.code() != StatusCode::kConflict) return s;
    auto theirs = docs.FindBySha(user_id, sha);
    if (!theirs.ok()) return s;
    return AcceptedUpload{std::move(*theirs), false};
  }
  if (Status s = Enqueue(d.job_id, d.id, user_id); !s.ok()) {
    (void)docs.Delete(user_id, d.id, false, clock_.NowMillis());  // no document without its job
    return s;
  }
  return AcceptedUpload{std::move(d), true};
}

Status IngestService::PingQueue() {
  auto counts = queue_.Counts();
  return counts.ok() ? Status::Ok() : Status::Unavailable(counts.status().message());
}

Status IngestService::PingBlobs() { return blobs_.Ping(); }

Result<store::Document> IngestService::Get(const std::string& user_id, const std::string& id) {
  return store_.documents().Get(user_id, id);
}

Result<store::Page<store::Document>> IngestService::List(const std::string& user_id, const store::PageRequest& page,
                                                         std::optional<store::DocumentStatus> status) {
  return store_.documents().List(user_id, page, status);
}

Result<store::Page<store::StoredChunk>> IngestService::Chunks(const std::string& user_id, const std::string& id,
                                                              const store::PageRequest& page) {
  return store_.documents().ListChunks(user_id, id, page);
}

Status IngestService::Delete(const std::string& user_id, const std::string& id) {
  auto doc = store_.documents().Delete(user_id, id, vector_mirror_, clock_.NowMillis());
  if (!doc.ok()) return doc.status();
  if (Status s = queue_.Cancel(doc->job_id); !s.ok())
    log_.Warn("cannot cancel the job of a deleted document", {{"job_id", doc->job_id}, {"error", s.message()}});
  if (auto removed = CollectBlob(doc->sha256); !removed.ok())  // housekeeping tries again
    log_.Warn("cannot delete a blob", {{"sha256", doc->sha256}, {"error", removed.status().message()}});
  PublishEvent(realtime::EventType::kDeleted, user_id, id);
  return Status::Ok();
}

Result<bool> IngestService::CollectBlob(const std::string& sha256) {
  return store_.documents().CollectBlob(sha256, clock_.NowMillis(), [&] { return blobs_.Delete(sha256); });
}

Result<int> IngestService::CollectBlobs() {
  constexpr int kBatch = 500;
  auto garbage = store_.documents().BlobGarbage(kBatch);
  if (!garbage.ok()) return garbage.status();
  int removed = 0;
  for (const std::string& sha : *garbage) {
    auto gone = CollectBlob(sha);
    if (!gone.ok()) return gone.status();
    removed += *gone ? 1 : 0;
  }
  return removed;
}

Result<int> IngestService::EnqueueOrphans(int64_t age_ms) {
  constexpr int kBatch = 500;
  auto queued = store_.documents().ListQueuedBefore(clock_.NowMillis() - age_ms, kBatch);
  if (!queued.ok()) return queued.status();
  int enqueued = 0;
  for (const store::Document& d : *queued) {
    auto job = queue_.Get(d.job_id);
    if (job.ok()) continue;
    if (job.status().code() != StatusCode::kNotFound) return job.status();
    if (Status s = Enqueue(d.job_id, d.id, d.user_id); !s.ok()) {
      if (s.code() == StatusCode::kConflict) continue;  // another process did it meanwhile
      return s;
    }
    log_.Warn("queued a document that had no job", {{"document_id", d.id}, {"job_id", d.job_id}});
    ++enqueued;
  }
  return enqueued;
}

namespace {

// Characters a name shown to people must not carry: C0 and C1 controls, DEL, the line and
// paragraph separators, and the bidirectional overrides and isolates (a name that displays as
// "report.pdf" but ends in ".exe").
bool Unprintable(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029 || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069) || c == 0xFEFF;
}

}  // namespace

std::string CleanFilename(std::string_view name) {
  size_t slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string out;
  for (size_t i = 0; i < name.size();) {
    const Utf8Char c = DecodeUtf8At(name, i);
    if (c.length == 0) {  // not UTF-8 (overlong forms and surrogates included): the byte goes
      ++i;
      continue;
    }
    if (!Unprintable(c.code_point)) {
      if (out.size() + c.length > kMaxFilenameBytes) break;
      out.append(name.substr(i, c.length));
    }
    i += c.length;
  }
  while (!out.empty() && (out.front() == ' ' || out.front() == '.')) out.erase(out.begin());
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out.empty() ? "upload" : out;
}

}  // namespace betterdev::ingest
