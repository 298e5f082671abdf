#include "search/rescore.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_map>

namespace betterdev::search {
namespace {

// Words within this many words of one another count as together (a table row, a clause).
constexpr size_t kWindow = 32;

// A chunk whose terms are a third figures or more counts as all figures (a table's rows).
constexpr double kFigureShareForAll = 1.0 / 3;

// Words of a question that asks for an amount (stemmed by the tokenizer). Words common in other
// questions ("loss" of weight, "value", "number", "balance") are left out: NFCorpus lost by them.
constexpr std::string_view kAmountWords =
    "much many amount total revenue revenues sales income margin rate percentage percent proportion cash "
    "expenditure spending spent expenses cost costs price figure figures earnings debt dividend "
    "inventory inventories profit";

// Bytes of a word: ASCII letters and digits, and any byte of a multi-byte UTF-8 character.
bool IsWordByte(char c) { return std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80; }

}  // namespace

Rescorer::Rescorer(std::shared_ptr<const index::Tokenizer> tokenizer) : tokenizer_(std::move(tokenizer)) {
  for (std::string& t : tokenizer_->Document(kAmountWords).terms) amount_.insert(std::move(t));
}

bool Rescorer::AsksForAmount(std::string_view query) const { return AnyAmountWord(tokenizer_->Query(query)); }

bool Rescorer::AnyAmountWord(const std::vector<std::string>& words) const {
  return std::any_of(words.begin(), words.end(), [&](const std::string& t) { return amount_.count(t) != 0; });
}

std::vector<double> Rescorer::Scores(std::string_view query, std::span<const RescoreCandidate> candidates,
                                     const RescoreWeights& weights) const {
  std::vector<double> out(candidates.size(), 0);
  double best = 0;
  for (const RescoreCandidate& c : candidates) best = std::max(best, c.score);
  for (size_t i = 0; i < candidates.size(); ++i) out[i] = best > 0 ? candidates[i].score / best : 0;
  const std::vector<std::string> words = tokenizer_->Query(query);
  if (words.empty() || candidates.empty() || (weights.proximity <= 0 && weights.figures <= 0)) return out;
  std::unordered_map<std::string, size_t> slot;
  for (size_t q = 0; q < words.size(); ++q) slot.emplace(words[q], q);

  // Each candidate's matches (position among its words, which query word) and share of figures.
  // Words are read quickly (runs of ASCII letters and digits, and of other bytes: UTF-8);
  // only a word that may stem to a query word goes through the tokenizer, once per distinct word
  // in this call: one that is not ASCII, or starts with a query word's stem but its last letter
  // (Porter changes only a word's end, at most its last kept letter: "filing" -> "file",
  // "inventory" -> "inventori", "days" -> "dai"). Stopwords count as positions here.
  std::vector<std::string> prefixes;
  for (const std::string& w : words) prefixes.push_back(w.size() > 1 ? w.substr(0, w.size() - 1) : w);
  auto may_match = [&](const std::string& word) {
    for (const std::string& p : prefixes)
      if (word.compare(0, p.size(), p) == 0) return true;
    return false;
  };
  std::unordered_map<std::string, std::vector<size_t>> slots_of;  // word -> the query words it holds
  auto slots = [&](const std::string& word) -> const std::vector<size_t>& {
    auto [it, fresh] = slots_of.try_emplace(word);
    if (fresh) {
      for (const std::string& t : tokenizer_->Document(word).terms) {
        auto w = slot.find(t);
        if (w != slot.end()) it->second.push_back(w->second);
      }
    }
    return it->second;
  };
  std::vector<std::vector<std::pair<size_t, size_t>>> matches(candidates.size());
  std::vector<double> figure_share(candidates.size(), 0);
  std::vector<size_t> df(words.size(), 0);
  std::vector<bool> any(words.size());
  std::string word;
  for (size_t i = 0; i < candidates.size(); ++i) {
    std::fill(any.begin(), any.end(), false);
    const std::string_view text = candidates[i].text;
    size_t position = 0, figures = 0;
    for (size_t at = 0; at < text.size();) {
      if (!IsWordByte(text[at])) {
        ++at;
        continue;
      }
      word.clear();
      bool ascii = true;
      for (; at < text.size() && IsWordByte(text[at]); ++at) {
        const unsigned char c = static_cast<unsigned char>(text[at]);
        ascii = ascii && c < 0x80;
        word.push_back(static_cast<char>(std::tolower(c)));
      }
      const size_t p = position++;
      if (std::isdigit(static_cast<unsigned char>(word[0]))) {
        ++figures;
        continue;
      }
      if (ascii && !may_match(word)) continue;
      for (size_t q : slots(word)) {
        matches[i].emplace_back(p, q);
        any[q] = true;
      }
    }
    figure_share[i] = position == 0 ? 0 : static_cast<double>(figures) / static_cast<double>(position);
    for (size_t q = 0; q < words.size(); ++q) df[q] += any[q] ? 1 : 0;
  }
  // A word's weight: its rarity among the candidates (BM25's idf); a word none of them holds
  // weighs nothing, so proximity is a share of what could be found.
  const double n = static_cast<double>(candidates.size());
  std::vector<double> idf(words.size(), 0);
  double all = 0;
  for (size_t q = 0; q < words.size(); ++q) {
    if (df[q] == 0) continue;
    const double d = static_cast<double>(df[q]);
    idf[q] = std::log(1 + (n - d + 0.5) / (d + 0.5));
    all += idf[q];
  }
  const bool amount = weights.figures > 0 && AnyAmountWord(words);
  std::vector<size_t> count(words.size(), 0);
  for (size_t i = 0; i < candidates.size(); ++i) {
    // The best window: two pointers over the matches, each window shorter than kWindow terms.
    double window = 0, best_window = 0;
    std::fill(count.begin(), count.end(), 0);
    const std::vector<std::pair<size_t, size_t>>& m = matches[i];
    for (size_t lo = 0, hi = 0; hi < m.size(); ++hi) {
      if (count[m[hi].second]++ == 0) window += idf[m[hi].second];
      while (m[hi].first - m[lo].first >= kWindow) {
        if (--count[m[lo].second] == 0) window -= idf[m[lo].second];
        ++lo;
      }
      best_window = std::max(best_window, window);
    }
    if (all > 0) out[i] += weights.proximity * best_window / all;
    if (amount) out[i] += weights.figures * std::min(1.0, figure_share[i] / kFigureShareForAll);
  }
  return out;
}

}  // namespace betterdev::search
