#include "index/keyword_index.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

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

std::vector<Ranked> KeywordIndex::Score(std::span<const std::string> terms, std::span<const double> weights, int k,
                                        const Subset* among) const {
  if (k <= 0 || live_ == 0) return {};
  const double n = among != nullptr ? among->live : static_cast<double>(live_);
  const double length = among != nullptr ? among->length : live_length_;
  if (n <= 0) return {};
  const double average = std::max(length / n, 1.0);  // as PostgreSQL's statement floors it
  const double k1 = options_.k1, b = options_.b;
  std::vector<double> score(key_of_.size(), 0.0);
  std::vector<bool> seen(key_of_.size(), false);
  std::vector<uint32_t> touched;
  const bool all_alive = live_ == key_of_.size();  // no removal since the last compaction
  for (size_t t = 0; t < terms.size(); ++t) {
    const double query_weight = weights.empty() ? 1.0 : weights[t];
    auto id = term_ids_.find(terms[t]);
    if (id == term_ids_.end()) continue;
    const std::vector<Posting>& list = postings_[id->second];
    double df = static_cast<double>(list.size());
    if (among != nullptr) {
      df = 0;
      for (const Posting& p : list) df += alive_[p.slot] && among->slots[p.slot] ? 1 : 0;
    } else if (!all_alive) {
      df = 0;
      for (const Posting& p : list) df += alive_[p.slot] ? 1 : 0;
    }
    if (df == 0) continue;
    double idf = std::log((n - df + 0.5) / (df + 0.5));
    if (idf <= 0) idf = 1e-6;
    idf *= query_weight;
    for (const Posting& p : list) {
      if (!alive_[p.slot] || (among != nullptr && !among->slots[p.slot])) continue;
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

size_t KeywordIndex::DocumentFrequency(const std::string& term) const {
  auto id = term_ids_.find(term);
  return id == term_ids_.end() ? 0 : postings_[id->second].size();
}

WeightedQuery KeywordIndex::Expand(std::span<const std::string> query, std::span<const Terms> seeds,
                                   std::span<const double> seed_scores, int expansion_terms,
                                   double original_weight) const {
  const double most = std::max(100.0, kExpansionMaxShare * static_cast<double>(live_));
  return ExpandQuery(query, seeds, seed_scores, expansion_terms, original_weight,
                     [&](const std::string& t) { return static_cast<double>(DocumentFrequency(t)) <= most; });
}

std::vector<Ranked> KeywordIndex::Search(std::span<const std::string> terms, int k) const {
  return Score(terms, {}, k, nullptr);
}

std::optional<KeywordIndex::Subset> KeywordIndex::Among(std::span<const int64_t> keys) const {
  Subset among;
  among.slots.assign(key_of_.size(), false);
  for (int64_t key : keys) {
    auto it = slot_of_.find(key);
    if (it == slot_of_.end() || among.slots[it->second]) continue;
    among.slots[it->second] = true;
    among.live += 1;
    among.length += length_[it->second];
  }
  if (among.live == 0) return std::nullopt;
  return among;
}

std::vector<Ranked> KeywordIndex::SearchAmong(std::span<const std::string> terms, int k,
                                              std::span<const int64_t> keys) const {
  std::optional<Subset> among = Among(keys);
  return among ? Score(terms, {}, k, &*among) : std::vector<Ranked>{};
}

std::vector<Ranked> KeywordIndex::SearchWeighted(const WeightedQuery& query, int k,
                                                 std::span<const int64_t> keys) const {
  if (keys.empty()) return Score(query.terms, query.weights, k, nullptr);
  std::optional<Subset> among = Among(keys);
  return among ? Score(query.terms, query.weights, k, &*among) : std::vector<Ranked>{};
}

namespace {

constexpr uint32_t kMagic = 0x574B4442;  // "BDKW"
constexpr uint32_t kVersion = 1;

template <typename T>
void Put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

// Reads fixed-size values and byte runs from a buffer, refusing to read past its end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  template <typename T>
  bool Get(T& value) {
    if (rest_.size() < sizeof value) return false;
    std::memcpy(&value, rest_.data(), sizeof value);
    rest_.remove_prefix(sizeof value);
    return true;
  }
  bool Bytes(size_t n, std::string_view& out) {
    if (rest_.size() < n) return false;
    out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  size_t left() const { return rest_.size(); }

 private:
  std::string_view rest_;
};

}  // namespace

std::string KeywordIndex::Serialize() const {
  std::string out;
  Put(out, kMagic);
  Put(out, kVersion);
  std::vector<uint32_t> renumber(key_of_.size(), UINT32_MAX);
  uint64_t live = 0;
  for (size_t s = 0; s < key_of_.size(); ++s) {
    if (alive_[s]) renumber[s] = static_cast<uint32_t>(live++);
  }
  Put(out, live);
  for (size_t s = 0; s < key_of_.size(); ++s) {
    if (!alive_[s]) continue;
    Put(out, key_of_[s]);
    Put(out, length_[s]);
  }
  Put(out, static_cast<uint64_t>(term_ids_.size()));
  for (const auto& [term, id] : term_ids_) {
    const std::vector<Posting>& list = postings_[id];
    uint32_t n = 0;
    for (const Posting& p : list) n += renumber[p.slot] != UINT32_MAX ? 1 : 0;
    Put(out, static_cast<uint32_t>(term.size()));
    out.append(term);
    Put(out, n);
    for (const Posting& p : list) {
      if (renumber[p.slot] == UINT32_MAX) continue;
      Put(out, renumber[p.slot]);
      Put(out, p.weight);
    }
  }
  return out;
}

std::optional<KeywordIndex> KeywordIndex::Deserialize(std::string_view bytes, const Bm25Options& options) {
  Reader in(bytes);
  uint32_t magic = 0, version = 0;
  uint64_t slots = 0, terms = 0;
  if (!in.Get(magic) || !in.Get(version) || magic != kMagic || version != kVersion || !in.Get(slots)) return std::nullopt;
  if (slots > in.left() / (sizeof(int64_t) + sizeof(uint32_t))) return std::nullopt;
  KeywordIndex index(options);
  index.key_of_.resize(slots);
  index.length_.resize(slots);
  index.alive_.assign(slots, true);
  for (uint64_t s = 0; s < slots; ++s) {
    if (!in.Get(index.key_of_[s]) || !in.Get(index.length_[s])) return std::nullopt;
    if (!index.slot_of_.emplace(index.key_of_[s], static_cast<uint32_t>(s)).second) return std::nullopt;
    index.live_length_ += index.length_[s];
  }
  index.live_ = slots;
  if (!in.Get(terms) || terms > in.left() / (2 * sizeof(uint32_t))) return std::nullopt;
  index.postings_.resize(terms);
  for (uint64_t t = 0; t < terms; ++t) {
    uint32_t length = 0, n = 0;
    std::string_view term;
    if (!in.Get(length) || !in.Bytes(length, term) || !in.Get(n)) return std::nullopt;
    if (n > in.left() / (sizeof(uint32_t) + sizeof(float))) return std::nullopt;
    if (!index.term_ids_.emplace(std::string(term), static_cast<uint32_t>(t)).second) return std::nullopt;
    std::vector<Posting>& list = index.postings_[t];
    list.resize(n);
    int64_t previous = -1;  // slots ascending, as Add leaves them
    for (Posting& p : list) {
      if (!in.Get(p.slot) || !in.Get(p.weight) || p.slot >= slots || p.slot <= previous) return std::nullopt;
      previous = p.slot;
    }
  }
  if (in.left() != 0) return std::nullopt;
  return index;
}

}  // namespace betterdev::index
