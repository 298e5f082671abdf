#include "search/mirror_retriever.hpp"

#include <future>

#include "search/moved_query.hpp"

namespace betterdev::search {

MirrorRetriever::MirrorRetriever(store::Store& store, store::VectorMirror& mirror, std::unique_ptr<Retriever> keywords,
                                 Logger* log)
    : store_(store), mirror_(mirror), keywords_(std::move(keywords)), log_(log), background_(1) {}

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

void MirrorRetriever::ForgetDocument(const std::string& user_id, const std::string& document_id) {
  keywords_->ForgetDocument(user_id, document_id);
  background_.Post([this, user_id, document_id] {
    if (Status s = mirror_.DeleteDocument(user_id, document_id, ""); !s.ok() && log_ != nullptr) {
      log_->Warn("search: the vector store kept a deleted document's vectors (never answered: they name no chunk)",
                 {{"document_id", document_id}, {"detail", s.message()}});
    }
  });
}

void MirrorRetriever::WaitForBackgroundWork() {
  keywords_->WaitForBackgroundWork();
  std::promise<void> done;
  background_.Post([&done] { done.set_value(); });
  done.get_future().wait();
}

}  // namespace betterdev::search
