// Combining ranked lists (keyword and vector legs of hybrid search).
#pragma once

#include <cstdint>
#include <vector>

namespace betterdev::index {

struct Ranked {
  int64_t key = 0;
  double score = 0;  // higher is better
};

// Weighted reciprocal rank fusion: score(key) = sum over lists of weight / (k + rank), rank
// starting at 1; keys missing from a list get nothing from it. Best first; ties keep the order
// of first appearance. `lists` and `weights` have the same length.
std::vector<Ranked> ReciprocalRankFusion(const std::vector<std::vector<Ranked>>& lists,
                                         const std::vector<double>& weights, double k = 60.0);

// Weighted sum of scores min-max normalised per list: within each list the best score becomes 1
// and the worst 0 (all 1 when they are equal); a key missing from a list gets 0 from it. Best
// first; ties keep the order of first appearance.
std::vector<Ranked> NormalizedScoreFusion(const std::vector<std::vector<Ranked>>& lists,
                                          const std::vector<double>& weights);

// The `k` best of `ranked` (by score, ties by first appearance), best first.
std::vector<Ranked> TopK(std::vector<Ranked> ranked, int k);

}  // namespace betterdev::index
