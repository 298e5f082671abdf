// A user's search indexes saved beside the database, so that a restart is warm: the keyword
// index (index::KeywordIndex::Serialize) and the HNSW graph (hnswlib's format), each with what
// it covers (chunk keys up to `through_key`; the graph also its embedding model and vector
// encoding). A file is
// trusted only when its checksum (CRC-32 of every byte, recorded when it was written) matches:
// a missing file (or a graph of another model) is NotFound, a truncated or corrupt one
// Internal; either way the caller rebuilds from the store, never serving it. Files are written under a temporary name and renamed, so a crash
// leaves the old file or the new one. Thread-safe (no state beside the directory).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/status.hpp"
#include "embed/embedder.hpp"
#include "index/keyword_index.hpp"
#include "index/vector_index.hpp"

namespace betterdev::search {

struct SavedKeywords {
  index::KeywordIndex index;
  int64_t through_key = 0;
};

struct SavedGraph {
  std::unique_ptr<index::VectorIndex> graph;
  int64_t through_key = 0;
};

class IndexFiles {
 public:
  // `dir` is created when first written; empty: nothing is saved or loaded.
  explicit IndexFiles(std::string dir);
  bool enabled() const { return !dir_.empty(); }

  // `serialized`: index::KeywordIndex::Serialize's bytes.
  Status SaveKeywords(const std::string& user_id, std::string_view serialized, int64_t through_key) const;
  Result<SavedKeywords> LoadKeywords(const std::string& user_id) const;
  Status SaveGraph(const std::string& user_id, const index::VectorIndex& graph, const embed::EmbeddingModel& model,
                   int64_t through_key) const;
  // NotFound also when the saved graph is of another model or encoding (options.encoding), or
  // of an older format.
  Result<SavedGraph> LoadGraph(const std::string& user_id, const embed::EmbeddingModel& model,
                               const index::HnswOptions& options) const;
  // A copy of `graph` (through a temporary file): the base a background build adds to while
  // searches go on over the original.
  Result<std::unique_ptr<index::VectorIndex>> Copy(const std::string& user_id, const index::VectorIndex& graph,
                                                   const index::HnswOptions& options) const;
  // The path a user's file of this kind ("kw", "hnsw", "hnsw.meta") has.
  std::string PathOf(const std::string& user_id, const std::string& kind) const;
  // Removes temporary files a crash left behind (at start).
  void RemoveLeftovers() const;

 private:
  std::string dir_;
};

}  // namespace betterdev::search
