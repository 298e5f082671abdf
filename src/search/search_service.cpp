#include "search/search_service.hpp"

#include <algorithm>
#include <thread>
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
  index::KeywordIndex keywords;
  // Exact while small; replaced by HNSW (which keeps its own copy of each vector, so scoped
  // searches scan those) once the user has exact_below vectors. Null until the first vector.
  std::unique_ptr<index::VectorIndex> vectors;
  bool approximate = false;
  std::unordered_map<int64_t, std::string> document_of;
  std::unordered_map<std::string, std::vector<int64_t>> keys_of;

  void Remove(int64_t key) {
    keywords.Remove(key);
    if (vectors) vectors->Remove(key);
    auto it = document_of.find(key);
    if (it == document_of.end()) return;
    auto& keys = keys_of[it->second];
    keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
    if (keys.empty()) keys_of.erase(it->second);
    document_of.erase(it);
  }
};

SearchService::SearchService(store::Store& store, embed::Embedder& embedder, const SearchConfig& config,
                             embed::EmbedderFactory other_models)
    : store_(store), embedder_(embedder), config_(config), other_models_(std::move(other_models)),
      tokenizer_(index::Tokenizer::Open()),
      build_threads_(static_cast<int>(std::max(1U, std::thread::hardware_concurrency()))) {}

SearchService::~SearchService() = default;

SearchService::UserIndex& SearchService::UserOf(const std::string& user_id, const std::string& document_id,
                                                int64_t key) {
  std::unique_ptr<UserIndex>& u = users_[user_id];
  if (!u) u = std::make_unique<UserIndex>();
  if (u->document_of.emplace(key, document_id).second) u->keys_of[document_id].push_back(key);
  return *u;
}

Status SearchService::Refresh() {
  BD_RETURN_IF_ERROR(SyncModel());
  BD_RETURN_IF_ERROR(RefreshTexts());
  return RefreshVectors();
}

Status SearchService::Preload() {
  std::lock_guard lock(mu_);
  return Refresh();
}

embed::EmbeddingModel SearchService::model() {
  std::lock_guard lock(mu_);
  (void)SyncModel();
  return loaded_;
}

Status SearchService::SyncModel() {
  Result<std::optional<store::VectorModel>> active = store_.search().ActiveModel();
  if (!active.ok()) return active.status();
  const embed::EmbeddingModel model =
      *active ? embed::EmbeddingModel{(*active)->id, (*active)->dimension} : embedder_.model();
  if (model == loaded_) return Status::Ok();
  loaded_ = model;
  query_embedder_.reset();
  query_error_ = Status::Ok();
  if (model == embedder_.model()) {
    query_embedder_ = std::shared_ptr<embed::Embedder>(&embedder_, [](embed::Embedder*) {});
  } else if (!other_models_) {
    query_error_ = Status::Unavailable("search uses " + model.id + " until re-embedding finishes");
  } else if (Result<std::unique_ptr<embed::Embedder>> e = other_models_(model); e.ok()) {
    query_embedder_ = std::move(*e);
  } else {
    query_error_ = Status::Unavailable("search uses " + model.id + " until re-embedding finishes and cannot embed "
                                       "with it: " + e.status().message());
  }
  for (auto& [user, u] : users_) {  // the new model's vectors load from the start
    u->vectors.reset();
    u->approximate = false;
  }
  last_vector_key_ = 0;
  return Status::Ok();
}

Status SearchService::RefreshTexts() {
  if (!tokenizer_.ok()) return tokenizer_.status();
  while (true) {
    Result<std::vector<store::TextRow>> rows = store_.search().TextsAfter(last_text_key_, kLoadPage);
    if (!rows.ok()) return rows.status();
    for (const store::TextRow& r : *rows) {
      last_text_key_ = std::max(last_text_key_, r.chunk_key);
      if (r.ordinal == 0) ForgetChunksOf(r.user_id, r.document_id);  // reprocessed: the old chunks are gone
      UserOf(r.user_id, r.document_id, r.chunk_key)
          .keywords.Add(r.chunk_key, (*tokenizer_)->Document(r.text), (*tokenizer_)->Document(r.context));
    }
    if (rows->size() < static_cast<size_t>(kLoadPage)) return Status::Ok();
  }
}

