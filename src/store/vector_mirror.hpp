// Chunk vectors kept in a vector database outside the store as well (Pinecone): written by the
// workers before a document shows as ready, asked by search's vector leg. The store stays the
// source of truth: it keeps every vector too, and a mirror's hit names its chunk by where it
// sits in one version of its document (ChunkAt: document, job, ordinal), which search turns
// into a chunk key through SearchRepository::KeysOfChunks. So vectors of a deleted document or
// of an older version of a reprocessed one are never answered, even while they linger in the
// mirror (an older version's stay until the document is deleted; a delete the mirror missed
// only costs space and query slots).
//
// Vectors of different models never mix: each carries its model, and queries name it.
// Implementations retry what is worth retrying themselves; an error they answer is final for
// that call (Unavailable: the mirror could not be reached or kept failing; InvalidArgument: it
// refused the request). Thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "store/store.hpp"

namespace betterdev::store {

struct MirroredVector {
  std::string user_id;
  ChunkAt at;
  std::span<const float> vector;  // model.dimension values
};

struct MirrorHit {
  ChunkAt at;
  double score = 0;  // cosine similarity
};

class VectorMirror {
 public:
  virtual ~VectorMirror() = default;
  virtual std::string_view name() const = 0;  // "pinecone"

  // Stores (replacing) these vectors of `model`.
  virtual Status Put(const VectorModel& model, std::span<const MirroredVector> vectors) = 0;
  // At most `limit` of `model`'s vectors of scope.user_id (among scope.document_ids when not
  // empty), nearest to `query` first.
  virtual Result<std::vector<MirrorHit>> Query(const VectorModel& model, const SearchScope& scope,
                                               std::span<const float> query, int limit) = 0;
  // Removes the document's vectors: those of job `only_job` when it is not empty (a job that
  // lost its document: it is never "every job but one", which a late call could turn against
  // a newer version), else all.
  virtual Status DeleteDocument(const std::string& user_id, const std::string& document_id,
                                const std::string& only_job) = 0;
  // Removes the vectors of every model but `model` (a model change is done).
  virtual Status DropModelsExcept(const VectorModel& model) = 0;
  // Unavailable when the mirror cannot be reached.
  virtual Status Ping() = 0;
  // Whether the mirror can hold `model`'s vectors, asked once at start: InvalidArgument naming
  // what does not fit (Pinecone: an index of another dimension, or not compared by cosine);
  // PermissionDenied for a key it refuses; Unavailable when it cannot be reached.
  virtual Status CheckFits(const VectorModel& model) = 0;
};

}  // namespace betterdev::store
