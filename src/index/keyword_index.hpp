// Keyword search in memory: an inverted index over chunks' terms (see Tokenizer) ranked by
// BM25 exactly as SQLite FTS5's bm25() ranks (k1 = 1.2, b = 0.75, idf = ln((N - df + 0.5) /
// (df + 0.5)) floored at 1e-6, a term's frequency weighted by the column it is in, length in
// words over all columns). N, df and the average length count the chunks in this index only:
// one index per user, so one user's documents never shape another user's scores.
//
// FTS5 itself computes bm25() for every row that holds any query word: 74 ms for one NFCorpus
// query at 100k chunks, against well under a millisecond here (docs/benchmarks.md).
// Not thread-safe: the owner serialises calls.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "index/feedback.hpp"
#include "index/fusion.hpp"
#include "index/tokenizer.hpp"

namespace betterdev::index {

struct Bm25Options {
  double k1 = 1.2;
  double b = 0.75;
  double text_weight = 1.0;     // a word in the chunk's text
  double context_weight = 2.0;  // a word in its context (a continued table's header row)
};

class KeywordIndex {
 public:
  explicit KeywordIndex(const Bm25Options& options = {});

  // Adds or replaces `key`.
  void Add(int64_t key, const Terms& text, const Terms& context);
  // Forgets `key` at once. No-op for an unknown key.
  void Remove(int64_t key);
  size_t size() const { return live_; }
  // How many chunks hold `term` (removed ones may count until the next compaction).
  size_t DocumentFrequency(const std::string& term) const;
  // `query` expanded from `seeds` (index/feedback.hpp) with terms held by at most 100 chunks
  // or kExpansionMaxShare of them.
  WeightedQuery Expand(std::span<const std::string> query, std::span<const Terms> seeds,
                       std::span<const double> seed_scores, int expansion_terms = kExpansionTerms,
                       double original_weight = kOriginalQueryWeight) const;
  template <typename Visit>
  void ForEachKey(Visit visit) const {
    for (const auto& [key, slot] : slot_of_) visit(key);
  }

  // The `k` best chunks holding any of `terms`, best first (score = BM25, higher is better).
  std::vector<Ranked> Search(std::span<const std::string> terms, int k) const;
  // The same among `keys` only (unknown keys skipped), with the statistics of those chunks: N,
  // df and the average length count them alone. A search within a few documents weighs a word
  // by how rare it is there: a company's name, rare among all of a user's filings but on every
  // page of that company's, must not pull its boilerplate pages (signatures, exhibit lists) to
  // the top. (Measured on the SEC 10-Q questions: keyword figure recall@3 0.079 -> 0.148.)
  std::vector<Ranked> SearchAmong(std::span<const std::string> terms, int k, std::span<const int64_t> keys) const;
  // Both with each term's BM25 contribution multiplied by its weight (an expanded query, see
  // index/feedback.hpp); `keys` empty means every chunk.
  std::vector<Ranked> SearchWeighted(const WeightedQuery& query, int k, std::span<const int64_t> keys = {}) const;

  // The live chunks, their lengths and postings as bytes (this machine's byte order: a file
  // beside the database, not an exchange format), and back. Deserialize checks every count
  // and slot against the bytes it has and answers nullopt for anything that does not add up.
  std::string Serialize() const;
  static std::optional<KeywordIndex> Deserialize(std::string_view bytes, const Bm25Options& options = {});

 private:
  struct Posting {
    uint32_t slot;
    float weight;  // the term's frequency weighted by column
  };
  // Some chunks and their statistics: which slots, how many live ones, their length in words.
  struct Subset {
    std::vector<bool> slots;
    double live = 0;
    double length = 0;
  };
  std::vector<Ranked> Score(std::span<const std::string> terms, std::span<const double> weights, int k,
                            const Subset* among) const;
  std::optional<Subset> Among(std::span<const int64_t> keys) const;  // nullopt: none known
  void Compact();  // drops removed slots from every posting list

  Bm25Options options_;
  std::unordered_map<std::string, uint32_t> term_ids_;
  std::vector<std::vector<Posting>> postings_;  // by term id, slots ascending
  std::vector<int64_t> key_of_;                 // by slot
  std::vector<uint32_t> length_;                // by slot
  std::vector<bool> alive_;                     // by slot
  std::unordered_map<int64_t, uint32_t> slot_of_;
  size_t live_ = 0;
  double live_length_ = 0;
};

}  // namespace betterdev::index
