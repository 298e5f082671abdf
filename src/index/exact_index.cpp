#include <algorithm>
#include <queue>
#include <unordered_map>

#include "index/vector_index.hpp"

namespace betterdev::index {

Status VectorIndex::AddBatch(std::span<const int64_t> keys, std::span<const float> vectors, int /*threads*/) {
  const auto dim = static_cast<size_t>(dimension());
  if (vectors.size() != keys.size() * dim) return Status::InvalidArgument("batch: vectors do not match keys");
  for (size_t i = 0; i < keys.size(); ++i) {
    if (Status s = Add(keys[i], vectors.subspan(i * dim, dim)); !s.ok()) return s;
  }
  return Status::Ok();
}

namespace {

class ExactIndex final : public VectorIndex {
 public:
  ExactIndex(int dimension, VectorEncoding encoding)
      : dim_(dimension), codec_(encoding, static_cast<size_t>(dimension)), bytes_(codec_.bytes()) {}
  int dimension() const override { return dim_; }
  VectorEncoding encoding() const override { return codec_.encoding(); }
  size_t size() const override { return keys_.size(); }
  bool Contains(int64_t key) const override { return slot_.count(key) != 0; }

  Status Add(int64_t key, std::span<const float> vector) override {
    if (vector.size() != static_cast<size_t>(dim_)) {
      return Status::InvalidArgument("vector has " + std::to_string(vector.size()) + " dimensions; the index has " +
                                     std::to_string(dim_));
    }
    auto [it, fresh] = slot_.try_emplace(key, keys_.size());
    if (fresh) {
      keys_.push_back(key);
      values_.resize(values_.size() + bytes_);
    }
    codec_.Encode(vector.data(), At(it->second));
    return Status::Ok();
  }

  void Remove(int64_t key) override {
    auto it = slot_.find(key);
    if (it == slot_.end()) return;
    const size_t s = it->second, last = keys_.size() - 1;
    if (s != last) {  // move the last vector into the hole
      std::copy_n(At(last), bytes_, At(s));
      keys_[s] = keys_[last];
      slot_[keys_[s]] = s;
    }
    keys_.pop_back();
    values_.resize(last * bytes_);
    slot_.erase(it);
  }

  std::vector<Ranked> Search(std::span<const float> query, int k,
                             const std::function<bool(int64_t)>& allow) const override {
    if (k <= 0 || query.size() != static_cast<size_t>(dim_)) return {};
    auto worse = [](const Ranked& a, const Ranked& b) { return a.score > b.score; };
    std::priority_queue<Ranked, std::vector<Ranked>, decltype(worse)> best(worse);  // min-heap of the top k
    for (size_t s = 0; s < keys_.size(); ++s) {
      if (allow && !allow(keys_[s])) continue;
      const float dot = codec_.Dot(query.data(), At(s));
      if (best.size() < static_cast<size_t>(k)) {
        best.push({keys_[s], dot});
      } else if (dot > best.top().score) {
        best.pop();
        best.push({keys_[s], dot});
      }
    }
    std::vector<Ranked> out(best.size());
    for (size_t i = out.size(); i > 0; --i) {
      out[i - 1] = best.top();
      best.pop();
    }
    return out;
  }

  std::vector<Ranked> SearchAmong(std::span<const float> query, int k, std::span<const int64_t> keys) const override {
    std::vector<Ranked> scored;
    if (k <= 0 || query.size() != static_cast<size_t>(dim_)) return scored;
    for (int64_t key : keys) {
      auto it = slot_.find(key);
      if (it == slot_.end()) continue;
      scored.push_back({key, codec_.Dot(query.data(), At(it->second))});
    }
    return TopK(std::move(scored), k);
  }

  bool Get(int64_t key, std::span<float> out) const override {
    auto it = slot_.find(key);
    if (it == slot_.end() || out.size() != static_cast<size_t>(dim_)) return false;
    codec_.Decode(At(it->second), out.data());
    return true;
  }

  void ForEach(const std::function<void(int64_t, std::span<const float>)>& visit) const override {
    std::vector<float> vector(static_cast<size_t>(dim_));
    for (size_t s = 0; s < keys_.size(); ++s) {
      codec_.Decode(At(s), vector.data());
      visit(keys_[s], vector);
    }
  }

 private:
  std::byte* At(size_t slot) { return values_.data() + slot * bytes_; }
  const std::byte* At(size_t slot) const { return values_.data() + slot * bytes_; }

  int dim_;
  VectorCodec codec_;
  size_t bytes_;
  std::vector<int64_t> keys_;
  std::vector<std::byte> values_;  // bytes_ per slot
  std::unordered_map<int64_t, size_t> slot_;
};

}  // namespace

std::unique_ptr<VectorIndex> NewExactIndex(int dimension, VectorEncoding encoding) {
  return std::make_unique<ExactIndex>(dimension, encoding);
}

}  // namespace betterdev::index
