#include "index/fusion.hpp"

#include <algorithm>
#include <cstddef>
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

std::vector<Ranked> NormalizedScoreFusion(const std::vector<std::vector<Ranked>>& lists,
                                          const std::vector<double>& weights) {
  std::unordered_map<int64_t, size_t> at;
  std::vector<Ranked> fused;
  for (size_t l = 0; l < lists.size(); ++l) {
    if (lists[l].empty()) continue;
    const double w = l < weights.size() ? weights[l] : 1.0;
    double lo = lists[l][0].score, hi = lo;
    for (const Ranked& r : lists[l]) lo = std::min(lo, r.score), hi = std::max(hi, r.score);
    for (const Ranked& r : lists[l]) {
      auto [it, fresh] = at.try_emplace(r.key, fused.size());
      if (fresh) fused.push_back({r.key, 0});
      fused[it->second].score += w * (hi > lo ? (r.score - lo) / (hi - lo) : 1.0);
    }
  }
  std::stable_sort(fused.begin(), fused.end(), [](const Ranked& a, const Ranked& b) { return a.score > b.score; });
  return fused;
}

std::vector<Ranked> TopK(std::vector<Ranked> ranked, int k) {
  const auto want = static_cast<size_t>(std::max(k, 0));
  if (ranked.size() <= want) {
    std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) { return a.score > b.score; });
    return ranked;
  }
  // O(n log k): a partial sort of positions, ties broken by position (as a stable sort would).
  std::vector<size_t> order(ranked.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(want), order.end(), [&](size_t a, size_t b) {
    return ranked[a].score > ranked[b].score || (ranked[a].score == ranked[b].score && a < b);
  });
  std::vector<Ranked> out(want);
  for (size_t i = 0; i < want; ++i) out[i] = ranked[order[i]];
  return out;
}

}  // namespace betterdev::index
