#include "search/user_index.hpp"

#include <algorithm>

#include "index/feedback.hpp"

namespace betterdev::search {
namespace {

// A graph is worth building once the exact scan is no longer cheap; once built, it is copied
// and extended when the vectors added since (scanned exactly on every search) reach an eighth
// of it, or when a quarter of it has been removed (their slots then take new vectors).
// `links`: the graph's M, which a graph grown past index::kDenseGraphFrom is rebuilt to raise.
bool BuildPolicy(size_t graph, int links, size_t tail, size_t dead, const BuildLimits& limits) {
  const auto threshold = static_cast<size_t>(std::max(1, limits.exact_below));
  if (graph == 0) return tail >= threshold;
  return tail >= std::max(threshold / 4 + 1, graph / 8) || dead >= std::max<size_t>(1024, graph / 4) ||
         links < index::HnswOptionsFor(graph + tail, limits.dense_from).m;
}

std::vector<index::Ranked> Merge(std::vector<index::Ranked> a, const std::vector<index::Ranked>& b, int k) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end(), [](const index::Ranked& x, const index::Ranked& y) {
    return x.score != y.score ? x.score > y.score : x.key < y.key;
  });
  if (a.size() > static_cast<size_t>(k)) a.resize(static_cast<size_t>(k));
  return a;
}

}  // namespace

UserIndex::UserIndex(std::string user_id, index::VectorEncoding encoding)
    : user_id_(std::move(user_id)), encoding_(encoding) {}

void UserIndex::IndexDocumentLocked(int64_t key, const std::string& document_id) {
  if (document_of_.emplace(key, document_id).second) keys_of_[document_id].push_back(key);
}

void UserIndex::Start(const std::vector<store::ChunkRef>& live, std::optional<index::KeywordIndex> keywords,
                      int64_t through_key) {
  std::unique_lock lock(mu_);
  for (const store::ChunkRef& r : live) IndexDocumentLocked(r.chunk_key, r.document_id);
  if (!keywords) return;
  keywords_ = std::move(*keywords);
  keyword_through_ = through_key;
  std::vector<int64_t> gone;
  keywords_.ForEachKey([&](int64_t key) {
    if (document_of_.count(key) == 0) gone.push_back(key);
  });
  for (int64_t key : gone) keywords_.Remove(key);
}

void UserIndex::AddTexts(std::vector<PreparedText>& rows) {
  if (rows.empty()) return;  // (every search's refresh): readers are not stopped for nothing
  std::unique_lock lock(mu_);
  for (PreparedText& r : rows) {
    if (r.ordinal == 0) ForgetDocumentBelowLocked(r.document_id, r.key);  // reprocessed: the old chunks are gone
    IndexDocumentLocked(r.key, r.document_id);
    keywords_.Add(r.key, r.text, r.context);
    keyword_through_ = std::max(keyword_through_, r.key);
  }
}

void UserIndex::ResetVectors(const embed::EmbeddingModel& model, std::unique_ptr<index::VectorIndex> graph,
                             int64_t through_key, const std::vector<store::ChunkRef>& live, int64_t live_through) {
  std::unique_lock lock(mu_);
  model_ = model;
  ++generation_;
  tail_.reset();
  dead_.clear();
  vector_through_ = 0;
  graph_.reset();
  if (!graph) return;
  std::unordered_set<int64_t> alive;
  alive.reserve(live.size());
  for (const store::ChunkRef& r : live) {
    alive.insert(r.chunk_key);
    IndexDocumentLocked(r.chunk_key, r.document_id);
  }
  std::vector<int64_t> gone;
  graph->ForEach([&](int64_t key, std::span<const float>) {
    if (key <= live_through && alive.count(key) == 0) gone.push_back(key);
  });
  for (int64_t key : gone) graph->Remove(key);  // not yet published: no search can see it
  graph_ = std::move(graph);
  vector_through_ = through_key;
}

void UserIndex::AddVectors(std::span<const int64_t> keys, std::span<const float> values,
                           std::span<const std::string> documents) {
  if (keys.empty()) {  // (every search's refresh): readers are not stopped for nothing
    std::shared_lock read(mu_);
    if (tail_) return;
  }
  std::unique_lock lock(mu_);
  if (!tail_) tail_ = index::NewExactIndex(model_.dimension, encoding_);
  const auto dim = static_cast<size_t>(model_.dimension);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (graph_ && graph_->Contains(keys[i])) continue;  // a saved graph already has it
    (void)tail_->Add(keys[i], values.subspan(i * dim, dim));
    IndexDocumentLocked(keys[i], documents[i]);
    vector_through_ = std::max(vector_through_, keys[i]);
  }
}

