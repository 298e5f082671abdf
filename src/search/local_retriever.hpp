// Search in this process: each user has indexes of their own (search/user_index.hpp), with
// the store as the source of truth: loaded at the user's first search (from files saved
// earlier when they are sound, see search/index_files.hpp, else from the store), then brought
// up to date before each search with that user's chunks that became ready since (chunk keys
// only grow, and commit in order). One user's searches never wait for another user's: no lock
// is shared beyond a map lookup. Vectors are those of the model the service names; when it
// changes, each user's vectors are reloaded at their next search. HNSW graphs are built on a
// background thread (at a lower CPU priority) once a user has SearchConfig::exact_below
// vectors, and extended there as more arrive; until a build is swapped in, the vectors it does
// not yet hold are scanned exactly, so every answer is complete and no request waits on a
// build. Graphs and keyword indexes are saved beside the database; a user idle for
// SearchConfig::idle_seconds leaves memory. Once Preload has run, a follower thread looks for
// new chunks every SearchConfig::follow_ms and brings their owners' indexes up to date
// (loading them when they are not in memory): someone who has just uploaded documents finds
// their indexes ready at their first search (an upload counts as activity for the idle clock).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/task_pool.hpp"
#include "index/tokenizer.hpp"
#include "search/index_files.hpp"
#include "search/retriever.hpp"
#include "store/store.hpp"

namespace betterdev::search {

// The model whose vectors search uses now (the service follows the store's active model).
using ModelSource = std::function<Result<embed::EmbeddingModel>()>;

class LocalRetriever final : public Retriever {
 public:
  LocalRetriever(store::Store& store, const SearchConfig& config, ModelSource model, Logger* log);
  // Stops background work (a build in progress gives up at its next step) and the follower.
  ~LocalRetriever() override;

  std::string_view name() const override { return "local"; }
  // Starts following the store from its current last chunk (each user's indexes load at their
  // first search or upload).
  Status Preload() override;
  Result<std::vector<index::Ranked>> Keywords(const Request& request, int depth) override;
  Result<std::vector<index::Ranked>> ExpandedKeywords(const Request& request, int depth,
                                                      std::span<const index::Ranked> first,
                                                      int expansion_terms) override;
  Result<std::vector<index::Ranked>> Vectors(const Request& request, const embed::EmbeddingModel& model,
                                             std::span<const float> query, int depth,
                                             std::span<const index::Ranked> feedback) override;
  std::optional<std::string> DocumentOf(const std::string& user_id, int64_t key) override;
  void Forget(const std::string& user_id, std::span<const int64_t> keys) override;
  void ForgetDocument(const std::string& user_id, const std::string& document_id) override;
  // Saves the keyword indexes that changed since they were last saved.
  void Flush() override;
  void WaitForBackgroundWork() override;
  size_t users_in_memory() override;
  UserIndexStats stats(const std::string& user_id) override;

 private:
  std::shared_ptr<UserIndex> Acquire(const std::string& user_id);
  std::shared_ptr<UserIndex> Find(const std::string& user_id);  // null when not in memory
  // Brings `u` up to date with the store: texts, and with `vectors` the vectors of `model`.
  Status Refresh(UserIndex& u, const embed::EmbeddingModel* vectors);
  Status Begin(UserIndex& u);
  Status RefreshTexts(UserIndex& u);
  Status RefreshVectors(UserIndex& u, const embed::EmbeddingModel& model);
  void ScheduleBuild(const std::shared_ptr<UserIndex>& u);
  void Build(const std::shared_ptr<UserIndex>& u);
  void ScheduleSave(const std::shared_ptr<UserIndex>& u);
  void SaveKeywords(UserIndex& u);
  Result<SavedKeywords> LoadKeywords(const std::string& user_id);
  // Internal when a saved file covers keys the database has not given out.
  Status CheckCoverage(int64_t through_key);
  void DropIdleUsers();
  // One pass of the follower: the owners of chunks that arrived since the last pass.
  void Follow();
  void FollowLoop();
  void Warn(std::string_view message, const std::string& user_id, const std::string& detail);

  store::Store& store_;
  SearchConfig config_;
  BuildLimits limits_;
  ModelSource model_;
  Logger* log_;
  IndexFiles files_;
  index::VectorEncoding encoding_;
  Result<std::unique_ptr<index::Tokenizer>> tokenizer_;
  int build_threads_;

  std::mutex users_mu_;
  std::unordered_map<std::string, std::shared_ptr<UserIndex>> users_;  // guarded by users_mu_
  int64_t last_sweep_ms_ = 0;                                          // guarded by users_mu_

  std::atomic<bool> stopping_{false};
  int64_t followed_through_ = 0;  // the last chunk key the follower has looked at (its thread's)
  std::mutex follow_mu_;
  std::condition_variable follow_cv_;  // wakes the follower to stop
  std::thread follower_;
  TaskPool background_;  // builds and saves, one at a time, at a lower CPU priority; last member
};

}  // namespace betterdev::search