Status SearchService::RefreshVectors() {
  const embed::EmbeddingModel m = loaded_;
  const auto dim = static_cast<size_t>(m.dimension);
  while (true) {
    Result<std::vector<store::VectorRow>> rows =
        store_.search().VectorsAfter({m.id, m.dimension}, last_vector_key_, kLoadPage);
    if (!rows.ok()) return rows.status();
    struct Batch {
      std::vector<int64_t> keys;
      std::vector<float> values;
    };
    std::unordered_map<UserIndex*, Batch> batches;
    for (store::VectorRow& r : *rows) {
      last_vector_key_ = std::max(last_vector_key_, r.chunk_key);
      if (r.vector.size() != dim) continue;
      UserIndex& u = UserOf(r.user_id, r.document_id, r.chunk_key);
      if (!u.vectors) u.vectors = index::NewExactIndex(m.dimension);
      Batch& b = batches[&u];
      b.keys.push_back(r.chunk_key);
      b.values.insert(b.values.end(), r.vector.begin(), r.vector.end());
    }
    for (auto& [user, b] : batches) {
      UserIndex& u = *user;
      if (!u.approximate && u.vectors->size() + b.keys.size() >= static_cast<size_t>(config_.exact_below)) {
        // Move to HNSW: the exact index's vectors plus this batch, built on every core.
        index::HnswOptions options;
        options.initial_capacity = 2 * (u.vectors->size() + b.keys.size());
        auto hnsw = index::NewHnswIndex(m.dimension, options);
        u.vectors->ForEach([&](int64_t key, std::span<const float> v) {
          b.keys.push_back(key);
          b.values.insert(b.values.end(), v.begin(), v.end());
        });
        u.vectors = std::move(hnsw);
        u.approximate = true;
      }
      BD_RETURN_IF_ERROR(u.vectors->AddBatch(b.keys, b.values, build_threads_));
    }
    if (rows->size() < static_cast<size_t>(kLoadPage)) return Status::Ok();
  }
}

void SearchService::ForgetDocument(const std::string& user_id, const std::string& document_id) {
  std::lock_guard lock(mu_);
  ForgetChunksOf(user_id, document_id);
}

void SearchService::ForgetChunksOf(const std::string& user_id, const std::string& document_id) {
  auto u = users_.find(user_id);
  if (u == users_.end()) return;
  auto keys = u->second->keys_of.find(document_id);
  if (keys == u->second->keys_of.end()) return;
  const std::vector<int64_t> copy = keys->second;
  for (int64_t key : copy) u->second->Remove(key);
}

std::vector<int64_t> SearchService::ScopeKeys(const UserIndex& u, const Request& request) {
  std::vector<int64_t> keys;
  for (const std::string& id : std::unordered_set<std::string>(request.document_ids.begin(), request.document_ids.end())) {
    auto k = u.keys_of.find(id);
    if (k != u.keys_of.end()) keys.insert(keys.end(), k->second.begin(), k->second.end());
  }
  return keys;
}

Result<std::vector<index::Ranked>> SearchService::KeywordLeg(const Request& request, int depth) {
  if (!tokenizer_.ok()) return tokenizer_.status();
  const std::vector<std::string> terms = (*tokenizer_)->Query(request.query);
  if (terms.empty()) return std::vector<index::Ranked>{};
  std::lock_guard lock(mu_);
  BD_RETURN_IF_ERROR(RefreshTexts());  // not the vectors: their trouble must not stop keyword search
  auto it = users_.find(request.user_id);
  if (it == users_.end()) return std::vector<index::Ranked>{};
  const UserIndex& u = *it->second;
  if (request.document_ids.empty()) return u.keywords.Search(terms, depth);
  return u.keywords.SearchAmong(terms, depth, ScopeKeys(u, request));
}

Result<std::vector<index::Ranked>> SearchService::VectorLeg(const Request& request, int depth) {
  std::shared_ptr<embed::Embedder> embedder;
  embed::EmbeddingModel used;
  {
    std::lock_guard lock(mu_);
    BD_RETURN_IF_ERROR(Refresh());
    if (!query_embedder_) return query_error_;
    embedder = query_embedder_;
    used = loaded_;
  }
  std::vector<std::string> one{request.query};
  Result<embed::Embeddings> q = embedder->Embed(one);  // outside the lock: a remote call
  if (!q.ok()) return Status::Unavailable("could not embed the query: " + q.status().message());
  std::lock_guard lock(mu_);  // (what became ready while the query was embedded waits for the next search)
  if (!(loaded_ == used)) return Status::Unavailable("the embedding model changed during the search; try again");
  auto it = users_.find(request.user_id);
  if (it == users_.end() || !it->second->vectors) return std::vector<index::Ranked>{};
  const UserIndex& u = *it->second;
  if (request.document_ids.empty()) return u.vectors->Search(q->Row(0), depth);
  return u.vectors->SearchAmong(q->Row(0), depth, ScopeKeys(u, request));
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
    Result<std::vector<index::Ranked>> leg = KeywordLeg(request, depth);
    if (!leg.ok()) return leg.status();
    keyword = std::move(*leg);
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
