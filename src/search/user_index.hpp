// One user's search indexes in memory: keyword (BM25) and vectors, with the document each
// chunk key belongs to (for scoping and deletes). Independent of every other user's: a search
// takes this user's lock shared; a change (new chunks, a delete, a finished graph build)
// takes it exclusively for the change alone, never for a build or for I/O.
//
// Vectors: those the current graph (HNSW, immutable once published) holds, and a tail of the
// ones added since (scanned exactly). A background build copies the graph, adds the tail and
// swaps the copy in; until then, and while no graph exists yet, searches are exact over the
// tail and complete. Keys removed from a published graph are filtered out of its answers
// until the next build drops them (their slots then take new vectors).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "embed/embedder.hpp"
#include "index/keyword_index.hpp"
#include "index/vector_index.hpp"
#include "search/index_files.hpp"
#include "store/store.hpp"

namespace betterdev::search {

// A chunk's words, tokenized before the lock is taken.
struct PreparedText {
  int64_t key = 0;
  std::string document_id;
  int ordinal = 0;  // 0: the document starts (again): its chunks with lower keys are gone
  index::Terms text;
  index::Terms context;
};

// When a user's vectors get a graph: from `exact_below` vectors (fewer are scanned), with more
// links per node from `dense_from` (index::HnswOptionsFor).
struct BuildLimits {
  int exact_below = 20000;
  size_t dense_from = index::kDenseGraphFrom;
};

// What a background build starts from (UserIndex::StartBuild) and hands back.
struct BuildJob {
  uint64_t generation = 0;  // of the vectors: a model change makes older builds stale
  embed::EmbeddingModel model;
  std::shared_ptr<const index::VectorIndex> base;  // the graph to copy and extend; null: build anew
  std::vector<int64_t> keys;  // the tail when the build started
  std::vector<float> values;
  std::vector<int64_t> dead;  // keys the copy drops
  int64_t through_key = 0;    // every vector key up to this is in the result
};

struct UserIndexStats {
  size_t chunks = 0;
  size_t graph_vectors = 0;
  size_t tail_vectors = 0;
  size_t dead_vectors = 0;
  int graph_links = 0;  // the graph's M (0: no graph)
};

class UserIndex {
 public:
  // Vectors are kept in `encoding` (the tail, and the graphs the service builds).
  UserIndex(std::string user_id, index::VectorEncoding encoding);
  const std::string& user_id() const { return user_id_; }

  // Where the store feed stands for this user; read and written only by the holder of
  // refresh_mutex() (one refresher per user at a time; searches of other users never wait).
  struct Cursor {
    bool started = false;       // saved files looked at, document map filled
    int64_t text_key = 0;       // texts taken up to this key
    embed::EmbeddingModel model;  // whose vectors are in memory
    int64_t vector_key = 0;     // vectors taken up to this key
    int64_t unsaved_texts = 0;  // chunks taken since a keyword save was last posted
    // Read at the start beside the keyword index (on another thread), for the first vector
    // refresh: the saved graph of `preloaded_model` (or why not) and the chunks live then.
    std::optional<Result<SavedGraph>> preloaded;
    embed::EmbeddingModel preloaded_model;
    std::vector<store::ChunkRef> live_at_start;
    int64_t live_through = 0;  // the last chunk key given out when live_at_start was read
  };
  std::mutex& refresh_mutex() { return refresh_mu_; }
  Cursor& cursor() { return cursor_; }

  // Starts from what exists in the store (`live`: every ready chunk with its document) and,
  // when given, a saved keyword index covering keys up to `through_key`, which loses the keys
  // that are no longer live.
  void Start(const std::vector<store::ChunkRef>& live, std::optional<index::KeywordIndex> keywords,
             int64_t through_key);
  void AddTexts(std::vector<PreparedText>& rows);
  // Drops every vector (and the graph) for `model`'s; then `graph` (a saved one, covering keys
  // up to `through_key`) when given, minus the keys not in `live`, a list of every live chunk
  // with a key up to `live_through` (keys above it were given out after the list was read).
  void ResetVectors(const embed::EmbeddingModel& model, std::unique_ptr<index::VectorIndex> graph = nullptr,
                    int64_t through_key = 0, const std::vector<store::ChunkRef>& live = {},
                    int64_t live_through = INT64_MAX);
  // Vectors of the current model: keys[i] with values[i * dimension ...], of documents[i].
  void AddVectors(std::span<const int64_t> keys, std::span<const float> values,
                  std::span<const std::string> documents);
  void ForgetDocument(const std::string& document_id);
  void Forget(std::span<const int64_t> keys);  // chunks found gone from the store

