#include "search/search_service.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "index/feedback.hpp"
#include "search/local_retriever.hpp"
#include "search/mirror_retriever.hpp"
#include "search/question.hpp"
#include "search/store_retriever.hpp"

namespace betterdev::search {

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kHybrid: return "hybrid";
    case Mode::kVector: return "vector";
    case Mode::kKeyword: return "keyword";
  }
  return "hybrid";
}

SearchService::SearchService(store::Store& store, embed::Embedder& embedder, const SearchConfig& config,
                             embed::EmbedderFactory other_models, Logger* log, store::VectorMirror* mirror)
    : store_(store), embedder_(embedder), config_(config), other_models_(std::move(other_models)) {
  if (config_.rescore_depth > 0) {
    Result<std::unique_ptr<index::Tokenizer>> tokenizer = index::Tokenizer::Open();
    if (tokenizer.ok()) rescorer_ = std::make_unique<Rescorer>(std::move(*tokenizer));
    else if (log != nullptr) log->Warn("search: no second stage: " + tokenizer.status().message());
  }
  ModelSource model = [this]() -> Result<embed::EmbeddingModel> {
    Result<QueryModel> q = SyncModel();
    if (!q.ok()) return q.status();
    return q->model;
  };
  if (mirror != nullptr) {
    // The keyword leg only: its retriever never meets a model, so it loads or indexes no vectors.
    ModelSource none = [] { return Result<embed::EmbeddingModel>(Status::Unavailable("vectors are searched elsewhere")); };
    std::unique_ptr<Retriever> keywords;
    if (store_.search().searches_inside()) keywords = std::make_unique<StoreRetriever>(store_, config_, none, log);
    else keywords = std::make_unique<LocalRetriever>(store_, config_, none, log);
    retriever_ = std::make_unique<MirrorRetriever>(store_, *mirror, std::move(keywords), log,
                                                   std::chrono::milliseconds(config_.mirror_retry_ms));
  } else if (config_.vector_store == "pgvector") {
    retriever_ = std::make_unique<StoreRetriever>(store_, config_, model, log);
  } else {
    retriever_ = std::make_unique<LocalRetriever>(store_, config_, model, log);
  }
}

SearchService::~SearchService() = default;

Result<SearchService::QueryModel> SearchService::SyncModel() {
  Result<std::optional<store::VectorModel>> active = store_.search().ActiveModel();
  if (!active.ok()) return active.status();
  const embed::EmbeddingModel model =
      *active ? embed::EmbeddingModel{(*active)->id, (*active)->dimension} : embedder_.model();
  std::lock_guard lock(model_mu_);
  QueryModel& q = query_model_;
  if (model == q.model && (q.embedder || !q.error.ok())) return q;
  q = {model, nullptr, Status::Ok()};
  if (model == embedder_.model()) {
    q.embedder = std::shared_ptr<embed::Embedder>(&embedder_, [](embed::Embedder*) {});
  } else if (!other_models_) {
    q.error = Status::Unavailable("search uses " + model.id + " until re-embedding finishes");
  } else if (Result<std::unique_ptr<embed::Embedder>> e = other_models_(model); e.ok()) {
    q.embedder = std::move(*e);
  } else {
    q.error = Status::Unavailable("search uses " + model.id + " until re-embedding finishes and cannot embed "
                                  "with it: " + e.status().message());
  }
  return q;
}

Status SearchService::Preload() {
  BD_RETURN_IF_ERROR(store_.Ping());
  BD_RETURN_IF_ERROR(retriever_->Preload());
  return SyncModel().status();
}

embed::EmbeddingModel SearchService::model() {
  Result<QueryModel> q = SyncModel();
  if (q.ok()) return q->model;
  std::lock_guard lock(model_mu_);
  return query_model_.model;
}

void SearchService::Flush() { retriever_->Flush(); }

void SearchService::ForgetDocument(const std::string& user_id, const std::string& document_id) {
  retriever_->ForgetDocument(user_id, document_id);
}

void SearchService::WaitForBackgroundWork() { retriever_->WaitForBackgroundWork(); }

