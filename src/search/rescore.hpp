// The second stage of hybrid search: a closer look at the first stage's best candidates, with
// their text in hand. BM25 and vectors score a chunk as a bag of words; this adds what they miss
// (chosen on the SEC 10-Q questions' development half, docs/benchmarks.md):
//  - proximity: the share of the question's words (weighted by their rarity among the
//    candidates) found together within a few words of one another, as a table row holds a line
//    item's label next to its figures;
//  - figures: how much of the chunk is figures, for a question that asks for an amount ("what
//    was the gross margin"): the statement's table, not the prose that repeats the question's
//    words, holds the answer.
// (Words of the heading path were measured too: nothing on the 10-Qs, less on NFCorpus; BM25
// already weighs them.)
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "index/tokenizer.hpp"

namespace betterdev::search {

struct RescoreWeights {
  double proximity = 0;
  double figures = 0;
};

// One candidate: its first-stage score (higher is better, >= 0) and its text.
struct RescoreCandidate {
  double score = 0;
  std::string_view text;
};

class Rescorer {
 public:
  explicit Rescorer(std::shared_ptr<const index::Tokenizer> tokenizer);

  // New scores, one per candidate: the first-stage score divided by the best of them, plus each
  // feature (0..1) times its weight. Thread-safe.
  std::vector<double> Scores(std::string_view query, std::span<const RescoreCandidate> candidates,
                             const RescoreWeights& weights) const;

  // Whether a question asks for an amount: it holds a word such as "much", "total", "revenue",
  // "margin", "rate", "percentage", "cash", "cost", "expenses" (only then do figures count).
  bool AsksForAmount(std::string_view query) const;

 private:
  bool AnyAmountWord(const std::vector<std::string>& words) const;  // words: the query's terms

  std::shared_ptr<const index::Tokenizer> tokenizer_;
  std::unordered_set<std::string> amount_;  // stems of words that ask for an amount
};

}  // namespace betterdev::search
