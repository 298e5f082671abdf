// Pseudo-relevance feedback for the vector leg of hybrid search (Rocchio): the query vector is
// moved toward the vectors of the keyword leg's best chunks,
//   q' = q + β · Σ_i (s_i / s_1) · v_i / m,  then normalised,
// over the top m keyword hits with BM25 scores s_1 ≥ s_2 ≥ … A weak embedder (the offline
// hashing one knows no synonyms) then finds chunks that resemble what the words found, not only
// what resembles the words. Chosen on NFCorpus's dev split (m 10, β 4, vector weight 1.0 in
// the fusion), reported on its test split in docs/benchmarks.md.
#pragma once

#include <span>
#include <vector>

namespace betterdev::index {

constexpr int kFeedbackChunks = 10;  // m
constexpr double kFeedbackBeta = 4.0;

// `seeds` holds seed_scores.size() vectors of query.size() floats each, best first.
std::vector<float> MoveQueryToward(std::span<const float> query, std::span<const float> seeds,
                                   std::span<const double> seed_scores, double beta = kFeedbackBeta);

}  // namespace betterdev::index
