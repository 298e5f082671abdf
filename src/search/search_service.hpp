// Search over a user's documents (if the embedder fails, vector search answers its error and
// hybrid search answers from the keyword leg alone): keyword (BM25, index/keyword_index.hpp),
// vector (over the chunk vectors the workers stored) and hybrid (both, fused by normalised
// scores; the vector leg's query moved toward the keyword leg's best chunks first, see
// index/feedback.hpp and SearchConfig::hybrid_feedback).
//
// Each user has indexes of their own (search/user_index.hpp), with the store as the source of
// truth: loaded at the user's first search (from files saved earlier when they are sound, see
// search/index_files.hpp, else from the store), then brought up to date before each search
// with that user's chunks that became ready since (chunk keys only grow). One user's searches
// never wait for another user's: no lock is shared beyond a map lookup. Vectors are those of
// the store's active model; when it changes, each user's vectors are reloaded at their next
// search. HNSW graphs are built on a background thread (at a lower CPU priority) once a user
// has SearchConfig::exact_below vectors, and extended there as more arrive; until a build is
// swapped in, the vectors it does not yet hold are scanned exactly, so every answer is
// complete and no request waits on a build. Graphs and keyword indexes are saved beside the
// database; a user idle for SearchConfig::idle_seconds leaves memory. Once Preload has run, a
// follower thread looks for new chunks every SearchConfig::follow_ms and brings their owners'
// indexes up to date (loading them when they are not in memory): someone who has just
// uploaded documents finds their indexes ready at their first search (an upload counts as
// activity for the idle clock).
//
// Every hit is checked against the store before it is returned, so a deleted or reprocessed
// document's chunks are never returned, even when the delete happened in another process;
// this process's own deletes also drop them at once (ForgetDocument). Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/status.hpp"
#include "core/task_pool.hpp"
#include "embed/embedder.hpp"
#include "index/fusion.hpp"
#include "index/tokenizer.hpp"
#include "search/index_files.hpp"
#include "search/user_index.hpp"
#include "store/store.hpp"

namespace betterdev::search {

enum class Mode { kHybrid, kVector, kKeyword };
std::string_view ModeName(Mode mode);  // "hybrid", "vector", "keyword"

struct Request {
  std::string user_id;
  std::string query;
  std::vector<std::string> document_ids;  // empty: all the user's documents
  int k = 10;
  Mode mode = Mode::kHybrid;
  bool group_by_document = false;  // the best chunk of each document, up to k documents
};

struct Hit {
  store::StoredChunk chunk;
  std::string document_name;  // the uploaded file's name
  double score = 0;           // mode-dependent: BM25, cosine, or fused (0..keyword+vector weight)
};

constexpr int kMaxK = 1000;

class SearchService {
 public:
  // `embedder` is the configured model's; `other_models` builds one for the store's active
  // model when that is another (search keeps using it until re-embedding is done, see
  // ingest::Reembedder). Without it, vector search is unavailable until the switch.
  SearchService(store::Store& store, embed::Embedder& embedder, const SearchConfig& config,
                embed::EmbedderFactory other_models = {}, Logger* log = nullptr);
  // Stops background work (a build in progress gives up at its next step) and the follower.
  ~SearchService();

  // Best first, at most request.k. InvalidArgument for an empty query or k outside
  // 1..kMaxK; NotFound when a document id is not one of the user's.
  Result<std::vector<Hit>> Search(const Request& request);
  // Checks the store and the active model now, and starts following the store from its
  // current last chunk (each user's indexes load at their first search or upload).
  Status Preload();
  // Saves the keyword indexes that changed since they were last saved (at shutdown).
  void Flush();
  // Drops a deleted document's chunks at once.
  void ForgetDocument(const std::string& user_id, const std::string& document_id);
  // The model whose vectors vector search uses now.
  embed::EmbeddingModel model();
  // Waits until no background build or save is queued or running (tests, benchmarks).
  void WaitForBackgroundWork();
  // Users whose indexes are in memory, and one user's figures (zero when not loaded).
  size_t users_in_memory();
  UserIndexStats stats(const std::string& user_id);

 private:
  struct QueryModel {
    embed::EmbeddingModel model;
    std::shared_ptr<embed::Embedder> embedder;  // null when it cannot be built
    Status error;
  };
  Result<QueryModel> SyncModel();  // follows the store's active model
  std::shared_ptr<UserIndex> Acquire(const std::string& user_id);
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
  Result<std::vector<index::Ranked>> KeywordLeg(const std::shared_ptr<UserIndex>& u, const Request& request, int depth);
  // The keyword leg again, its query expanded from `first` (its best chunks, read from the store).
  Result<std::vector<index::Ranked>> ExpandedKeywordLeg(UserIndex& u, const Request& request, int depth,
                                                        std::span<const index::Ranked> first);
  // With `feedback` (the keyword leg's best chunks), the query vector moves toward theirs.
  Result<std::vector<index::Ranked>> VectorLeg(const std::shared_ptr<UserIndex>& u, const Request& request, int depth,
                                               std::span<const index::Ranked> feedback);
  Result<std::vector<Hit>> Materialize(UserIndex& u, const Request& request, const std::vector<index::Ranked>& ranked);
  void Warn(std::string_view message, const std::string& user_id, const std::string& detail);

  store::Store& store_;
  embed::Embedder& embedder_;
  SearchConfig config_;
  BuildLimits limits_;
  embed::EmbedderFactory other_models_;
  Logger* log_;
  IndexFiles files_;
  index::VectorEncoding encoding_;
  Result<std::unique_ptr<index::Tokenizer>> tokenizer_;
  int build_threads_;

  std::mutex model_mu_;
  QueryModel query_model_;  // guarded by model_mu_

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
