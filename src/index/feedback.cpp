#include "index/feedback.hpp"

#include <algorithm>
#include <cmath>

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

}  // namespace betterdev::index
