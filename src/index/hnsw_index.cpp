// Approximate nearest neighbours with hnswlib (header-only, Debian's libhnswlib-dev 0.6.2),
// inner product on normalised vectors = cosine. hnswlib 0.6 has no search filter, so a filtered
// search asks for more neighbours and filters them, widening until it has `k` or has looked at
// everything (then the caller's exact scan is the better tool, see SearchService).
//
// hnswlib 0.6 never reuses a deleted element's slot (0.7's replace_deleted does); here a new key
// takes a deleted slot first: its label is changed, its vector replaced and its links repaired
// (hnswlib's updatePoint), so an index whose documents come and go keeps its size.
//
// Levels are drawn here, not by hnswlib: its addPoint reads the entry point without its lock
// while an insert that raises the top level writes it. Knowing each new node's level before the
// insert, a batch inserts the nodes that raise the top level alone and runs the rest in parallel
// (hnswlib's own draw is disabled by a zero level multiplier: a level <= 0 passed to addPoint
// means "draw one").
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <filesystem>
#include <atomic>
#include <cstdlib>
#include <cmath>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>

#include "index/distance.hpp"
#include "index/vector_index.hpp"

namespace betterdev::index {
namespace {

// Inner-product distance (1 - a·b) of vectors as the codec stores them, with the kernel
// index/distance.hpp chose for this CPU (instead of the one hnswlib's InnerProductSpace fixes
// when it is compiled: SSE in the portable build). Only hnswlib's templates for this one type
// are instantiated.
class CodecSpace final : public hnswlib::SpaceInterface<float> {
 public:
  explicit CodecSpace(const VectorCodec& codec) : codec_(codec) {}
  size_t get_data_size() override { return codec_.bytes(); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return codec_.Distance(); }
  void* get_dist_func_param() override { return const_cast<void*>(codec_.DistanceParam()); }

 private:
  const VectorCodec& codec_;
};

class HnswIndex final : public VectorIndex {
 public:
  HnswIndex(int dimension, const HnswOptions& o)
      : dim_(dimension), codec_(o.encoding, static_cast<size_t>(dimension)), space_(codec_),
        hnsw_(&space_, o.initial_capacity, static_cast<size_t>(o.m), static_cast<size_t>(o.ef_construction)) {
    hnsw_.setEf(static_cast<size_t>(o.ef_search > 0 ? o.ef_search : EfSearchFor(o.m)));
    TakeOverLevels();
  }
  int links() const { return static_cast<int>(hnsw_.M_); }
  int dimension() const override { return dim_; }
  VectorEncoding encoding() const override { return codec_.encoding(); }
  size_t size() const override { return live_.size(); }
  bool Contains(int64_t key) const override { return live_.count(key) != 0; }

  Status Add(int64_t key, std::span<const float> vector) override {
    if (vector.size() != static_cast<size_t>(dim_)) {
      return Status::InvalidArgument("vector has " + std::to_string(vector.size()) + " dimensions; the index has " +
                                     std::to_string(dim_));
    }
    std::vector<std::byte> stored(codec_.bytes());
    codec_.Encode(vector.data(), stored.data());
    if (!Reuse(key, stored.data())) {
      if (hnsw_.cur_element_count >= hnsw_.max_elements_) hnsw_.resizeIndex(hnsw_.max_elements_ * 2);
      // replaces (and revives) a known key, keeping its level
      hnsw_.addPoint(stored.data(), static_cast<hnswlib::labeltype>(key), DrawLevel());
    }
    live_.insert(key);
    return Status::Ok();
  }

  // hnswlib's addPoint is safe to run concurrently for distinct labels once capacity is there,
  // as long as no insert raises the top level meanwhile (see the top of this file).
  Status AddBatch(std::span<const int64_t> keys, std::span<const float> vectors, int threads) override {
    const auto dim = static_cast<size_t>(dim_);
    if (vectors.size() != keys.size() * dim) return Status::InvalidArgument("batch: vectors do not match keys");
    std::vector<std::byte> stored(codec_.bytes());
    size_t first = 0;  // freed slots are taken one by one, the rest in parallel
    while (first < keys.size() && !free_.empty()) {
      codec_.Encode(vectors.data() + first * dim, stored.data());
      if (!Reuse(keys[first], stored.data())) break;
      live_.insert(keys[first++]);
    }
    keys = keys.subspan(first);
    vectors = vectors.subspan(first * dim);
    size_t capacity = std::max<size_t>(hnsw_.max_elements_, 1);
    while (capacity < hnsw_.cur_element_count + keys.size()) capacity *= 2;
    if (capacity != hnsw_.max_elements_) hnsw_.resizeIndex(capacity);
    std::vector<int> levels(keys.size());
    for (int& level : levels) level = DrawLevel();
    std::string failed;  // the first exception's message (hnswlib throws; a thread must not)
    for (size_t begin = 0; begin < keys.size() && failed.empty();) {
      size_t end = begin;  // [begin, end) stay under the top level: in parallel
      while (end < keys.size() && levels[end] <= hnsw_.maxlevel_) ++end;
      failed = Insert(keys, vectors, levels, begin, end, threads);
      if (end < keys.size() && failed.empty()) failed = Insert(keys, vectors, levels, end, end + 1, 1);  // alone
      begin = end + 1;
    }
    if (!failed.empty()) return Status::Internal("vector index: " + failed);
    live_.insert(keys.begin(), keys.end());
    return Status::Ok();
  }

