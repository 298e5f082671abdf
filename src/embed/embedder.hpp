// Text -> vectors, behind one interface: the offline default (`local`, local_embedder.cpp)
// and, later, any OpenAI-compatible /v1/embeddings service.
//
// Vectors are float32, L2-normalised (cosine similarity is their dot product), `dimension`
// long, laid out row after row in one buffer. Vectors of different models (id, dimension)
// never mix: the model travels with every stored vector.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"
#include "httpclient/http_client.hpp"

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
  // True when a vector costs a call to a service: worth caching by text (the local embedder is
  // faster than a cache lookup).
  virtual bool remote() const { return false; }
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

// What an OpenAI model answers without a `dimensions` parameter (1,536; 3,072 for
// text-embedding-3-large). Older models refuse the parameter, so it is sent only when asked.
int OpenAiDefaultDimension(const std::string& model);

// Builds an embedder for another model than the configured one (the model search still uses
// while documents are re-embedded after a change of model).
using EmbedderFactory = std::function<Result<std::unique_ptr<Embedder>>(const EmbeddingModel& model)>;

// An input longer than this many bytes is cut to them (at a character boundary) before it is
// sent: a token is at least one byte, so it stays under the 8,191-token input limit whatever
// the text. (Chunks are ~500 characters; only odd inputs come near.)
inline constexpr size_t kOpenAiMaxInputBytes = 8000;

struct OpenAiOptions {
  std::string base_url = "https://api.openai.com/v1";  // {base_url}/embeddings is called
  std::string api_key;                                 // sent as Bearer (and as api-key, for Azure)
  std::string model = "text-embedding-3-small";
  int dimensions = 0;  // 0: the model's own (1,536 for -3-small, 3,072 for -3-large); else asked for
  int max_attempts = 6;            // per request, for 429, 5xx, timeouts, lost connections, bad answers
  int base_backoff_ms = 500;       // doubles per attempt, with jitter; Retry-After (up to 120 s) wins when longer
  int max_backoff_ms = 30000;
  int connect_timeout_ms = 10000;
  int request_timeout_ms = 60000;
  // Shared with the process's other callers (chat), so connections stay alive; null: its own.
  std::shared_ptr<httpclient::Client> client;
};

// OpenAI-compatible POST {base_url}/embeddings. One request per at most 2,048 inputs and 300,000
// bytes (so at most 300,000 tokens). Retries 429, 5xx, timeouts and malformed answers with
// exponential backoff and jitter (honouring Retry-After / retry-after-ms) up to max_attempts,
// then Unavailable naming the last problem. 401/403 are PermissionDenied and other 4xx are
// InvalidArgument at once, with the provider's message. Vectors are normalised on arrival;
// `tokens` is the provider's usage count. Thread-safe (connections kept alive by the client).
std::unique_ptr<Embedder> NewOpenAiEmbedder(const OpenAiOptions& options);

// Dot product of two equally long vectors (cosine similarity for normalised vectors).
float Dot(std::span<const float> a, std::span<const float> b);

}  // namespace betterdev::embed