size_t SearchService::users_in_memory() { return retriever_->users_in_memory(); }

UserIndexStats SearchService::stats(const std::string& user_id) { return retriever_->stats(user_id); }

Result<std::vector<index::Ranked>> SearchService::VectorLeg(const Request& request, int depth,
                                                            std::span<const index::Ranked> feedback) {
  Result<QueryModel> q = SyncModel();
  if (!q.ok()) return q.status();
  if (!q->embedder) return q->error;
  std::vector<std::string> one{request.query};
  Result<embed::Embeddings> e = q->embedder->Embed(one);  // no lock held: maybe a remote call
  if (!e.ok()) return Status::Unavailable("could not embed the query: " + e.status().message());
  return retriever_->Vectors(request, q->model, e->Row(0), depth, feedback);
}

Result<std::vector<Hit>> SearchService::Materialize(const Request& request, const std::vector<index::Ranked>& ranked) {
  std::vector<Hit> hits;
  std::unordered_map<std::string, std::optional<store::Document>> documents;
  std::unordered_set<std::string> taken;  // group_by_document: documents already answered
  std::vector<int64_t> gone;
  // Candidates are read from the store a batch at a time (most searches need only the first).
  const size_t batch = static_cast<size_t>(std::max(request.k * 2, 20));
  for (size_t at = 0; at < ranked.size() && hits.size() < static_cast<size_t>(request.k); at += batch) {
    std::vector<int64_t> keys;
    for (size_t i = at; i < std::min(ranked.size(), at + batch); ++i) {
      if (request.group_by_document) {
        std::optional<std::string> document = retriever_->DocumentOf(request.user_id, ranked[i].key);
        if (document && taken.count(*document) != 0) continue;  // a better chunk of it came first
      }
      keys.push_back(ranked[i].key);
    }
    Result<std::vector<store::StoredChunk>> chunks = store_.search().ChunksByKey(keys);
    if (!chunks.ok()) return chunks.status();
    std::unordered_map<int64_t, store::StoredChunk*> by_key;
    for (store::StoredChunk& c : *chunks) by_key[c.key] = &c;
    for (size_t i = at; i < std::min(ranked.size(), at + batch); ++i) {
      if (hits.size() == static_cast<size_t>(request.k)) break;
      auto found = by_key.find(ranked[i].key);
      if (found == by_key.end()) {  // deleted or replaced since the index took it (or skipped above)
        if (std::find(keys.begin(), keys.end(), ranked[i].key) != keys.end()) gone.push_back(ranked[i].key);
        continue;
      }
      store::StoredChunk& c = *found->second;
      auto [doc, fresh] = documents.try_emplace(c.document_id);
      if (fresh) {
        Result<store::Document> d = store_.documents().Get(request.user_id, c.document_id);
        if (d.ok() && d->status == store::DocumentStatus::kReady) doc->second = std::move(*d);
      }
      if (!doc->second) continue;  // not this user's, or being reprocessed
      if (request.group_by_document && !taken.insert(c.document_id).second) continue;
      hits.push_back({std::move(c), doc->second->filename, ranked[i].score});
    }
  }
  if (!gone.empty()) retriever_->Forget(request.user_id, gone);  // every candidate came from this user's legs
  return hits;
}

