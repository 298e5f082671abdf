#include "index/fusion.hpp"

#include <algorithm>
#include <unordered_map>

namespace betterdev::index {

std::vector<Ranked> ReciprocalRankFusion(const std::vector<std::vector<Ranked>>& lists,
                                         const std::vector<double>& weights, double k) {
  std::unordered_map<int64_t, size_t> at;
  std::vector<Ranked> fused;
  for (size_t l = 0; l < lists.size(); ++l) {
    const double w = l < weights.size() ? weights[l] : 1.0;
    for (size_t r = 0; r < lists[l].size(); ++r) {
      const int64_t key = lists[l][r].key;
      auto [it, fresh] = at.try_emplace(key, fused.size());
      if (fresh) fused.push_back({key, 0});
      fused[it->second].score += w / (k + static_cast<double>(r + 1));
    }
  }
  std::stable_sort(fused.begin(), fused.end(), [](const Ranked& a, const Ranked& b) { return a.score > b.score; });
  return fused;
}

}  // namespace betterdev::index
