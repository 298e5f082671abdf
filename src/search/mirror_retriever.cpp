#include "search/mirror_retriever.hpp"

#include <future>

#include "core/time.hpp"
#include "search/moved_query.hpp"

namespace betterdev::search {

namespace {

constexpr int kRetriesPerRound = 100;

}  // namespace

MirrorRetriever::MirrorRetriever(store::Store& store, store::VectorMirror& mirror, std::unique_ptr<Retriever> keywords,
                                 Logger* log, std::chrono::milliseconds retry_interval)
    : store_(store),
      mirror_(mirror),
      keywords_(std::move(keywords)),
      log_(log),
      retry_interval_(retry_interval),
      background_(1) {}

MirrorRetriever::~MirrorRetriever() {
  retries_.reset();  // it posts to background_, which goes first
}

Status MirrorRetriever::Preload() {
  if (!retries_ && retry_interval_.count() > 0) {
    background_.Post([this] { RetryDeletes(); });  // deletes missed before this process started
    retries_ = std::make_unique<Periodic>(retry_interval_, [this] { background_.Post([this] { RetryDeletes(); }); });
  }
  return keywords_->Preload();
}

Result<std::vector<index::Ranked>> MirrorRetriever::Vectors(const Request& request, const embed::EmbeddingModel& model,
                                                            std::span<const float> query, int depth,
                                                            std::span<const index::Ranked> feedback) {
  const store::VectorModel vm{model.id, model.dimension};
  Result<std::vector<float>> moved = MovedQuery(store_.search(), vm, query, feedback);
  if (!moved.ok()) return moved.status();
  Result<std::vector<store::MirrorHit>> hits = mirror_.Query(vm, {request.user_id, request.document_ids}, *moved, depth);
  if (!hits.ok()) {  // the vector store's trouble, whatever it answered, is not the caller's mistake
    return Status::Unavailable(std::string(mirror_.name()) + ": " + hits.status().message());
  }
  std::vector<store::ChunkAt> at;
  at.reserve(hits->size());
  for (const store::MirrorHit& h : *hits) at.push_back(h.at);
  Result<std::vector<int64_t>> keys = store_.search().KeysOfChunks(request.user_id, at);
  if (!keys.ok()) return keys.status();
  std::vector<index::Ranked> ranked;
  for (size_t i = 0; i < hits->size() && i < keys->size(); ++i) {
    if ((*keys)[i] != 0) ranked.push_back({(*keys)[i], (*hits)[i].score});  // 0: gone, or an older version
  }
  return ranked;
}

Status MirrorRetriever::Drop(const store::MirrorDelete& d) {
  BD_RETURN_IF_ERROR(mirror_.DeleteDocument(d.user_id, d.document_id, d.job_id));
  return store_.search().RemoveMirrorDelete(d);
}

void MirrorRetriever::ForgetDocument(const std::string& user_id, const std::string& document_id) {
  keywords_->ForgetDocument(user_id, document_id);
  if (Status s = store_.search().AddMirrorDelete({user_id, document_id, ""}, SystemClock().NowMillis()); !s.ok() && log_ != nullptr) {
    log_->Warn("search: cannot record a delete for the vector store (tried once, not again)",
               {{"document_id", document_id}, {"detail", s.message()}});
  }
  background_.Post([this, user_id, document_id] {
    if (Status s = Drop({user_id, document_id, ""}); !s.ok() && log_ != nullptr) {
      log_->Warn("search: the vector store kept a deleted document's vectors for now (never answered: they name no "
                 "chunk; asked again later)",
                 {{"document_id", document_id}, {"detail", s.message()}});
    }
  });
}

void MirrorRetriever::RetryDeletes() {
  Result<std::vector<store::MirrorDelete>> due = store_.search().MirrorDeletes(kRetriesPerRound);
  if (!due.ok()) return;  // the store is away: next round
  int dropped = 0;
  for (const store::MirrorDelete& d : *due) {
    if (!Drop(d).ok()) break;  // still failing: next round
    ++dropped;
  }
  if (dropped > 0 && log_ != nullptr) {
    log_->Info("search: the vector store dropped vectors of deleted documents and older versions",
               {{"deletes", dropped}});
  }
}

void MirrorRetriever::WaitForBackgroundWork() {
  keywords_->WaitForBackgroundWork();
  std::promise<void> done;
  background_.Post([&done] { done.set_value(); });
  done.get_future().wait();
}

}  // namespace betterdev::search
