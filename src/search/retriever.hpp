// Where search's candidates come from: a keyword leg and a vector leg behind one interface, one
// implementation per backend. The search service (search_service.hpp) validates requests,
// embeds the query, fuses the legs, scopes and checks every hit against the store; a retriever
// only ranks chunk keys.
//
//   LocalRetriever (local_retriever.hpp): per-user indexes in this process (BM25 and HNSW),
//     loaded from and following the store; the embedded default, and any store.
//   StoreRetriever (store_retriever.hpp): both legs inside the database (PostgreSQL full-text
//     search and pgvector), nothing held in this process.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "embed/embedder.hpp"
#include "index/fusion.hpp"
#include "search/user_index.hpp"

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

// Each leg answers at most `depth` chunk keys of request.user_id's chunks (among
// request.document_ids when not empty), best first. A chunk deleted or being reprocessed may
// still be answered: the service checks every hit against the store. Thread-safe.
class Retriever {
 public:
  virtual ~Retriever() = default;
  virtual std::string_view name() const = 0;  // "local", "pgvector"

  // Checks the backend and starts background work (following the store, building indexes).
  virtual Status Preload() = 0;

  // BM25 over the query's words (an empty answer when it has none).
  virtual Result<std::vector<index::Ranked>> Keywords(const Request& request, int depth) = 0;
  // The same with the query expanded by `expansion_terms` words of `first` (the plain keyword
  // leg's best chunks, best first), index/feedback.hpp's ExpandQuery.
  virtual Result<std::vector<index::Ranked>> ExpandedKeywords(const Request& request, int depth,
                                                              std::span<const index::Ranked> first,
                                                              int expansion_terms) = 0;
  // Nearest to `query` (a vector of `model`) by cosine similarity; with `feedback` (the keyword
  // leg's best chunks), the query is first moved toward their vectors (MoveQueryToward).
  // Unavailable when the model changed meanwhile.
  virtual Result<std::vector<index::Ranked>> Vectors(const Request& request, const embed::EmbeddingModel& model,
                                                     std::span<const float> query, int depth,
                                                     std::span<const index::Ranked> feedback) = 0;

  // The document of a key the legs answered, when known without asking the store.
  virtual std::optional<std::string> DocumentOf(const std::string& user_id, int64_t key) = 0;
  // Keys the service found gone from the store, and a document deleted by this process.
  virtual void Forget(const std::string& user_id, std::span<const int64_t> keys) = 0;
  virtual void ForgetDocument(const std::string& user_id, const std::string& document_id) = 0;

  // Saves what is worth saving (at shutdown); waits for queued background work (tests).
  virtual void Flush() = 0;
  virtual void WaitForBackgroundWork() = 0;
  // Users whose indexes are in this process, and one user's figures (zero when not loaded).
  virtual size_t users_in_memory() = 0;
  virtual UserIndexStats stats(const std::string& user_id) = 0;
};

}  // namespace betterdev::search
