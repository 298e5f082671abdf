// Text -> vectors, behind one interface: the offline default (`local`, local_embedder.cpp)
// and, later, any OpenAI-compatible /v1/embeddings service.
//
// Vectors are float32, L2-normalised (cosine similarity is their dot product), `dimension`
// long, laid out row after row in one buffer. Vectors of different models (id, dimension)
// never mix: the model travels with every stored vector.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace betterdev::embed {

struct EmbeddingModel {
  std::string id;     // "local-hash-v1", "text-embedding-3-small", ...
  int dimension = 0;
  bool operator==(const EmbeddingModel&) const = default;
};

struct Embeddings {
  int dimension = 0;
  std::vector<float> values;  // texts.size() * dimension
  int64_t tokens = 0;         // as the provider counts them (the local model: words)
  std::span<const float> Row(size_t i) const {
    return {values.data() + i * static_cast<size_t>(dimension), static_cast<size_t>(dimension)};
  }
};

class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual const EmbeddingModel& model() const = 0;
  // One vector per text, in order. An empty text gets a zero vector. Errors: Unavailable
  // (the provider could not be reached or kept failing), InvalidArgument (it refused the input).
  virtual Result<Embeddings> Embed(std::span<const std::string> texts) = 0;
};

// The offline default: nothing to download, deterministic, thread-safe, ~tens of MB/s per core.
// What it is: a hashed bag of features (words, word pairs and character 3-5-grams inside words,
// so "vitamin" and "vitamins" share most of their features), projected into `dimension`
// dimensions with signed feature hashing, with stopwords dropped and repeated features damped.
// What it is not: a neural model. It knows nothing of synonyms or meaning beyond spelling; its
// use is to add fuzzy, morphology-aware matching to keyword search in hybrid mode.
// Hashing needs room: on NFCorpus 1,024 dimensions read clearly better than 384 (docs/benchmarks.md).
std::unique_ptr<Embedder> NewLocalEmbedder(int dimension = 1024);

inline constexpr std::string_view kLocalModelId = "local-hash-v1";

// Dot product of two equally long vectors (cosine similarity for normalised vectors).
float Dot(std::span<const float> a, std::span<const float> b);

}  // namespace betterdev::embed
