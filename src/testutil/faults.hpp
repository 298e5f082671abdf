// Fault injection for tests: wrappers around the store's documents, the job queue and the
// blob store that make a named call fail on demand. They sit where the real adapters sit (the
// services take the interfaces), so product code carries no test hooks.
//
//   testutil::Faults faults;
//   testutil::FaultyStore store(*real_store, faults);
//   faults.Arm("documents.CompleteWithChunks", Status::Unavailable("disk I/O error"));
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "blob/blob_store.hpp"
#include "core/status.hpp"
#include "queue/queue.hpp"
#include "store/store.hpp"

namespace betterdev::testutil {

class Faults {
 public:
  // The next `times` calls of `call` ("documents.CompleteWithChunks", "queue.Complete",
  // "blobs.LocalPath", ...) answer `status` without reaching the wrapped object.
  void Arm(const std::string& call, Status status, int times = 1) {
    std::lock_guard lock(mu_);
    armed_[call] = {std::move(status), times};
  }
  // Ok when the call may go through. Counts every call.
  Status Check(std::string_view call) {
    std::lock_guard lock(mu_);
    ++calls_[std::string(call)];
    auto it = armed_.find(std::string(call));
    if (it == armed_.end() || it->second.second <= 0) return Status::Ok();
    --it->second.second;
    return it->second.first;
  }
  int Calls(const std::string& call) const {
    std::lock_guard lock(mu_);
    auto it = calls_.find(call);
    return it == calls_.end() ? 0 : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::pair<Status, int>> armed_;
  std::map<std::string, int> calls_;
};

#define BD_FAULT(name)                                  \
  if (Status fault = f_.Check(name); !fault.ok()) {     \
    return fault;                                       \
  }

class FaultyDocuments final : public store::DocumentRepository {
 public:
  FaultyDocuments(store::DocumentRepository& d, Faults& f) : d_(d), f_(f) {}
  Status Create(const store::Document& doc) override {
    BD_FAULT("documents.Create");
    return d_.Create(doc);
  }
  Result<store::Document> Get(const std::string& user_id, const std::string& id) override {
    BD_FAULT("documents.Get");
    return d_.Get(user_id, id);
  }
  Result<store::Document> GetById(const std::string& id) override {
    BD_FAULT("documents.GetById");
    return d_.GetById(id);
  }
  Result<store::Document> FindBySha(const std::string& user_id, const std::string& sha256) override {
    BD_FAULT("documents.FindBySha");
    return d_.FindBySha(user_id, sha256);
  }
  Result<store::Page<store::Document>> List(const std::string& user_id, const store::PageRequest& page,
                                            std::optional<store::DocumentStatus> status) override {
    BD_FAULT("documents.List");
    return d_.List(user_id, page, status);
  }
  Status Requeue(const std::string& user_id, const std::string& id, const std::string& job_id, bool mirror_delete,
                 int64_t now) override {
    BD_FAULT("documents.Requeue");
    return d_.Requeue(user_id, id, job_id, mirror_delete, now);
  }
  Status MarkProcessing(const std::string& id, const std::string& job_id, int attempt, int64_t now) override {
    BD_FAULT("documents.MarkProcessing");
    return d_.MarkProcessing(id, job_id, attempt, now);
  }
  Status UpdateProgress(const std::string& id, const std::string& job_id, int attempt, const store::DocumentProgress& p,
                        int64_t now) override {
    BD_FAULT("documents.UpdateProgress");
    return d_.UpdateProgress(id, job_id, attempt, p, now);
  }
  Status MarkAttemptFailed(const std::string& id, const std::string& job_id, int attempt, const std::string& reason,
                           bool final, int64_t now) override {
    BD_FAULT("documents.MarkAttemptFailed");
    return d_.MarkAttemptFailed(id, job_id, attempt, reason, final, now);
  }
  Status CompleteWithChunks(const std::string& id, const std::string& job_id, int attempt, int pages,
                            int64_t text_chars, const std::vector<store::StoredChunk>& chunks,
                            const store::VectorModel& model, int64_t now) override {
    BD_FAULT("documents.CompleteWithChunks");
    return d_.CompleteWithChunks(id, job_id, attempt, pages, text_chars, chunks, model, now);
  }
  Status AddEmbeddingUsage(const std::string& id, const std::string& job_id, int64_t tokens, double cost) override {
    BD_FAULT("documents.AddEmbeddingUsage");
    return d_.AddEmbeddingUsage(id, job_id, tokens, cost);
  }
  Result<store::Document> Delete(const std::string& user_id, const std::string& id, bool mirror_delete,
                                 int64_t now_ms) override {
    BD_FAULT("documents.Delete");
    return d_.Delete(user_id, id, mirror_delete, now_ms);
  }
  Result<std::string> PinBlob(const std::string& sha256, int64_t now_ms, int64_t until_ms) override {
    BD_FAULT("documents.PinBlob");
    return d_.PinBlob(sha256, now_ms, until_ms);
  }
  Status UnpinBlob(const std::string& pin_id) override {
    BD_FAULT("documents.UnpinBlob");
    return d_.UnpinBlob(pin_id);
  }
  Result<bool> CollectBlob(const std::string& sha256, int64_t now_ms, const std::function<Status()>& remove) override {
    BD_FAULT("documents.CollectBlob");
    return d_.CollectBlob(sha256, now_ms, remove);
  }
  Result<std::vector<std::string>> BlobGarbage(int limit) override {
    BD_FAULT("documents.BlobGarbage");
    return d_.BlobGarbage(limit);
  }
  Result<std::vector<store::Document>> ListQueuedBefore(int64_t updated_before, int limit) override {
    BD_FAULT("documents.ListQueuedBefore");
    return d_.ListQueuedBefore(updated_before, limit);
  }
  Status SetNote(const std::string& id, const std::string& job_id, const std::string& note) override {
    BD_FAULT("documents.SetNote");
    return d_.SetNote(id, job_id, note);
  }
  Result<store::StoredChunk> GetChunk(const std::string& user_id, const std::string& document_id, int ordinal) override {
    BD_FAULT("documents.GetChunk");
    return d_.GetChunk(user_id, document_id, ordinal);
  }
  Result<store::Page<store::StoredChunk>> ListChunks(const std::string& user_id, const std::string& document_id,
                                                     const store::PageRequest& page) override {
    BD_FAULT("documents.ListChunks");
    return d_.ListChunks(user_id, document_id, page);
  }