void UserIndex::RemoveLocked(int64_t key) {
  keywords_.Remove(key);
  if (tail_ && tail_->Contains(key)) tail_->Remove(key);
  else if (graph_ && graph_->Contains(key)) dead_.insert(key);
}

void UserIndex::ForgetDocumentBelowLocked(const std::string& document_id, int64_t below) {
  auto it = keys_of_.find(document_id);
  if (it == keys_of_.end()) return;
  std::vector<int64_t> kept;
  for (int64_t key : it->second) {
    if (key >= below) {
      kept.push_back(key);
      continue;
    }
    RemoveLocked(key);
    document_of_.erase(key);
  }
  if (kept.empty()) keys_of_.erase(it);
  else it->second = std::move(kept);
}

void UserIndex::ForgetDocument(const std::string& document_id) {
  std::unique_lock lock(mu_);
  ForgetDocumentBelowLocked(document_id, INT64_MAX);
}

void UserIndex::Forget(std::span<const int64_t> keys) {
  std::unique_lock lock(mu_);
  for (int64_t key : keys) {
    RemoveLocked(key);
    auto d = document_of_.find(key);
    if (d == document_of_.end()) continue;
    auto& list = keys_of_[d->second];
    list.erase(std::remove(list.begin(), list.end(), key), list.end());
    if (list.empty()) keys_of_.erase(d->second);
    document_of_.erase(d);
  }
}

std::vector<int64_t> UserIndex::ScopeLocked(const std::vector<std::string>& documents) const {
  std::vector<int64_t> keys;
  for (const std::string& id : std::unordered_set<std::string>(documents.begin(), documents.end())) {
    auto k = keys_of_.find(id);
    if (k != keys_of_.end()) keys.insert(keys.end(), k->second.begin(), k->second.end());
  }
  return keys;
}

std::vector<index::Ranked> UserIndex::SearchKeywords(std::span<const std::string> terms, int depth,
                                                     const std::vector<std::string>& documents) const {
  std::shared_lock lock(mu_);
  if (documents.empty()) return keywords_.Search(terms, depth);
  return keywords_.SearchAmong(terms, depth, ScopeLocked(documents));
}

index::WeightedQuery UserIndex::ExpandKeywords(std::span<const std::string> terms, std::span<const index::Terms> seeds,
                                               std::span<const double> seed_scores, int expansion_terms) const {
  std::shared_lock lock(mu_);
  return keywords_.Expand(terms, seeds, seed_scores, expansion_terms);
}

std::vector<index::Ranked> UserIndex::SearchKeywords(const index::WeightedQuery& query, int depth,
                                                     const std::vector<std::string>& documents) const {
  std::shared_lock lock(mu_);
  if (documents.empty()) return keywords_.SearchWeighted(query, depth);
  const std::vector<int64_t> keys = ScopeLocked(documents);
  if (keys.empty()) return {};
  return keywords_.SearchWeighted(query, depth, keys);
}

std::optional<std::vector<index::Ranked>> UserIndex::SearchVectors(std::span<const float> query, int depth,
                                                                   const std::vector<std::string>& documents,
                                                                   const embed::EmbeddingModel& model) const {
  std::shared_lock lock(mu_);
  if (!(model_ == model) || query.size() != static_cast<size_t>(model_.dimension)) return std::nullopt;
  std::vector<index::Ranked> from_graph, from_tail;
  if (documents.empty()) {
    if (graph_) {
      if (dead_.empty()) from_graph = graph_->Search(query, depth);
      else from_graph = graph_->Search(query, depth, [this](int64_t key) { return dead_.count(key) == 0; });
    }
    if (tail_) from_tail = tail_->Search(query, depth);
  } else {
    std::vector<int64_t> keys = ScopeLocked(documents);
    if (tail_) from_tail = tail_->SearchAmong(query, depth, keys);
    if (graph_) {
      std::erase_if(keys, [this](int64_t key) { return dead_.count(key) != 0; });
      from_graph = graph_->SearchAmong(query, depth, keys);
    }
  }
  return Merge(std::move(from_graph), from_tail, depth);
}