  // Best first, at most `depth`, among the chunks of `documents` (all when empty).
  // The query expanded from seeds (index::KeywordIndex::Expand) against this user's statistics.
  index::WeightedQuery ExpandKeywords(std::span<const std::string> terms, std::span<const index::Terms> seeds,
                                      std::span<const double> seed_scores, int expansion_terms) const;
  std::vector<index::Ranked> SearchKeywords(const index::WeightedQuery& query, int depth,
                                            const std::vector<std::string>& documents) const;
  std::vector<index::Ranked> SearchKeywords(std::span<const std::string> terms, int depth,
                                            const std::vector<std::string>& documents) const;
  // nullopt when the vectors in memory are not of `model` (it changed since the query was
  // embedded).
  std::optional<std::vector<index::Ranked>> SearchVectors(std::span<const float> query, int depth,
                                                          const std::vector<std::string>& documents,
                                                          const embed::EmbeddingModel& model) const;
  // `query` moved toward the vectors of `seeds` (index/feedback.hpp; seeds without a vector are
  // skipped); nullopt when the vectors in memory are not of `model`.
  std::optional<std::vector<float>> FeedbackQuery(std::span<const float> query, std::span<const index::Ranked> seeds,
                                                  const embed::EmbeddingModel& model) const;
  std::optional<std::string> DocumentOf(int64_t key) const;

  // Background builds. StartBuild answers a job when the tail or the removed keys have grown
  // past the policy (see user_index.cpp) and no build is running; FinishBuild swaps the result
  // in (false when the vectors changed model meanwhile); CancelBuild gives up.
  bool WantsBuild(const BuildLimits& limits) const;
  std::optional<BuildJob> StartBuild(const BuildLimits& limits);
  bool FinishBuild(const BuildJob& job, std::unique_ptr<index::VectorIndex> graph);
  void CancelBuild();
  // Whether a job's vectors are still the ones in memory (a model change makes it stale).
  bool Current(const BuildJob& job) const;
  // Set while a build is queued for this user (the scheduler posts one at a time).
  std::atomic<bool>& build_queued() { return build_queued_; }

  // The keyword index as bytes, with the key it covers (for saving).
  std::pair<std::string, int64_t> SerializeKeywords() const;
  UserIndexStats stats() const;
  // Steady-clock milliseconds of the last search (for dropping idle users).
  std::atomic<int64_t>& last_used() { return last_used_; }
  // The text key the last successful keyword save covered; no build before this (after a
  // failed one) in steady-clock milliseconds.
  std::atomic<int64_t>& saved_text_key() { return saved_text_key_; }
  std::atomic<int64_t>& build_not_before() { return build_not_before_; }

 private:
  void RemoveLocked(int64_t key);
  void IndexDocumentLocked(int64_t key, const std::string& document_id);
  void ForgetDocumentBelowLocked(const std::string& document_id, int64_t below);
  bool NeedsBuildLocked(const BuildLimits& limits) const;  // the build policy (user_index.cpp); mu_ held
  std::vector<int64_t> ScopeLocked(const std::vector<std::string>& documents) const;

  const std::string user_id_;
  const index::VectorEncoding encoding_;
  std::mutex refresh_mu_;
  Cursor cursor_;  // guarded by refresh_mu_

  mutable std::shared_mutex mu_;  // guards everything below
  index::KeywordIndex keywords_;
  int64_t keyword_through_ = 0;
  std::unordered_map<int64_t, std::string> document_of_;
  std::unordered_map<std::string, std::vector<int64_t>> keys_of_;
  embed::EmbeddingModel model_;
  uint64_t generation_ = 0;
  std::shared_ptr<const index::VectorIndex> graph_;
  std::unique_ptr<index::VectorIndex> tail_;  // exact; null until the first vector
  std::unordered_set<int64_t> dead_;          // removed keys the graph still holds
  int64_t vector_through_ = 0;                // the largest vector key taken
  bool building_ = false;

  std::atomic<bool> build_queued_{false};
  std::atomic<int64_t> last_used_{0};
  std::atomic<int64_t> saved_text_key_{0};
  std::atomic<int64_t> build_not_before_{0};
};

}  // namespace betterdev::search
