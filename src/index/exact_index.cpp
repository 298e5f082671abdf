#include <algorithm>
#include <queue>
#include <unordered_map>

#include "index/distance.hpp"
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
  explicit ExactIndex(int dimension) : dim_(dimension) {}
  int dimension() const override { return dim_; }
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
      values_.insert(values_.end(), vector.begin(), vector.end());
    } else {
      std::copy(vector.begin(), vector.end(), values_.begin() + static_cast<ptrdiff_t>(it->second * dim_));
    }
    return Status::Ok();
  }

  void Remove(int64_t key) override {
    auto it = slot_.find(key);
    if (it == slot_.end()) return;
    const size_t s = it->second, last = keys_.size() - 1;
    if (s != last) {  // move the last vector into the hole
      std::copy(values_.begin() + static_cast<ptrdiff_t>(last * dim_), values_.end(),
                values_.begin() + static_cast<ptrdiff_t>(s * dim_));
      keys_[s] = keys_[last];
      slot_[keys_[s]] = s;
    }
    keys_.pop_back();
    values_.resize(last * dim_);
    slot_.erase(it);
  }

  std::vector<Ranked> Search(std::span<const float> query, int k,
                             const std::function<bool(int64_t)>& allow) const override {
    if (k <= 0 || query.size() != static_cast<size_t>(dim_)) return {};
    auto worse = [](const Ranked& a, const Ranked& b) { return a.score > b.score; };
    std::priority_queue<Ranked, std::vector<Ranked>, decltype(worse)> best(worse);  // min-heap of the top k
    const DotFn dot_of = Dot();
    for (size_t s = 0; s < keys_.size(); ++s) {
      if (allow && !allow(keys_[s])) continue;
      const float dot = dot_of(values_.data() + s * dim_, query.data(), static_cast<size_t>(dim_));
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
      scored.push_back({key, Dot()(values_.data() + it->second * dim_, query.data(), static_cast<size_t>(dim_))});
    }
    return TopK(std::move(scored), k);
  }

  void ForEach(const std::function<void(int64_t, std::span<const float>)>& visit) const override {
    for (size_t s = 0; s < keys_.size(); ++s) {
      visit(keys_[s], {values_.data() + s * dim_, static_cast<size_t>(dim_)});
    }
  }

 private:
  int dim_;
  std::vector<int64_t> keys_;
  std::vector<float> values_;
  std::unordered_map<int64_t, size_t> slot_;
};

}  // namespace

std::unique_ptr<VectorIndex> NewExactIndex(int dimension) { return std::make_unique<ExactIndex>(dimension); }

}  // namespace betterdev::index
