// Search over a user's documents (if the embedder fails, vector search answers its error and
// hybrid search answers from the keyword leg alone): keyword (BM25, index/keyword_index.hpp),
// vector (over the chunk vectors the workers stored) and hybrid (both, fused by normalised
// scores).
//
// Both indexes live in this process, with the store as the source of truth: they load every
// ready chunk (and its vector of the configured model) at the first search and then, before
// each search, whatever became ready since (chunk keys only grow). Vectors are those of the
// store's active model; when it changes, the vector indexes are rebuilt from the new vectors. One pair of indexes per
// user, so a query never looks at another user's chunks and one user's words never shape
// another's BM25 statistics. Vectors: an exact scan
// while a user has fewer than SearchConfig::exact_below vectors, HNSW (built on every core)
// above that; a query limited to some documents scans just their vectors either way. Every hit is checked against the store before it is
// returned, so a deleted or reprocessed document's chunks are never returned, even when the
// delete happened in another process; this process's own deletes also drop them at once
// (ForgetDocument). Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.hpp"
#include "core/status.hpp"
#include "embed/embedder.hpp"
#include "index/keyword_index.hpp"
#include "index/tokenizer.hpp"
#include "index/vector_index.hpp"
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
};

struct Hit {
  store::StoredChunk chunk;
  std::string document_name;  // the uploaded file's name
  double score = 0;           // mode-dependent: BM25, cosine, or fused (0..keyword+vector weight)
};

class SearchService {
 public:
  // `embedder` is the configured model's; `other_models` builds one for the store's active
  // model when that is another (search keeps using it until re-embedding is done, see
  // ingest::Reembedder). Without it, vector search is unavailable until the switch.
  SearchService(store::Store& store, embed::Embedder& embedder, const SearchConfig& config,
                embed::EmbedderFactory other_models = {});
  ~SearchService();

  // Best first, at most request.k. InvalidArgument for an empty query or k outside 1..100;
  // NotFound when a document id is not one of the user's.
  Result<std::vector<Hit>> Search(const Request& request);
  // Loads the indexes now rather than at the first search (the API calls it at start, in the
  // background; searches meanwhile wait for it).
  Status Preload();
  // Drops a deleted document's vectors at once.
  void ForgetDocument(const std::string& user_id, const std::string& document_id);
  // The model whose vectors vector search uses now.
  embed::EmbeddingModel model();

 private:
  struct UserIndex;
  Status Refresh();  // takes chunks that became ready since the last call; mu_ held
  Status SyncModel();  // follows the store's active model; mu_ held
  Status RefreshTexts();
  Status RefreshVectors();
  UserIndex& UserOf(const std::string& user_id, const std::string& document_id, int64_t key);
  void ForgetChunksOf(const std::string& user_id, const std::string& document_id);  // mu_ held
  // The chunk keys of the requested documents (empty when no scope was asked); mu_ held.
  static std::vector<int64_t> ScopeKeys(const UserIndex& u, const Request& request);
  Result<std::vector<index::Ranked>> KeywordLeg(const Request& request, int depth);
  Result<std::vector<index::Ranked>> VectorLeg(const Request& request, int depth);
  Result<std::vector<Hit>> Materialize(const Request& request, const std::vector<index::Ranked>& ranked);

  store::Store& store_;
  embed::Embedder& embedder_;
  SearchConfig config_;
  embed::EmbedderFactory other_models_;
  embed::EmbeddingModel loaded_;                    // whose vectors the indexes hold
  std::shared_ptr<embed::Embedder> query_embedder_;  // for loaded_; null when it cannot be built
  Status query_error_;
  Result<std::unique_ptr<index::Tokenizer>> tokenizer_;
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<UserIndex>> users_;
  int64_t last_text_key_ = 0;
  int64_t last_vector_key_ = 0;
  int build_threads_;
};

}  // namespace betterdev::search
