// Approximate nearest neighbours with hnswlib (header-only, Debian's libhnswlib-dev 0.6.2),
// inner product on normalised vectors = cosine. hnswlib 0.6 has no search filter, so a filtered
// search asks for more neighbours and filters them, widening until it has `k` or has looked at
// everything (then the caller's exact scan is the better tool, see SearchService).
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "index/vector_index.hpp"

namespace betterdev::index {
namespace {

class HnswIndex final : public VectorIndex {
 public:
  HnswIndex(int dimension, const HnswOptions& o)
      : dim_(dimension), space_(static_cast<size_t>(dimension)),
        hnsw_(&space_, o.initial_capacity, static_cast<size_t>(o.m), static_cast<size_t>(o.ef_construction)) {
    hnsw_.setEf(static_cast<size_t>(o.ef_search));
  }
  int dimension() const override { return dim_; }
  size_t size() const override { return live_.size(); }

  Status Add(int64_t key, std::span<const float> vector) override {
    if (vector.size() != static_cast<size_t>(dim_)) {
      return Status::InvalidArgument("vector has " + std::to_string(vector.size()) + " dimensions; the index has " +
                                     std::to_string(dim_));
    }
    if (hnsw_.cur_element_count >= hnsw_.max_elements_) hnsw_.resizeIndex(hnsw_.max_elements_ * 2);
    hnsw_.addPoint(vector.data(), static_cast<hnswlib::labeltype>(key));  // replaces (and revives) a known key
    live_.insert(key);
    return Status::Ok();
  }

  // hnswlib's addPoint is safe to run concurrently for distinct labels once capacity is there.
  Status AddBatch(std::span<const int64_t> keys, std::span<const float> vectors, int threads) override {
    const auto dim = static_cast<size_t>(dim_);
    if (vectors.size() != keys.size() * dim) return Status::InvalidArgument("batch: vectors do not match keys");
    size_t capacity = hnsw_.max_elements_;
    while (capacity < hnsw_.cur_element_count + keys.size()) capacity *= 2;
    if (capacity != hnsw_.max_elements_) hnsw_.resizeIndex(capacity);
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i = next++; i < keys.size(); i = next++) {
        hnsw_.addPoint(vectors.data() + i * dim, static_cast<hnswlib::labeltype>(keys[i]));
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < std::min<int>(threads, static_cast<int>(keys.size())); ++t) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    live_.insert(keys.begin(), keys.end());
    return Status::Ok();
  }

  void Remove(int64_t key) override {
    if (live_.erase(key) == 0) return;
    hnsw_.markDelete(static_cast<hnswlib::labeltype>(key));
  }

  std::vector<Ranked> Search(std::span<const float> query, int k,
                             const std::function<bool(int64_t)>& allow) const override {
    if (k <= 0 || query.size() != static_cast<size_t>(dim_) || live_.empty()) return {};
    size_t want = static_cast<size_t>(k);
    while (true) {
      const size_t ask = std::min(want, live_.size());
      auto found = hnsw_.searchKnn(query.data(), ask);
      std::vector<Ranked> out;
      out.reserve(found.size());
      while (!found.empty()) {  // farthest first
        const auto [distance, label] = found.top();
        found.pop();
        const auto key = static_cast<int64_t>(label);
        if (!allow || allow(key)) out.push_back({key, 1.0 - static_cast<double>(distance)});
      }
      std::reverse(out.begin(), out.end());
      if (out.size() >= static_cast<size_t>(k) || ask >= live_.size()) {
        if (out.size() > static_cast<size_t>(k)) out.resize(static_cast<size_t>(k));
        return out;
      }
      want *= 4;
    }
  }

  std::vector<Ranked> SearchAmong(std::span<const float> query, int k, std::span<const int64_t> keys) const override {
    std::vector<Ranked> scored;
    if (k <= 0 || query.size() != static_cast<size_t>(dim_)) return scored;
    for (int64_t key : keys) {
      if (live_.count(key) == 0) continue;
      const float* v = Vector(key);
      float dot = 0;
      for (size_t d = 0; d < query.size(); ++d) dot += v[d] * query[d];
      scored.push_back({key, dot});
    }
    return TopK(std::move(scored), k);
  }

  void ForEach(const std::function<void(int64_t, std::span<const float>)>& visit) const override {
    for (int64_t key : live_) visit(key, {Vector(key), static_cast<size_t>(dim_)});
  }

 private:
  // The stored vector of a live key (hnswlib keeps a copy of each in its level-0 block).
  const float* Vector(int64_t key) const {
    const auto id = hnsw_.label_lookup_.at(static_cast<hnswlib::labeltype>(key));
    return reinterpret_cast<const float*>(hnsw_.getDataByInternalId(id));
  }

  int dim_;
  hnswlib::InnerProductSpace space_;
  mutable hnswlib::HierarchicalNSW<float> hnsw_;
  std::unordered_set<int64_t> live_;
};

}  // namespace

std::unique_ptr<VectorIndex> NewHnswIndex(int dimension, const HnswOptions& options) {
  return std::make_unique<HnswIndex>(dimension, options);
}

}  // namespace betterdev::index