Result<std::vector<Hit>> SearchService::Search(const Request& asked) {
  if (asked.query.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status::InvalidArgument("query must not be empty");
  }
  Request request = asked;
  // Not its instructions on the answer's form; abbreviations with the words reports use.
  request.query = WithLongForms(SearchableQuestion(asked.query));
  if (request.k < 1 || request.k > kMaxK) return Status::InvalidArgument("k must be between 1 and 1000");
  for (const std::string& id : request.document_ids) {
    Result<store::Document> d = store_.documents().Get(request.user_id, id);
    if (!d.ok()) return d.status().code() == StatusCode::kNotFound ? Status::NotFound("no such document: " + id) : d.status();
  }
  // Each leg looks deeper than k: hits of deleted documents are dropped later, fusion needs
  // candidates the other leg ranks low, and documents need several chunks each.
  int depth = request.group_by_document ? std::max(request.k * 10, 100) : std::max(request.k * 5, 50);
  if (request.mode == Mode::kHybrid && rescorer_) depth = std::max(depth, config_.rescore_depth);  // its pool
  std::vector<index::Ranked> keyword;
  if (request.mode != Mode::kVector) {
    Result<std::vector<index::Ranked>> leg = retriever_->Keywords(request, depth);
    if (!leg.ok()) return leg.status();
    keyword = std::move(*leg);
  }
  // Hybrid: both legs learn from the keyword leg's first answer (index/feedback.hpp); the
  // keyword query is expanded only over all of a user's documents (SearchConfig::hybrid_expansion).
  const std::vector<index::Ranked> first = request.mode == Mode::kHybrid ? keyword : std::vector<index::Ranked>{};
  if (!first.empty() && config_.hybrid_expansion > 0 && request.document_ids.empty()) {
    const size_t seeds = std::min(first.size(), static_cast<size_t>(index::kFeedbackChunks));
    Result<std::vector<index::Ranked>> leg =
        retriever_->ExpandedKeywords(request, depth, std::span(first).first(seeds), config_.hybrid_expansion);
    if (!leg.ok()) return leg.status();
    keyword = std::move(*leg);
  }
  std::vector<index::Ranked> vector;
  if (request.mode != Mode::kKeyword) {
    const size_t seeds = std::min(first.size(), static_cast<size_t>(config_.hybrid_feedback));
    Result<std::vector<index::Ranked>> leg = VectorLeg(request, depth, std::span(first).first(seeds));
    if (leg.ok()) vector = std::move(*leg);
    else if (request.mode == Mode::kVector) return leg.status();  // hybrid goes on with keywords
  }
  switch (request.mode) {
    case Mode::kKeyword: return Materialize(request, keyword);
    case Mode::kVector: return Materialize(request, vector);
    case Mode::kHybrid: break;
  }
  std::vector<index::Ranked> fused =
      index::NormalizedScoreFusion({keyword, vector}, {config_.keyword_weight, config_.vector_weight});
  if (rescorer_) {
    Status rescored = Rescore(request.query, fused);
    if (!rescored.ok()) return rescored;
  }
  return Materialize(request, fused);
}

Status SearchService::Rescore(const std::string& query, std::vector<index::Ranked>& ranked) const {
  const size_t n = std::min(ranked.size(), static_cast<size_t>(config_.rescore_depth));
  std::vector<int64_t> keys(n);
  for (size_t i = 0; i < n; ++i) keys[i] = ranked[i].key;
  Result<std::vector<store::StoredChunk>> chunks = store_.search().ChunksByKey(keys);
  if (!chunks.ok()) return chunks.status();
  std::unordered_map<int64_t, const store::StoredChunk*> by_key;
  for (const store::StoredChunk& c : *chunks) by_key[c.key] = &c;
  // A chunk gone since the index took it is scored on its first-stage share alone (Materialize
  // drops it and tells the retriever).
  std::vector<RescoreCandidate> candidates(n);
  for (size_t i = 0; i < n; ++i) {
    auto c = by_key.find(ranked[i].key);
    candidates[i] = {ranked[i].score, c == by_key.end() ? std::string_view() : std::string_view(c->second->text)};
  }
  const std::vector<double> scores =
      rescorer_->Scores(query, candidates, {config_.rescore_proximity, config_.rescore_figures});
  // Candidates past the depth keep their order below, on the same scale (their share of the best).
  double best = 0;
  for (size_t i = 0; i < n; ++i) best = std::max(best, ranked[i].score);
  for (size_t i = n; i < ranked.size(); ++i) ranked[i].score = best > 0 ? ranked[i].score / best : 0;
  for (size_t i = 0; i < n; ++i) ranked[i].score = scores[i];
  std::stable_sort(ranked.begin(), ranked.begin() + static_cast<ptrdiff_t>(n),
                   [](const index::Ranked& a, const index::Ranked& b) { return a.score > b.score; });
  return Status::Ok();
}

}  // namespace betterdev::search
