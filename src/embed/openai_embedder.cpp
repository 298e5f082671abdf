// Any OpenAI-compatible POST {base}/embeddings (OpenAI, Azure-style base URLs, Ollama, vLLM,
// TEI) through the shared outbound client. See embedder.hpp for the contract and the limits.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <random>
#include <thread>

#include "embed/embedder.hpp"

namespace betterdev::embed {
namespace {

using Json = nlohmann::json;

// The message in an OpenAI error body ({"error":{"message":...}}), else the start of the body.
std::string ErrorMessage(const httpclient::Answer& a) {
  Json j = Json::parse(a.body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const Json& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
    if (e.is_string()) return e.get<std::string>();
  }
  return a.body.substr(0, 200);
}

// Cuts `s` to at most `max` bytes at a UTF-8 character boundary.
std::string_view CutUtf8(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

class OpenAiEmbedder final : public Embedder {
 public:
  explicit OpenAiEmbedder(OpenAiOptions o) : o_(std::move(o)) {
    if (!o_.client) o_.client = httpclient::NewClient();
    model_.id = o_.model;
    model_.dimension = o_.dimensions > 0 ? o_.dimensions : OpenAiDefaultDimension(o_.model);
    while (!o_.base_url.empty() && o_.base_url.back() == '/') o_.base_url.pop_back();
  }

  const EmbeddingModel& model() const override { return model_; }
  bool remote() const override { return true; }

  Result<Embeddings> Embed(std::span<const std::string> texts) override {
    Embeddings out;
    out.dimension = model_.dimension;
    out.values.assign(texts.size() * static_cast<size_t>(model_.dimension), 0.0F);
    size_t from = 0;
    while (from < texts.size()) {
      // One request: at most kMaxInputs inputs and kMaxRequestBytes bytes (bytes bound tokens:
      // a token is at least one byte).
      size_t to = from, bytes = 0;
      while (to < texts.size() && to - from < kMaxInputs) {
        const size_t n = std::max<size_t>(CutUtf8(texts[to], kMaxInputBytes).size(), 1);
        if (to > from && bytes + n > kMaxRequestBytes) break;
        bytes += n;
        ++to;
      }
      BD_RETURN_IF_ERROR(EmbedRange(texts, from, to, out));
      from = to;
    }
    return out;
  }

 private:
  static constexpr size_t kMaxInputs = 2048;
  static constexpr size_t kMaxRequestBytes = 300'000;
  static constexpr size_t kMaxInputBytes = kOpenAiMaxInputBytes;

  Status EmbedRange(std::span<const std::string> texts, size_t from, size_t to, Embeddings& out) {
    Json input = Json::array();
    std::vector<size_t> sent;  // indexes of the texts sent (empty texts get zero vectors locally)
    for (size_t i = from; i < to; ++i) {
      std::string_view t = CutUtf8(texts[i], kMaxInputBytes);
      if (t.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;
      input.push_back(std::string(t));
      sent.push_back(i);
    }
    if (sent.empty()) return Status::Ok();
    Json request = {{"model", o_.model}, {"input", std::move(input)}, {"encoding_format", "float"}};
    if (o_.dimensions > 0) request["dimensions"] = o_.dimensions;
    const std::string body = request.dump(-1, ' ', false, Json::error_handler_t::replace);

    std::string last_problem;
    for (int attempt = 1;; ++attempt) {
      httpclient::Answer a = Post(body);
      if (a.status == 200) {
        Status parsed = Parse(a.body, sent, out);
        if (parsed.ok()) return parsed;
        last_problem = parsed.message();
      } else if (a.status == 0) {
        last_problem = "no answer from " + o_.base_url + ": " + a.error;
      } else if (a.status == 429 || a.status >= 500) {
        last_problem = "HTTP " + std::to_string(a.status) + ": " + ErrorMessage(a);
      } else {
        // 400, 401, 403, 404, 413, 422...: asking again gets the same answer.
        const std::string what = "the embeddings service refused the request (HTTP " + std::to_string(a.status) + "): " +
                                 ErrorMessage(a);
        if (a.status == 401 || a.status == 403) return Status::PermissionDenied(what);
        return Status::InvalidArgument(what);
      }
      if (attempt >= o_.max_attempts) {
        return Status::Unavailable("embeddings failed after " + std::to_string(attempt) + " attempts: " + last_problem);
      }
      std::this_thread::sleep_for(httpclient::Backoff(attempt, a.retry_after_seconds, o_.base_backoff_ms, o_.max_backoff_ms));
    }
  }

  httpclient::Answer Post(const std::string& body) {
    httpclient::Request r;
    r.url = o_.base_url + "/embeddings";
    r.headers = {{"Content-Type", "application/json"}};
    if (!o_.api_key.empty()) {
      r.headers.emplace_back("Authorization", "Bearer " + o_.api_key);
      r.headers.emplace_back("api-key", o_.api_key);  // Azure OpenAI's header
    }
    r.body = body;
    r.connect_timeout_ms = o_.connect_timeout_ms;
    r.timeout_ms = o_.request_timeout_ms;
    return o_.client->Send(r);
  }

  Status Parse(const std::string& body, const std::vector<size_t>& sent, Embeddings& out) const {
    Json j = Json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) {
      return Status::Unavailable("the embeddings answer is not the expected JSON ({\"data\":[...]})");
    }
    const Json& data = j["data"];
    if (data.size() != sent.size()) {
      return Status::Unavailable("the embeddings answer has " + std::to_string(data.size()) + " vectors for " +
                                 std::to_string(sent.size()) + " inputs");
    }
    std::vector<bool> seen(sent.size(), false);
    for (size_t n = 0; n < data.size(); ++n) {
      const Json& item = data[n];
      const size_t index = item.contains("index") && item["index"].is_number_unsigned() ? item["index"].get<size_t>() : n;
      if (index >= sent.size() || seen[index] || !item.contains("embedding") || !item["embedding"].is_array()) {
        return Status::Unavailable("the embeddings answer has a malformed item at " + std::to_string(n));
      }
      const Json& v = item["embedding"];
      if (v.size() != static_cast<size_t>(model_.dimension)) {
        return Status::Unavailable("the embeddings answer has " + std::to_string(v.size()) +
                                   " dimensions; expected " + std::to_string(model_.dimension));
      }
      seen[index] = true;
      float* row = out.values.data() + sent[index] * static_cast<size_t>(model_.dimension);
      double norm = 0;
      for (size_t d = 0; d < v.size(); ++d) {
        if (!v[d].is_number()) return Status::Unavailable("the embeddings answer holds a non-number");
        row[d] = v[d].get<float>();
        norm += static_cast<double>(row[d]) * row[d];
      }
      if (norm > 0) {  // providers other than OpenAI may not normalise
        const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
        for (size_t d = 0; d < v.size(); ++d) row[d] *= scale;
      }
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      const Json& u = j["usage"];
      const char* key = u.contains("total_tokens") ? "total_tokens" : "prompt_tokens";
      if (u.contains(key) && u[key].is_number_integer()) out.tokens += u[key].get<int64_t>();
    }
    return Status::Ok();
  }

  OpenAiOptions o_;
  EmbeddingModel model_;
};

}  // namespace

std::unique_ptr<Embedder> NewOpenAiEmbedder(const OpenAiOptions& options) {
  return std::make_unique<OpenAiEmbedder>(options);
}

int OpenAiDefaultDimension(const std::string& model) {
  if (model == "text-embedding-3-large") return 3072;
  return 1536;  // text-embedding-3-small, text-embedding-ada-002
}

}  // namespace betterdev::embed
