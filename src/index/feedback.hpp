// Pseudo-relevance feedback for hybrid search: both legs learn from the keyword leg's first
// answer before they search for good.
//
// The vector leg (Rocchio): the query vector is
// moved toward the vectors of the keyword leg's best chunks,
//   q' = q + β · Σ_i (s_i / s_1) · v_i / m,  then normalised,
// over the top m keyword hits with BM25 scores s_1 ≥ s_2 ≥ … A weak embedder (the offline
// hashing one knows no synonyms) then finds chunks that resemble what the words found, not only
// what resembles the words. Chosen on NFCorpus's dev split (m 10, β 4, vector weight 1.0 in
// the fusion), reported on its test split in docs/benchmarks.md.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "index/tokenizer.hpp"

namespace betterdev::index {

constexpr int kFeedbackChunks = 10;  // m
constexpr double kFeedbackBeta = 4.0;

// `seeds` holds seed_scores.size() vectors of query.size() floats each, best first.
std::vector<float> MoveQueryToward(std::span<const float> query, std::span<const float> seeds,
                                   std::span<const double> seed_scores, double beta = kFeedbackBeta);

// The keyword leg (RM3, a relevance model): the words the best chunks share become part of the
// query. Each seed chunk i (best first, BM25 score s_i) gives every term t its share
// P(t|i) = count of t in i / terms in i, weighted by s_i / s_1; the `expansion_terms` terms with
// the largest weighted sum, normalised to sum 1, are mixed with the query's own terms (each
// 1 / |query|) as  original_weight · query + (1 - original_weight) · expansion.
// Terms held by more than kExpansionMaxShare of the chunks (and more than 100) are not added:
// they rank little and cost most (the longest posting lists).
constexpr int kExpansionTerms = 10;
constexpr double kOriginalQueryWeight = 0.3;
constexpr double kExpansionMaxShare = 0.02;

struct WeightedQuery {
  std::vector<std::string> terms;
  std::vector<double> weights;  // one per term, > 0
};

// `seeds` and `seed_scores` have the same length. Without seeds (or with a seed score ≤ 0 at
// the top), the query's terms each with weight 1.
// `usable` (when given) rules out terms the expansion may not add.
WeightedQuery ExpandQuery(std::span<const std::string> query, std::span<const Terms> seeds,
                          std::span<const double> seed_scores, int expansion_terms = kExpansionTerms,
                          double original_weight = kOriginalQueryWeight,
                          const std::function<bool(const std::string&)>& usable = {});

}  // namespace betterdev::index
