// Both legs inside the database the store runs on (PostgreSQL: BM25 over full-text words, and
// pgvector's HNSW; store.hpp's SearchRepository::SearchKeywords ... BuildVectorIndex): nothing
// is held in this process, so any number of API processes answer the same, at once, from the
// first chunk committed. Hybrid's expansion and feedback read their seeds from the database.
// Each model's approximate index is built in the background when the retriever first meets the
// model (Preload, or a search); searches meanwhile are exact. Thread-safe.
#pragma once

#include <mutex>
#include <set>
#include <string>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/task_pool.hpp"
#include "search/local_retriever.hpp"
#include "search/retriever.hpp"
#include "store/store.hpp"

namespace betterdev::search {

class StoreRetriever final : public Retriever {
 public:
  StoreRetriever(store::Store& store, const SearchConfig& config, ModelSource model, Logger* log);
  ~StoreRetriever() override = default;

  std::string_view name() const override { return "pgvector"; }
  // Starts building the active model's index when it has none.
  Status Preload() override;
  Result<std::vector<index::Ranked>> Keywords(const Request& request, int depth) override;
  Result<std::vector<index::Ranked>> ExpandedKeywords(const Request& request, int depth,
                                                      std::span<const index::Ranked> first,
                                                      int expansion_terms) override;
  Result<std::vector<index::Ranked>> Vectors(const Request& request, const embed::EmbeddingModel& model,
                                             std::span<const float> query, int depth,
                                             std::span<const index::Ranked> feedback) override;
  std::optional<std::string> DocumentOf(const std::string&, int64_t) override { return std::nullopt; }
  void Forget(const std::string&, std::span<const int64_t>) override {}
  void ForgetDocument(const std::string&, const std::string&) override {}
  void Flush() override {}
  // Waits for the index builds started so far.
  void WaitForBackgroundWork() override;
  size_t users_in_memory() override { return 0; }
  UserIndexStats stats(const std::string&) override { return {}; }

 private:
  void EnsureIndex(const embed::EmbeddingModel& model);

  store::Store& store_;
  SearchConfig config_;
  ModelSource model_;
  Logger* log_;
  std::mutex mu_;
  std::set<std::pair<std::string, int>> indexed_;  // models whose index was asked for; guarded by mu_
  TaskPool background_;                             // index builds, one at a time; last member
};

}  // namespace betterdev::search
