// Search over a user's documents (if the embedder fails, vector search answers its error and
// hybrid search answers from the keyword leg alone): keyword (BM25, index/keyword_index.hpp),
// vector (over the chunk vectors the workers stored) and hybrid (both, fused by normalised
// scores; the vector leg's query moved toward the keyword leg's best chunks first, see
// index/feedback.hpp and SearchConfig::hybrid_feedback).
//
// The legs come from a retriever (search/retriever.hpp): by default this process's own
// per-user indexes (search/local_retriever.hpp), or the database's (search/store_retriever.hpp),
// or a vector database's for the vector leg (search/mirror_retriever.hpp: Pinecone).
// Vectors are those of the store's active model: the query is embedded with it.
//
// Every hit is checked against the store before it is returned, so a deleted or reprocessed
// document's chunks are never returned, even when the delete happened in another process;
// this process's own deletes also drop them at once (ForgetDocument). Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/status.hpp"
#include "embed/embedder.hpp"
#include "index/fusion.hpp"
#include "search/rescore.hpp"
#include "search/retriever.hpp"
#include "store/store.hpp"
#include "store/vector_mirror.hpp"

namespace betterdev::search {

struct Hit {
  store::StoredChunk chunk;
  std::string document_name;  // the uploaded file's name
  double score = 0;           // mode-dependent: BM25, cosine, or hybrid's (search/rescore.hpp)
};

constexpr int kMaxK = 1000;

class SearchService {
 public:
  // `embedder` is the configured model's; `other_models` builds one for the store's active
  // model when that is another (search keeps using it until re-embedding is done, see
  // ingest::Reembedder). Without it, vector search is unavailable until the switch.
  // The retriever: with `mirror` (config.vector_store "pinecone"), vectors are searched there
  // and keywords in the database when the store searches inside, else in this process;
  // without, "pgvector" searches both inside the database (the store must be PostgreSQL's),
  // anything else in this process. `mirror` must outlive the service.
  SearchService(store::Store& store, embed::Embedder& embedder, const SearchConfig& config,
                embed::EmbedderFactory other_models = {}, Logger* log = nullptr,
                store::VectorMirror* mirror = nullptr);
  // Stops the retriever's background work.
  ~SearchService();

  // Best first, at most request.k. InvalidArgument for an empty query or k outside
  // 1..kMaxK; NotFound when a document id is not one of the user's.
  Result<std::vector<Hit>> Search(const Request& request);
  // Checks the store and the active model now, and starts the retriever's background work.
  Status Preload();
  // Saves what the retriever keeps (at shutdown).
  void Flush();
  // Drops a deleted document's chunks at once.
  void ForgetDocument(const std::string& user_id, const std::string& document_id);
  // The model whose vectors vector search uses now.
  embed::EmbeddingModel model();
  // Waits until no background build or save is queued or running (tests, benchmarks).
  void WaitForBackgroundWork();
  std::string_view retriever() const { return retriever_->name(); }
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
  Result<std::vector<index::Ranked>> VectorLeg(const Request& request, int depth,
                                               std::span<const index::Ranked> feedback);
  Result<std::vector<Hit>> Materialize(const Request& request, const std::vector<index::Ranked>& ranked);
  // Hybrid's second stage (search/rescore.hpp): the best config_.rescore_depth of `ranked`
  // scored again with their text, read from the store, and put in their new order.
  Status Rescore(const std::string& query, std::vector<index::Ranked>& ranked) const;

  store::Store& store_;
  embed::Embedder& embedder_;
  SearchConfig config_;
  embed::EmbedderFactory other_models_;

  std::mutex model_mu_;
  QueryModel query_model_;  // guarded by model_mu_

  std::unique_ptr<Rescorer> rescorer_;  // null when rescoring is off

  std::unique_ptr<Retriever> retriever_;  // last: its background work may call SyncModel
};

}  // namespace betterdev::search