 private:
  store::DocumentRepository& d_;
  Faults& f_;
};

// The documents fail on demand ("documents.*") and so does Ping ("store.Ping"); the other
// repositories are the wrapped store's.
class FaultyStore final : public store::Store {
 public:
  FaultyStore(store::Store& s, Faults& f) : s_(s), f_(f), documents_(s.documents(), f) {}
  store::UserRepository& users() override { return s_.users(); }
  store::TokenRepository& tokens() override { return s_.tokens(); }
  store::ApiKeyRepository& api_keys() override { return s_.api_keys(); }
  store::ConversationRepository& conversations() override { return s_.conversations(); }
  store::MessageRepository& messages() override { return s_.messages(); }
  store::DocumentRepository& documents() override { return documents_; }
  store::SearchRepository& search() override { return s_.search(); }
  Status Ping() override {
    BD_FAULT("store.Ping");
    return s_.Ping();
  }

 private:
  store::Store& s_;
  Faults& f_;
  FaultyDocuments documents_;
};

class FaultyQueue final : public queue::JobQueue {
 public:
  FaultyQueue(queue::JobQueue& q, Faults& f) : q_(q), f_(f) {}
  Result<std::string> Enqueue(std::string_view name, std::string_view payload, const queue::JobOptions& o) override {
    BD_FAULT("queue.Enqueue");
    return q_.Enqueue(name, payload, o);
  }
  Result<std::optional<queue::Job>> Lease(std::string_view worker_id, int64_t lease_ms, queue::LeaseFilter filter) override {
    BD_FAULT("queue.Lease");
    return q_.Lease(worker_id, lease_ms, filter);
  }
  Status Extend(const queue::Job& job, int64_t lease_ms) override {
    BD_FAULT("queue.Extend");
    return q_.Extend(job, lease_ms);
  }
  Status Progress(const queue::Job& job, int percent) override {
    BD_FAULT("queue.Progress");
    return q_.Progress(job, percent);
  }
  using queue::JobQueue::Complete;
  Status Complete(const queue::Job& job, std::string_view result_json) override {
    BD_FAULT("queue.Complete");
    return q_.Complete(job, result_json);
  }
  Result<queue::FailOutcome> Fail(const queue::Job& job, std::string_view reason, bool retryable) override {
    BD_FAULT("queue.Fail");
    return q_.Fail(job, reason, retryable);
  }
  Status Release(const queue::Job& job) override {
    BD_FAULT("queue.Release");
    return q_.Release(job);
  }
  Result<std::vector<queue::JobInfo>> ReclaimExpired() override {
    BD_FAULT("queue.ReclaimExpired");
    return q_.ReclaimExpired();
  }
  Status Cancel(std::string_view job_id) override {
    BD_FAULT("queue.Cancel");
    return q_.Cancel(job_id);
  }
  bool WaitForWork(std::string_view worker_id, int64_t timeout_ms) override { return q_.WaitForWork(worker_id, timeout_ms); }
  Result<queue::JobInfo> Get(std::string_view job_id) override {
    BD_FAULT("queue.Get");
    return q_.Get(job_id);
  }
  Result<queue::StateCounts> Counts() override {
    BD_FAULT("queue.Counts");
    return q_.Counts();
  }
  Result<int64_t> PruneCompleted(const queue::Retention& keep) override {
    BD_FAULT("queue.PruneCompleted");
    return q_.PruneCompleted(keep);
  }

 private:
  queue::JobQueue& q_;
  Faults& f_;
};

class FaultyBlobs final : public blob::BlobStore {
 public:
  FaultyBlobs(blob::BlobStore& b, Faults& f) : b_(b), f_(f) {}
  Result<std::unique_ptr<blob::BlobWriter>> Create() override {
    BD_FAULT("blobs.Create");
    return b_.Create();
  }
  Result<std::string> LocalPath(std::string_view key) override {
    BD_FAULT("blobs.LocalPath");
    return b_.LocalPath(key);
  }
  void DoneWith(std::string_view key) override {
    (void)f_.Check("blobs.DoneWith");  // counted only
    b_.DoneWith(key);
  }
  Result<bool> Exists(std::string_view key) override {
    BD_FAULT("blobs.Exists");
    return b_.Exists(key);
  }
  Status Delete(std::string_view key) override {
    BD_FAULT("blobs.Delete");
    return b_.Delete(key);
  }
  Status RemoveStale(std::chrono::seconds idle) override {
    BD_FAULT("blobs.RemoveStale");
    return b_.RemoveStale(idle);
  }

 private:
  blob::BlobStore& b_;
  Faults& f_;
};

#undef BD_FAULT

}  // namespace betterdev::testutil
