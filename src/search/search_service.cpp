#include "search/search_service.hpp"

#include <algorithm>
#include <unordered_set>

#include "index/fusion.hpp"

namespace betterdev::search {
namespace {

constexpr int kLoadPage = 4096;
constexpr int kMaxK = 100;

}  // namespace

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kHybrid: return "hybrid";
    case Mode::kVector: return "vector";
    case Mode::kKeyword: return "keyword";
  }
  return "hybrid";
}

struct SearchService::UserIndex {
  std::unique_ptr<index::VectorIndex> exact;
  std::unique_ptr<index::VectorIndex> hnsw;  // built once the user has exact_below vectors
  std::unordered_map<int64_t, std::string> document_of;
  std::unordered_map<std::string, std::vector<int64_t>> keys_of;

  void Remove(int64_t key) {
    exact->Remove(key);
    if (hnsw) hnsw->Remove(key);
    auto it = document_of.find(key);
    if (it == document_of.end()) return;
    auto& keys = keys_of[it->second];
    keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
    if (keys.empty()) keys_of.erase(it->second);
    document_of.erase(it);
  }
};

SearchService::SearchService(store::Store& store, embed::Embedder& embedder, const SearchConfig& config)
    : store_(store), embedder_(embedder), config_(config) {}

SearchService::~SearchService() = default;

Status SearchService::Refresh() {
  const embed::EmbeddingModel& m = embedder_.model();
  while (true) {
    Result<std::vector<store::VectorRow>> rows = store_.search().VectorsAfter({m.id, m.dimension}, last_key_, kLoadPage);
    if (!rows.ok()) return rows.status();
    for (store::VectorRow& r : *rows) {
      last_key_ = std::max(last_key_, r.chunk_key);
      if (r.vector.size() != static_cast<size_t>(m.dimension)) continue;
      std::unique_ptr<UserIndex>& u = users_[r.user_id];
      if (!u) {
        u = std::make_unique<UserIndex>();
        u->exact = index::NewExactIndex(m.dimension);
      }
      BD_RETURN_IF_ERROR(u->exact->Add(r.chunk_key, r.vector));
      if (u->hnsw) BD_RETURN_IF_ERROR(u->hnsw->Add(r.chunk_key, r.vector));
      u->document_of[r.chunk_key] = r.document_id;
      u->keys_of[r.document_id].push_back(r.chunk_key);
      if (!u->hnsw && u->exact->size() >= static_cast<size_t>(config_.exact_below)) {
        u->hnsw = index::NewHnswIndex(m.dimension);
        Status built = Status::Ok();
        u->exact->ForEach([&](int64_t key, std::span<const float> v) {
          if (built.ok()) built = u->hnsw->Add(key, v);
        });
        BD_RETURN_IF_ERROR(built);
      }
    }
    if (rows->size() < static_cast<size_t>(kLoadPage)) return Status::Ok();
  }
}

void SearchService::ForgetDocument(const std::string& user_id, const std::string& document_id) {
  std::lock_guard lock(mu_);
  auto u = users_.find(user_id);
  if (u == users_.end()) return;
  auto keys = u->second->keys_of.find(document_id);
  if (keys == u->second->keys_of.end()) return;
  const std::vector<int64_t> copy = keys->second;
  for (int64_t key : copy) u->second->Remove(key);
}

Result<std::vector<index::Ranked>> SearchService::VectorLeg(const Request& request, int depth) {
  std::vector<std::string> one{request.query};
  Result<embed::Embeddings> q = embedder_.Embed(one);
  if (!q.ok()) return Status::Unavailable("could not embed the query: " + q.status().message());
  std::lock_guard lock(mu_);
  BD_RETURN_IF_ERROR(Refresh());
  auto it = users_.find(request.user_id);
  if (it == users_.end()) return std::vector<index::Ranked>{};
  UserIndex& u = *it->second;
  if (!request.document_ids.empty()) {  // a small scope: exact over those documents' chunks
    std::vector<int64_t> keys;
    for (const std::string& id : std::unordered_set<std::string>(request.document_ids.begin(), request.document_ids.end())) {
      auto k = u.keys_of.find(id);
      if (k != u.keys_of.end()) keys.insert(keys.end(), k->second.begin(), k->second.end());
    }
    return u.exact->SearchAmong(q->Row(0), depth, keys);
  }
  return (u.hnsw ? u.hnsw : u.exact)->Search(q->Row(0), depth);
}

Result<std::vector<Hit>> SearchService::Materialize(const Request& request, const std::vector<index::Ranked>& ranked) {
  std::vector<Hit> hits;
  std::unordered_map<std::string, std::optional<store::Document>> documents;
  std::vector<int64_t> gone;
  for (const index::Ranked& r : ranked) {
    if (hits.size() == static_cast<size_t>(request.k)) break;
    Result<std::vector<store::StoredChunk>> chunk = store_.search().ChunksByKey({r.key});
    if (!chunk.ok()) return chunk.status();
    if (chunk->empty()) {  // deleted or replaced since the index took it
      gone.push_back(r.key);
      continue;
    }
    store::StoredChunk& c = chunk->front();
    auto [doc, fresh] = documents.try_emplace(c.document_id);
    if (fresh) {
      Result<store::Document> d = store_.documents().Get(request.user_id, c.document_id);
      if (d.ok() && d->status == store::DocumentStatus::kReady) doc->second = std::move(*d);
    }
    if (!doc->second) continue;  // not this user's, or being reprocessed
    hits.push_back({std::move(c), doc->second->filename, r.score});
  }
  if (!gone.empty()) {  // every candidate came from this user's index or keyword search
    std::lock_guard lock(mu_);
    if (auto u = users_.find(request.user_id); u != users_.end()) {
      for (int64_t key : gone) u->second->Remove(key);
    }
  }
  return hits;
}

Result<std::vector<Hit>> SearchService::Search(const Request& request) {
  if (request.query.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status::InvalidArgument("query must not be empty");
  }
  if (request.k < 1 || request.k > kMaxK) return Status::InvalidArgument("k must be between 1 and 100");
  for (const std::string& id : request.document_ids) {
    Result<store::Document> d = store_.documents().Get(request.user_id, id);
    if (!d.ok()) return d.status().code() == StatusCode::kNotFound ? Status::NotFound("no such document: " + id) : d.status();
  }
  // Each leg looks deeper than k: hits of deleted documents are dropped later, and fusion
  // needs candidates the other leg ranks low.
  const int depth = std::max(request.k * 5, 50);
  std::vector<index::Ranked> keyword;
  if (request.mode != Mode::kVector) {
    Result<std::vector<store::ChunkHit>> hits =
        store_.search().KeywordSearch(request.user_id, request.query, request.document_ids, depth);
    if (!hits.ok()) return hits.status();
    for (const store::ChunkHit& h : *hits) keyword.push_back({h.chunk_key, h.score});
  }
  std::vector<index::Ranked> vector;
  if (request.mode != Mode::kKeyword) {
    Result<std::vector<index::Ranked>> leg = VectorLeg(request, depth);
    if (leg.ok()) vector = std::move(*leg);
    else if (request.mode == Mode::kVector) return leg.status();  // hybrid goes on with keywords
  }
  switch (request.mode) {
    case Mode::kKeyword: return Materialize(request, keyword);
    case Mode::kVector: return Materialize(request, vector);
    case Mode::kHybrid: break;
  }
  return Materialize(request, index::NormalizedScoreFusion({keyword, vector},
                                                           {config_.keyword_weight, config_.vector_weight}));
}

}  // namespace betterdev::search
