// The offline default embedder: signed feature hashing of words, word pairs and character
// n-grams (see embedder.hpp for what it is and is not).
//
// Per text: lower-case ASCII, split into tokens at anything that is not a letter or digit
// (bytes of multi-byte UTF-8 characters count as letters, so any script tokenises by its
// spaces and punctuation); drop English stopwords; then for each token add
//   the word itself (weight 1), the pair with the previous kept word (weight kPairWeight), and
//   the character 3-, 4- and 5-grams of "<token>" (together weight kGramWeight),
// each at index hash % dimension with the hash's top bit as sign. Finally each component is
// replaced by its signed square root (damping repeated words and long texts) and the vector
// is normalised to length 1. Deterministic: the same text always gives the same vector.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

#include "core/stopwords.hpp"
#include "embed/embedder.hpp"

namespace betterdev::embed {
namespace {

constexpr float kPairWeight = 0.7F;
constexpr float kGramWeight = 2.0F;
constexpr size_t kMaxTokenBytes = 64;  // longer "words" (hashes, base64) count as one feature

// 64-bit FNV-1a with a final avalanche (splitmix64), seeded per feature kind.
uint64_t Hash(std::string_view bytes, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

constexpr uint64_t kWordSeed = 1, kPairSeed = 2, kGramSeed = 3;

class LocalEmbedder final : public Embedder {
 public:
  explicit LocalEmbedder(int dimension) : model_{std::string(kLocalModelId), std::max(dimension, 8)} {}

  const EmbeddingModel& model() const override { return model_; }

  Result<Embeddings> Embed(std::span<const std::string> texts) override {
    Embeddings out;
    out.dimension = model_.dimension;
    out.values.assign(texts.size() * static_cast<size_t>(model_.dimension), 0.0F);
    for (size_t i = 0; i < texts.size(); ++i) {
      out.tokens += EmbedOne(texts[i], {out.values.data() + i * static_cast<size_t>(model_.dimension),
                                        static_cast<size_t>(model_.dimension)});
    }
    return out;
  }

 private:
  void Add(std::span<float> v, uint64_t h, float weight) const {
    const size_t index = static_cast<size_t>(h % static_cast<uint64_t>(model_.dimension));
    v[index] += (h >> 63) != 0 ? -weight : weight;
  }

  int64_t EmbedOne(std::string_view text, std::span<float> v) const {
    int64_t tokens = 0;
    uint64_t previous = 0;  // hash of the previous kept word, 0 after a stopword or at the start
    std::string token;
    std::string padded;
    size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && !IsTokenByte(text[i])) ++i;
      token.clear();
      while (i < text.size() && IsTokenByte(text[i])) {
        const char c = text[i++];
        if (token.size() < kMaxTokenBytes) token.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
      }
      if (token.empty()) continue;
      ++tokens;
      if (IsEnglishStopword(token)) {
        previous = 0;
        continue;
      }
      const uint64_t word = Hash(token, kWordSeed);
      Add(v, word, 1.0F);
      if (previous != 0) Add(v, previous * 31 + word + kPairSeed, kPairWeight);
      previous = word;
      // Character n-grams of "<token>": the boundaries make prefixes and suffixes distinct.
      padded = "<" + token + ">";
      size_t grams = 0;
      for (size_t n = 3; n <= 5; ++n) grams += padded.size() >= n ? padded.size() - n + 1 : 0;
      if (grams == 0) continue;
      const float w = kGramWeight / std::sqrt(static_cast<float>(grams));
      for (size_t n = 3; n <= 5; ++n) {
        for (size_t at = 0; at + n <= padded.size(); ++at) Add(v, Hash(std::string_view(padded).substr(at, n), kGramSeed), w);
      }
    }
    double norm = 0;
    for (float& x : v) {
      x = std::copysign(std::sqrt(std::fabs(x)), x);
      norm += static_cast<double>(x) * x;
    }
    if (norm > 0) {
      const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
      for (float& x : v) x *= scale;
    }
    return tokens;
  }

  static bool IsTokenByte(char c) {
    const auto b = static_cast<unsigned char>(c);
    return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b >= 0x80;
  }

  EmbeddingModel model_;
};

}  // namespace

std::unique_ptr<Embedder> NewLocalEmbedder(int dimension) { return std::make_unique<LocalEmbedder>(dimension); }

float Dot(std::span<const float> a, std::span<const float> b) {
  float sum = 0;
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace betterdev::embed