  void Remove(int64_t key) override {
    if (live_.erase(key) == 0) return;
    const auto label = static_cast<hnswlib::labeltype>(key);
    const hnswlib::tableint id = hnsw_.label_lookup_.at(label);
    hnsw_.markDelete(label);
    hnsw_.label_lookup_.erase(label);
    free_.push_back(id);
  }

  size_t free_slots() const { return free_.size(); }

  Status Save(const std::string& path) const {
    try {
      hnsw_.saveIndex(path);
    } catch (const std::exception& e) {
      return Status::Internal("cannot save the vector index to " + path + ": " + e.what());
    }
    return Status::Ok();
  }

  // After hnswlib's loadIndex: the live keys and the freed slots, as Remove leaves them.
  // (A deleted slot may carry the label a live slot took again later: the lookup is rebuilt
  // from the live slots alone, not trusted from loadIndex, where the highest slot wins.)
  void Adopt(int ef_search) {
    hnsw_.setEf(static_cast<size_t>(ef_search > 0 ? ef_search : EfSearchFor(links())));
    TakeOverLevels();
    hnsw_.label_lookup_.clear();
    for (hnswlib::tableint id = 0; id < hnsw_.cur_element_count; ++id) {
      if (hnsw_.isMarkedDeleted(id)) {
        free_.push_back(id);
        continue;
      }
      const hnswlib::labeltype label = hnsw_.getExternalLabel(id);
      hnsw_.label_lookup_[label] = id;
      live_.insert(static_cast<int64_t>(label));
    }
  }

  // hnswlib 0.6's loadIndex allocates afresh without freeing what the constructor allocated
  // (and its loading constructor leaves the deletion count unset): given back first here.
  void LoadFrom(const std::string& path) {
    std::free(hnsw_.data_level0_memory_);
    hnsw_.data_level0_memory_ = nullptr;
    std::free(static_cast<void*>(hnsw_.linkLists_));
    hnsw_.linkLists_ = nullptr;
    delete hnsw_.visited_list_pool_;
    hnsw_.visited_list_pool_ = nullptr;
    hnsw_.num_deleted_ = 0;
    try {
      hnsw_.loadIndex(path, &space_);
    } catch (...) {
      hnsw_.cur_element_count = 0;  // what the destructor walks
      throw;
    }
  }
  const hnswlib::HierarchicalNSW<float>& hnsw() const { return hnsw_; }

  std::vector<Ranked> Search(std::span<const float> query, int k,
                             const std::function<bool(int64_t)>& allow) const override {
    if (k <= 0 || query.size() != static_cast<size_t>(dim_) || live_.empty()) return {};
    const bool rescore = codec_.encoding() != VectorEncoding::kFloat32;
    std::vector<std::byte> encoded(codec_.bytes());
    codec_.Encode(query.data(), encoded.data());
    // Rescored candidates: twice as many, so that the float scores can reorder the edge.
    size_t want = static_cast<size_t>(k) * (rescore ? 2 : 1);
    while (true) {
      const size_t ask = std::min(want, live_.size());
      auto found = hnsw_.searchKnn(encoded.data(), ask);
      std::vector<Ranked> out;
      out.reserve(found.size());
      while (!found.empty()) {  // farthest first
        const auto [distance, label] = found.top();
        found.pop();
        const auto key = static_cast<int64_t>(label);
        if (allow && !allow(key)) continue;
        out.push_back({key, rescore ? codec_.Dot(query.data(), Stored(key)) : 1.0 - static_cast<double>(distance)});
      }
      if (rescore) {
        std::stable_sort(out.begin(), out.end(), [](const Ranked& a, const Ranked& b) { return a.score > b.score; });
      } else {
        std::reverse(out.begin(), out.end());
      }
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
      scored.push_back({key, codec_.Dot(query.data(), Stored(key))});
    }
    return TopK(std::move(scored), k);
  }

  bool Get(int64_t key, std::span<float> out) const override {
    if (live_.count(key) == 0 || out.size() != static_cast<size_t>(dim_)) return false;
    codec_.Decode(Stored(key), out.data());
    return true;
  }

  void ForEach(const std::function<void(int64_t, std::span<const float>)>& visit) const override {
    std::vector<float> vector(static_cast<size_t>(dim_));
    for (int64_t key : live_) {
      codec_.Decode(Stored(key), vector.data());
      visit(key, vector);
    }
  }

