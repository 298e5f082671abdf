#include "search/store_retriever.hpp"

#include <algorithm>
#include <future>
#include <unordered_map>

#include "index/feedback.hpp"
#include "search/moved_query.hpp"

namespace betterdev::search {
namespace {

std::vector<index::Ranked> Ranked(const std::vector<store::ScoredChunk>& hits) {
  std::vector<index::Ranked> out;
  out.reserve(hits.size());
  for (const store::ScoredChunk& h : hits) out.push_back({h.chunk_key, h.score});
  return out;
}

store::SearchScope ScopeOf(const Request& request) { return {request.user_id, request.document_ids}; }

std::vector<int64_t> KeysOf(std::span<const index::Ranked> ranked) {
  std::vector<int64_t> keys;
  for (const index::Ranked& r : ranked) keys.push_back(r.key);
  return keys;
}

}  // namespace

StoreRetriever::StoreRetriever(store::Store& store, const SearchConfig& config, ModelSource model, Logger* log)
    : store_(store), config_(config), model_(std::move(model)), log_(log), background_(1) {}

Status StoreRetriever::Preload() {
  Result<embed::EmbeddingModel> model = model_();
  if (model.ok()) EnsureIndex(*model);
  return Status::Ok();
}

void StoreRetriever::EnsureIndex(const embed::EmbeddingModel& model) {
  {
    std::lock_guard lock(mu_);
    if (!indexed_.insert({model.id, model.dimension}).second) return;
  }
  background_.Post([this, model] {
    if (log_ != nullptr) log_->Info("search: building the vector index", {{"model", model.id}});
    if (Status s = store_.search().BuildVectorIndex({model.id, model.dimension}); !s.ok()) {
      if (log_ != nullptr) log_->Warn("search: cannot build the vector index", {{"model", model.id}, {"detail", s.message()}});
      std::lock_guard lock(mu_);
      indexed_.erase({model.id, model.dimension});  // asked again at the next search
    }
  });
}

void StoreRetriever::WaitForBackgroundWork() {
  std::promise<void> done;
  background_.Post([&done] { done.set_value(); });
  done.get_future().wait();
}

Result<std::vector<index::Ranked>> StoreRetriever::Keywords(const Request& request, int depth) {
  Result<std::vector<std::string>> words = store_.search().QueryWords(request.query);
  if (!words.ok()) return words.status();
  Result<std::vector<store::ScoredChunk>> hits = store_.search().SearchKeywords(ScopeOf(request), *words, {}, depth);
  if (!hits.ok()) return hits.status();
  return Ranked(*hits);
}

Result<std::vector<index::Ranked>> StoreRetriever::ExpandedKeywords(const Request& request, int depth,
                                                                    std::span<const index::Ranked> first,
                                                                    int expansion_terms) {
  Result<std::vector<std::string>> words = store_.search().QueryWords(request.query);
  if (!words.ok()) return words.status();
  auto indexed = store_.search().IndexedWords(KeysOf(first));
  if (!indexed.ok()) return indexed.status();
  std::unordered_map<int64_t, std::vector<std::string>*> words_of;
  for (auto& [key, w] : *indexed) words_of[key] = &w;
  std::vector<index::Terms> seeds;
  std::vector<double> scores;
  for (const index::Ranked& r : first) {  // best first
    auto it = words_of.find(r.key);
    if (it == words_of.end()) continue;  // gone meanwhile
    seeds.push_back({*it->second, it->second->size()});
    scores.push_back(r.score);
  }
  // As the in-process index expands: words held by more than kExpansionMaxShare of the user's
  // chunks (and more than 100) are not added. Their frequencies are asked for the few best
  // candidates only (four times as many as can be added).
  const index::WeightedQuery candidates = index::ExpandQuery(*words, seeds, scores, expansion_terms * 4);
  std::vector<std::string> asked;
  for (const std::string& t : candidates.terms) {
    if (std::find(words->begin(), words->end(), t) == words->end()) asked.push_back(t);
  }
  constexpr int64_t kAlwaysAllowed = 100;  // chunks a word may be in whatever the share
  auto frequencies = store_.search().WordFrequencies(request.user_id, asked, kAlwaysAllowed, index::kExpansionMaxShare);
  if (!frequencies.ok()) return frequencies.status();
  const double most = std::max(static_cast<double>(kAlwaysAllowed),
                               index::kExpansionMaxShare * static_cast<double>(frequencies->second));
  std::unordered_map<std::string, int64_t> df;
  for (size_t i = 0; i < asked.size() && i < frequencies->first.size(); ++i) df[asked[i]] = frequencies->first[i];
  const index::WeightedQuery query =
      index::ExpandQuery(*words, seeds, scores, expansion_terms, index::kOriginalQueryWeight, [&](const std::string& t) {
        auto it = df.find(t);
        return it != df.end() && static_cast<double>(it->second) <= most;
      });
  Result<std::vector<store::ScoredChunk>> hits =
      store_.search().SearchKeywords(ScopeOf(request), query.terms, query.weights, depth);
  if (!hits.ok()) return hits.status();
  return Ranked(*hits);
}

Result<std::vector<index::Ranked>> StoreRetriever::Vectors(const Request& request, const embed::EmbeddingModel& model,
                                                           std::span<const float> query, int depth,
                                                           std::span<const index::Ranked> feedback) {
  EnsureIndex(model);
  Result<std::vector<float>> moved = MovedQuery(store_.search(), {model.id, model.dimension}, query, feedback);
  if (!moved.ok()) return moved.status();
  Result<std::vector<store::ScoredChunk>> hits = store_.search().SearchVectors(
      {model.id, model.dimension}, ScopeOf(request), *moved, depth, config_.ef_search, config_.exact_below);
  if (!hits.ok()) return hits.status();
  return Ranked(*hits);
}

}  // namespace betterdev::search
