#include "index/feedback.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <utility>

namespace betterdev::index {

std::vector<float> MoveQueryToward(std::span<const float> query, std::span<const float> seeds,
                                   std::span<const double> seed_scores, double beta) {
  std::vector<float> q(query.begin(), query.end());
  const size_t dim = q.size(), m = seed_scores.size();
  if (m == 0 || dim == 0 || seeds.size() != m * dim || !(seed_scores[0] > 0)) return q;
  for (size_t i = 0; i < m; ++i) {
    const auto w = static_cast<float>(beta * std::max(0.0, seed_scores[i] / seed_scores[0]) / static_cast<double>(m));
    for (size_t d = 0; d < dim; ++d) q[d] += w * seeds[i * dim + d];
  }
  double norm = 0;
  for (float x : q) norm += static_cast<double>(x) * x;
  if (norm > 0) {
    const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& x : q) x *= scale;
  }
  return q;
}

WeightedQuery ExpandQuery(std::span<const std::string> query, std::span<const Terms> seeds,
                          std::span<const double> seed_scores, int expansion_terms, double original_weight,
                          const std::function<bool(const std::string&)>& usable) {
  WeightedQuery out;
  if (seeds.empty() || seeds.size() != seed_scores.size() || !(seed_scores[0] > 0) || expansion_terms <= 0) {
    out.terms.assign(query.begin(), query.end());
    out.weights.assign(query.size(), 1.0);
    return out;
  }
  std::unordered_map<std::string, double> relevance;
  for (size_t i = 0; i < seeds.size(); ++i) {
    if (seeds[i].terms.empty()) continue;
    const double w = std::max(0.0, seed_scores[i] / seed_scores[0]) / static_cast<double>(seeds[i].terms.size());
    for (const std::string& t : seeds[i].terms) relevance[t] += w;
  }
  // Largest first; ties by term so that the same seeds always give the same query. Only the
  // best are asked whether they are usable (a lookup each), until enough are.
  std::vector<std::pair<const std::string*, double>> ranked;
  ranked.reserve(relevance.size());
  for (const auto& [t, w] : relevance) ranked.emplace_back(&t, w);
  std::sort(ranked.begin(), ranked.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : *a.first < *b.first; });
  std::vector<std::pair<std::string, double>> best;
  for (const auto& [t, w] : ranked) {
    if (best.size() == static_cast<size_t>(expansion_terms)) break;
    if (!usable || usable(*t)) best.emplace_back(*t, w);
  }
  double total = 0;
  for (const auto& [t, w] : best) total += w;
  std::unordered_map<std::string, double> weight;
  std::vector<std::string> order;
  auto add = [&](const std::string& t, double w) {
    auto [it, fresh] = weight.try_emplace(t, 0.0);
    if (fresh) order.push_back(t);
    it->second += w;
  };
  for (const std::string& t : query) add(t, original_weight / static_cast<double>(query.size()));
  if (total > 0) {
    for (const auto& [t, w] : best) add(t, (1 - original_weight) * w / total);
  }
  for (const std::string& t : order) {
    if (weight[t] <= 0) continue;
    out.terms.push_back(t);
    out.weights.push_back(weight[t]);
  }
  return out;
}

}  // namespace betterdev::index
