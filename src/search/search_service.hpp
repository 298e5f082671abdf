// Search over a user's documents (if the embedder fails, vector search answers its error and
// hybrid search answers from the keyword leg alone): keyword (FTS5 BM25 in the store), vector (in-process index
// over the chunk vectors the workers stored) and hybrid (both, fused by normalised scores).
//
// The vector index lives in this process: it loads every vector of the configured model at
// the first search and then, before each search, whatever became ready since (chunk keys only
// grow). One index per user, so a query never looks at another user's vectors: an exact scan
// while a user has fewer than SearchConfig::exact_below vectors or when the query is limited to
// some documents, HNSW above that. Every hit is checked against the store before it is
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
  SearchService(store::Store& store, embed::Embedder& embedder, const SearchConfig& config);
  ~SearchService();

  // Best first, at most request.k. InvalidArgument for an empty query or k outside 1..100;
  // NotFound when a document id is not one of the user's.
  Result<std::vector<Hit>> Search(const Request& request);
  // Drops a deleted document's vectors at once.
  void ForgetDocument(const std::string& user_id, const std::string& document_id);
  const embed::EmbeddingModel& model() const { return embedder_.model(); }

 private:
  struct UserIndex;
  Status Refresh();  // takes vectors that became ready since the last call; mu_ held
  Result<std::vector<index::Ranked>> VectorLeg(const Request& request, int depth);
  Result<std::vector<Hit>> Materialize(const Request& request, const std::vector<index::Ranked>& ranked);

  store::Store& store_;
  embed::Embedder& embedder_;
  SearchConfig config_;
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<UserIndex>> users_;
  int64_t last_key_ = 0;
};

}  // namespace betterdev::search
