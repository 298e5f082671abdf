// Nearest-neighbour search over chunk vectors (cosine: vectors are L2-normalised, the score is
// their dot product).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "index/fusion.hpp"
#include "index/vector_codec.hpp"

namespace betterdev::index {

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;
  virtual int dimension() const = 0;
  virtual VectorEncoding encoding() const = 0;
  virtual size_t size() const = 0;
  virtual bool Contains(int64_t key) const = 0;
  // Adds or replaces the vector of `key`. InvalidArgument when its length is not dimension().
  virtual Status Add(int64_t key, std::span<const float> vector) = 0;
  // Adds distinct keys[i] with vectors[i * dimension() ...] for every i, on up to `threads` threads where
  // the index can build in parallel (HNSW); the same as calling Add for each otherwise.
  // InvalidArgument (nothing added) when vectors.size() != keys.size() * dimension().
  virtual Status AddBatch(std::span<const int64_t> keys, std::span<const float> vectors, int threads);
  // Forgets `key` at once: it is never returned again. No-op for an unknown key.
  virtual void Remove(int64_t key) = 0;
  // The `k` keys most similar to `query`, best first, among those `allow` accepts (all when
  // empty).
  virtual std::vector<Ranked> Search(std::span<const float> query, int k,
                                     const std::function<bool(int64_t)>& allow = {}) const = 0;
  // The `k` best of `keys` only (unknown keys skipped): a search narrowed to a few documents,
  // in time proportional to keys.size(), not to size().
  virtual std::vector<Ranked> SearchAmong(std::span<const float> query, int k, std::span<const int64_t> keys) const = 0;
  // The stored vector of `key` (decoded) into `out` (dimension() floats); false when unknown.
  virtual bool Get(int64_t key, std::span<float> out) const = 0;
  // Calls `visit` with every key and its vector as stored (decoded: to build another index
  // from this one; an int8 vector encodes to the same bytes again).
  virtual void ForEach(const std::function<void(int64_t, std::span<const float>)>& visit) const = 0;
};

// Exact search: a scan of every vector. Right for small scopes (one conversation's documents)
// and as the reference the approximate index is measured against.
std::unique_ptr<VectorIndex> NewExactIndex(int dimension, VectorEncoding encoding = VectorEncoding::kFloat32);

struct HnswOptions {
  int m = 16;                // links per node (a saved graph keeps its own)
  int ef_construction = 200;
  int ef_search = 0;         // candidates kept while searching; 0: EfSearchFor(the graph's m)
  size_t initial_capacity = 1024;  // grows by doubling
  VectorEncoding encoding = VectorEncoding::kFloat32;
};

// Graph parameters by size, measured (docs/benchmarks.md, "1M near-random vectors"): M 16 with
// ef_search 160 finds 0.99 of the true 10 nearest at 100k vectors of any kind and 0.985 at 1M
// text-like ones, but 0.67 at 1M near-random ones, where M 32 with ef_search 400 finds 0.976
// within a p99 of 10 ms. Graphs of kDenseGraphFrom vectors or more are built with M 32.
constexpr size_t kDenseGraphFrom = 250000;
HnswOptions HnswOptionsFor(size_t vectors, size_t dense_from = kDenseGraphFrom);
// ef_search for a graph with `m` links per node: 160 below 32, 400 from 32.
int EfSearchFor(int m);

// Approximate search (HNSW, hnswlib). With int8 vectors the graph is walked with the query
// encoded too, and the candidates found are scored again with the float query. Search is not safe to run concurrently with Add/Remove;
// concurrent searches are safe. A removed key's slot is taken by the next new key.
std::unique_ptr<VectorIndex> NewHnswIndex(int dimension, const HnswOptions& options = {});

// Writes an index made by NewHnswIndex or LoadHnswIndex to `path` (hnswlib's format).
// Concurrent searches may go on meanwhile.
Status SaveHnswIndex(const VectorIndex& index, const std::string& path);
// Reads one back. hnswlib trusts what it reads: check the file's integrity before (see
// search/index_files.hpp). Internal when the file cannot be read or has another dimension or
// encoding (options.encoding).
Result<std::unique_ptr<VectorIndex>> LoadHnswIndex(const std::string& path, int dimension,
                                                   const HnswOptions& options = {});
// Slots of removed keys waiting for new ones (0 for other indexes).
size_t FreeSlots(const VectorIndex& index);
// Links per node of an HNSW graph (its M; 0 for other indexes).
int GraphLinks(const VectorIndex& index);

}  // namespace betterdev::index
