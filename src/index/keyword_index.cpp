#include "index/keyword_index.hpp"

#include <algorithm>
#include <cmath>

namespace betterdev::index {

KeywordIndex::KeywordIndex(const Bm25Options& options) : options_(options) {}

void KeywordIndex::Add(int64_t key, const Terms& text, const Terms& context) {
  Remove(key);
  const auto slot = static_cast<uint32_t>(key_of_.size());
  key_of_.push_back(key);
  const size_t length = text.length + context.length;
  length_.push_back(static_cast<uint32_t>(std::min<size_t>(length, UINT32_MAX)));
  alive_.push_back(true);
  slot_of_[key] = slot;
  ++live_;
  live_length_ += static_cast<double>(length);
  std::unordered_map<uint32_t, float> weights;
  auto count = [&](const Terms& t, double weight) {
    for (const std::string& term : t.terms) {
      auto [it, fresh] = term_ids_.try_emplace(term, static_cast<uint32_t>(postings_.size()));
      if (fresh) postings_.emplace_back();
      weights[it->second] += static_cast<float>(weight);
    }
  };
  count(text, options_.text_weight);
  count(context, options_.context_weight);
  for (const auto& [term, weight] : weights) postings_[term].push_back({slot, weight});
}

void KeywordIndex::Remove(int64_t key) {
  auto it = slot_of_.find(key);
  if (it == slot_of_.end()) return;
  alive_[it->second] = false;
  --live_;
  live_length_ -= length_[it->second];
  slot_of_.erase(it);
  if (key_of_.size() >= 1024 && live_ < key_of_.size() / 2) Compact();
}

void KeywordIndex::Compact() {
  std::vector<uint32_t> renumber(key_of_.size(), UINT32_MAX);
  uint32_t next = 0;
  for (size_t s = 0; s < key_of_.size(); ++s) {
    if (!alive_[s]) continue;
    renumber[s] = next;
    key_of_[next] = key_of_[s];
    length_[next] = length_[s];
    slot_of_[key_of_[next]] = next;
    ++next;
  }
  key_of_.resize(next);
  length_.resize(next);
  alive_.assign(next, true);
  for (auto& list : postings_) {
    size_t out = 0;
    for (const Posting& p : list) {
      if (renumber[p.slot] != UINT32_MAX) list[out++] = {renumber[p.slot], p.weight};
    }
    list.resize(out);
    list.shrink_to_fit();
  }
}

std::vector<Ranked> KeywordIndex::Score(std::span<const std::string> terms, int k,
                                        const std::vector<bool>* among) const {
  if (k <= 0 || live_ == 0) return {};
  const double n = static_cast<double>(live_);
  const double average = live_length_ > 0 ? live_length_ / n : 1.0;
  const double k1 = options_.k1, b = options_.b;
  std::vector<double> score(key_of_.size(), 0.0);
  std::vector<bool> seen(key_of_.size(), false);
  std::vector<uint32_t> touched;
  for (const std::string& term : terms) {
    auto id = term_ids_.find(term);
    if (id == term_ids_.end()) continue;
    const std::vector<Posting>& list = postings_[id->second];
    double df = 0;
    for (const Posting& p : list) df += alive_[p.slot] ? 1 : 0;
    if (df == 0) continue;
    double idf = std::log((n - df + 0.5) / (df + 0.5));
    if (idf <= 0) idf = 1e-6;
    for (const Posting& p : list) {
      if (!alive_[p.slot] || (among != nullptr && !(*among)[p.slot])) continue;
      const double w = p.weight;
      const double norm = k1 * (1 - b + b * length_[p.slot] / average);
      if (!seen[p.slot]) {
        seen[p.slot] = true;
        touched.push_back(p.slot);
      }
      score[p.slot] += idf * w * (k1 + 1) / (w + norm);
    }
  }
  std::vector<Ranked> ranked;
  ranked.reserve(touched.size());
  for (uint32_t s : touched) ranked.push_back({key_of_[s], score[s]});
  return TopK(std::move(ranked), k);
}

std::vector<Ranked> KeywordIndex::Search(std::span<const std::string> terms, int k) const {
  return Score(terms, k, nullptr);
}

std::vector<Ranked> KeywordIndex::SearchAmong(std::span<const std::string> terms, int k,
                                              std::span<const int64_t> keys) const {
  std::vector<bool> among(key_of_.size(), false);
  bool any = false;
  for (int64_t key : keys) {
    auto it = slot_of_.find(key);
    if (it != slot_of_.end()) any = among[it->second] = true;
  }
  return any ? Score(terms, k, &among) : std::vector<Ranked>{};
}

}  // namespace betterdev::index