 private:
  // hnswlib's level multiplier (1 / ln M) becomes ours; its own draws then always give 0.
  void TakeOverLevels() {
    level_mult_ = 1.0 / std::log(static_cast<double>(hnsw_.M_));
    hnsw_.mult_ = 0.0;
  }

  // A new node's top level, distributed as hnswlib draws it; 0 passed to addPoint stays 0.
  int DrawLevel() {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(levels_);
    return static_cast<int>(-std::log(std::max(u, 1e-300)) * level_mult_);
  }

  // Inserts keys [begin, end) of a batch on up to `threads` threads; the first exception's
  // message, or empty.
  std::string Insert(std::span<const int64_t> keys, std::span<const float> vectors, const std::vector<int>& levels,
                     size_t begin, size_t end, int threads) {
    const auto dim = static_cast<size_t>(dim_);
    std::atomic<size_t> next{begin};
    std::mutex failed_mu;
    std::string failed;
    auto work = [&] {
      try {
        std::vector<std::byte> mine(codec_.bytes());
        for (size_t i = next++; i < end; i = next++) {
          codec_.Encode(vectors.data() + i * dim, mine.data());
          hnsw_.addPoint(mine.data(), static_cast<hnswlib::labeltype>(keys[i]), levels[i]);
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(failed_mu);
        if (failed.empty()) failed = e.what();
        next = end;
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < std::min<int>(threads, static_cast<int>(end - begin)); ++t) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    return failed;
  }

  // The stored vector of a live key (hnswlib keeps a copy of each in its level-0 block).
  const std::byte* Stored(int64_t key) const {
    const auto id = hnsw_.label_lookup_.at(static_cast<hnswlib::labeltype>(key));
    return reinterpret_cast<const std::byte*>(hnsw_.getDataByInternalId(id));
  }

  // Puts a new key (its vector encoded) into a freed slot; false when there is none or the key
  // is known.
  bool Reuse(int64_t key, const std::byte* stored) {
    const auto label = static_cast<hnswlib::labeltype>(key);
    if (free_.empty() || hnsw_.label_lookup_.count(label) != 0) return false;
    const hnswlib::tableint id = free_.back();
    free_.pop_back();
    hnsw_.label_lookup_[label] = id;
    hnsw_.setExternalLabel(id, label);
    hnsw_.unmarkDeletedInternal(id);
    hnsw_.updatePoint(stored, id, 1.0F);
    return true;
  }

  int dim_;
  VectorCodec codec_;
  CodecSpace space_;
  mutable hnswlib::HierarchicalNSW<float> hnsw_;
  std::unordered_set<int64_t> live_;
  std::vector<hnswlib::tableint> free_;  // slots of removed keys, marked deleted in the graph
  std::mt19937_64 levels_{100};           // level draws, seeded as hnswlib seeds its own
  double level_mult_ = 0.0;
};

}  // namespace

std::unique_ptr<VectorIndex> NewHnswIndex(int dimension, const HnswOptions& options) {
  return std::make_unique<HnswIndex>(dimension, options);
}

Status SaveHnswIndex(const VectorIndex& index, const std::string& path) {
  const auto* hnsw = dynamic_cast<const HnswIndex*>(&index);
  if (hnsw == nullptr) return Status::InvalidArgument("not an HNSW index");
  return hnsw->Save(path);
}

Result<std::unique_ptr<VectorIndex>> LoadHnswIndex(const std::string& path, int dimension, const HnswOptions& options) {
  auto index = std::make_unique<HnswIndex>(dimension, options);
  try {
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(path, ec);
    if (ec) return Status::NotFound("no vector index at " + path);
    index->LoadFrom(path);
    // hnswlib takes the vector size from the space it is given, the layout from the file.
    const auto& h = index->hnsw();
    if (h.label_offset_ - h.offsetData_ != VectorCodec(options.encoding, static_cast<size_t>(dimension)).bytes() ||
        bytes == 0) {
      return Status::Internal("the vector index at " + path + " has another dimension or encoding");
    }
  } catch (const std::exception& e) {
    return Status::Internal("cannot load the vector index at " + path + ": " + e.what());
  }
  index->Adopt(options.ef_search);
  return std::unique_ptr<VectorIndex>(std::move(index));
}

size_t FreeSlots(const VectorIndex& index) {
  const auto* hnsw = dynamic_cast<const HnswIndex*>(&index);
  return hnsw == nullptr ? 0 : hnsw->free_slots();
}

int GraphLinks(const VectorIndex& index) {
  const auto* hnsw = dynamic_cast<const HnswIndex*>(&index);
  return hnsw == nullptr ? 0 : hnsw->links();
}

HnswOptions HnswOptionsFor(size_t vectors, size_t dense_from) {
  HnswOptions o;
  o.m = vectors >= dense_from ? 32 : 16;
  return o;
}

int EfSearchFor(int m) { return m >= 32 ? 400 : 160; }

}  // namespace betterdev::index