std::optional<std::vector<float>> UserIndex::FeedbackQuery(std::span<const float> query,
                                                           std::span<const index::Ranked> seeds,
                                                           const embed::EmbeddingModel& model) const {
  std::shared_lock lock(mu_);
  const auto dim = static_cast<size_t>(model_.dimension);
  if (!(model_ == model) || query.size() != dim) return std::nullopt;
  std::vector<float> vectors(seeds.size() * dim);
  std::vector<double> scores;
  for (const index::Ranked& seed : seeds) {
    const std::span<float> out(vectors.data() + scores.size() * dim, dim);
    const bool found = (tail_ && tail_->Get(seed.key, out)) ||
                       (graph_ && dead_.count(seed.key) == 0 && graph_->Get(seed.key, out));
    if (found) scores.push_back(seed.score);
  }
  vectors.resize(scores.size() * dim);
  return index::MoveQueryToward(query, vectors, scores);
}

std::optional<std::string> UserIndex::DocumentOf(int64_t key) const {
  std::shared_lock lock(mu_);
  auto it = document_of_.find(key);
  if (it == document_of_.end()) return std::nullopt;
  return it->second;
}

bool UserIndex::WantsBuild(const BuildLimits& limits) const {
  std::shared_lock lock(mu_);
  return !building_ && NeedsBuildLocked(limits);
}

bool UserIndex::NeedsBuildLocked(const BuildLimits& limits) const {
  return BuildPolicy(graph_ ? graph_->size() : 0, graph_ ? index::GraphLinks(*graph_) : 0, tail_ ? tail_->size() : 0,
                     dead_.size(), limits);
}

std::optional<BuildJob> UserIndex::StartBuild(const BuildLimits& limits) {
  {
    std::unique_lock lock(mu_);
    if (building_ || !NeedsBuildLocked(limits)) {
      return std::nullopt;
    }
    building_ = true;  // no other build, no model change's vectors mixed in (generation)
  }
  std::shared_lock lock(mu_);  // copying the tail blocks no search
  BuildJob job;
  job.generation = generation_;
  job.model = model_;
  job.base = graph_;
  job.dead.assign(dead_.begin(), dead_.end());
  job.through_key = vector_through_;
  if (tail_) {
    job.keys.reserve(tail_->size());
    job.values.reserve(tail_->size() * static_cast<size_t>(model_.dimension));
    tail_->ForEach([&job](int64_t key, std::span<const float> v) {
      job.keys.push_back(key);
      job.values.insert(job.values.end(), v.begin(), v.end());
    });
  }
  return job;
}

bool UserIndex::FinishBuild(const BuildJob& job, std::unique_ptr<index::VectorIndex> graph) {
  std::unique_lock lock(mu_);
  building_ = false;
  if (job.generation != generation_) return false;
  // Keys removed while the build ran are still in the new graph: they stay filtered out.
  std::unordered_set<int64_t> dead;
  const std::unordered_set<int64_t> dropped(job.dead.begin(), job.dead.end());
  for (int64_t key : dead_) {
    if (dropped.count(key) == 0) dead.insert(key);
  }
  for (int64_t key : job.keys) {
    if (tail_ && tail_->Contains(key)) tail_->Remove(key);
    else dead.insert(key);
  }
  if (tail_ && tail_->size() == 0) tail_.reset();  // its buffer goes with it
  dead_ = std::move(dead);
  graph_ = std::move(graph);
  return true;
}

bool UserIndex::Current(const BuildJob& job) const {
  std::shared_lock lock(mu_);
  return job.generation == generation_;
}

void UserIndex::CancelBuild() {
  std::unique_lock lock(mu_);
  building_ = false;
}

std::pair<std::string, int64_t> UserIndex::SerializeKeywords() const {
  std::shared_lock lock(mu_);
  return {keywords_.Serialize(), keyword_through_};
}

UserIndexStats UserIndex::stats() const {
  std::shared_lock lock(mu_);
  return {keywords_.size(), graph_ ? graph_->size() : 0, tail_ ? tail_->size() : 0, dead_.size(),
          graph_ ? index::GraphLinks(*graph_) : 0};
}

}  // namespace betterdev::search
