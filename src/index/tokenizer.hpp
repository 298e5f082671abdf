// The words of a text as keyword search sees them: SQLite FTS5's `porter unicode61
// remove_diacritics 2` tokenizer (Unicode letters and digits, lower-cased, diacritics folded,
// Porter-stemmed), used from SQLite's library through its fts5_api rather than rewritten.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.hpp"

namespace betterdev::index {

// The terms of one text: stemmed words other than stopwords, and how many words it has in all
// (stopwords included; BM25 normalises by it).
struct Terms {
  std::vector<std::string> terms;
  size_t length = 0;
};

class Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> Open();
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Every word of `text` counts towards length; English stopwords (IsEnglishStopword, checked
  // on the folded word before stemming) are left out of terms. Thread-safe.
  Terms Document(std::string_view text) const;
  // A query's distinct terms, stopwords out, at most 64; operators and quotes mean nothing.
  std::vector<std::string> Query(std::string_view text) const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  void Words(std::string_view text, std::vector<std::string>& words) const;  // mu_ held
  const std::string& Stem(const std::string& word) const;                    // mu_ held

  std::unique_ptr<Impl> impl_;
  mutable std::mutex mu_;  // SQLite's tokenizer objects keep per-call buffers
  mutable std::unordered_map<std::string, std::string> stems_;  // word -> stem, bounded
};

}  // namespace betterdev::index
