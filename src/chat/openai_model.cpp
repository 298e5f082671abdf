// Any OpenAI-compatible POST {base}/chat/completions (OpenAI, Azure-style base URLs, Ollama,
// vLLM, llama.cpp's server), streamed over the process's shared outbound client: no thread per
// answer. See openai_model.hpp.
#include "chat/openai_model.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>

#include "chat/sse_parser.hpp"
#include "chat/tokens.hpp"

namespace betterdev::chat {
namespace {

using Json = nlohmann::json;

// The message of an OpenAI error object ({"error":{"message":...}} or {"error":"..."}).
std::string ErrorText(const Json& j) {
  if (!j.is_object() || !j.contains("error")) return {};
  const Json& e = j["error"];
  if (e.is_string()) return e.get<std::string>();
  if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
  return e.dump();
}

std::string BodyMessage(const std::string& body) {
  Json j = Json::parse(body, nullptr, false);
  std::string m = ErrorText(j);
  if (!m.empty()) return m;
  return body.substr(0, 300);
}

class OpenAiGeneration;

// One attempt's events, forwarded while that attempt is the live one (a retried or abandoned
// attempt's late callbacks are dropped).
class AttemptListener final : public httpclient::StreamListener {
 public:
  AttemptListener(std::shared_ptr<OpenAiGeneration> g, int attempt) : g_(std::move(g)), attempt_(attempt) {}
  void OnHead(long status, double retry_after) override;
  void OnData(std::string_view bytes) override;
  void OnDone(long status, const std::string& error) override;

 private:
  std::shared_ptr<OpenAiGeneration> g_;
  int attempt_;
};

class OpenAiGeneration final : public Generation, public std::enable_shared_from_this<OpenAiGeneration> {
 public:
  OpenAiGeneration(const OpenAiChatOptions& o, std::shared_ptr<httpclient::Client> client, ModelRequest request,
                   std::shared_ptr<ModelListener> listener)
      : o_(o), client_(std::move(client)), request_(std::move(request)), listener_(std::move(listener)),
        parser_([this](const std::string& event, const std::string& data) { OnEvent(event, data); }) {
    Json messages = Json::array();
    for (const Turn& t : request_.messages) messages.push_back({{"role", RoleName(t.role)}, {"content", t.content}});
    Json body = {{"model", o_.model}, {"messages", std::move(messages)}, {"stream", request_.stream}};
    if (request_.stream) body["stream_options"] = {{"include_usage", true}};
    const int max_tokens = request_.max_tokens > 0 ? request_.max_tokens : o_.max_tokens;
    if (max_tokens > 0) body["max_tokens"] = max_tokens;
    http_.url = o_.base_url + "/chat/completions";
    http_.headers = {{"Content-Type", "application/json"}, {"Accept", request_.stream ? "text/event-stream" : "application/json"}};
    if (!o_.api_key.empty()) {
      http_.headers.emplace_back("Authorization", "Bearer " + o_.api_key);
      http_.headers.emplace_back("api-key", o_.api_key);  // Azure OpenAI's header
    }
    http_.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    http_.connect_timeout_ms = o_.connect_timeout_ms;
    for (const Turn& t : request_.messages) estimated_prompt_ += EstimateTokens(t.content) + 4;
  }

  void Begin() { Attempt(); }

  void Cancel() override {
    std::shared_ptr<httpclient::Transfer> t;
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return;
      cancelled_ = true;
      t = transfer_;
    }
    if (t) t->Cancel();
    else client_->After(std::chrono::milliseconds(0), [self = shared_from_this()] { self->Finish(Status::Unavailable("cancelled")); });
  }

  // The live attempt's events, on the client's loop thread.
  bool Live(int attempt) const { return attempt == live_attempt_ && !done_; }
  void OnHead(long status, double retry_after) {
    status_ = status;
    retry_after_ = retry_after;
  }
  void OnData(std::string_view bytes) {
    if (status_ != 200 || !request_.stream) {
      if (body_.size() < (1u << 20)) body_.append(bytes);
      return;
    }
    parser_.Feed(bytes);
  }
  void OnDone(long status, const std::string& error) {
    live_attempt_ = 0;
    {
      std::lock_guard lock(mu_);
      transfer_.reset();
      if (cancelled_) {
        Finish(Status::Unavailable("cancelled"));
        return;
      }
    }
    if (status == 200 && !request_.stream) {
      ParseWhole();
      return;
    }
    if (status == 200) {
      parser_.Finish();
      if (done_) return;
      if (stream_ended_) {
        Finish(Status::Ok());
      } else if (got_token_) {
        Finish(Status::Unavailable("the model's answer was cut off before it ended"));
      } else {
        Retry(Status::Unavailable("the model's stream ended without an answer"));
      }
      return;
    }
    if (status == 0) {
      Retry(Status::Unavailable("the model provider did not answer: " + error));
      return;
    }
    const std::string message = BodyMessage(body_);
    const std::string what = "the model provider answered HTTP " + std::to_string(status) + ": " + message;
    if (status == 429 || status >= 500) {
      Retry(Status::Unavailable(what));
    } else if (status == 401 || status == 403) {
      Finish(Status::PermissionDenied("the model provider refused the API key (HTTP " + std::to_string(status) + "): " + message));
    } else {
      Finish(Status::InvalidArgument(what));
    }
  }

 private:
  void Attempt() {
    ++attempts_;
    status_ = 0;
    retry_after_ = -1;
    body_.clear();
    parser_ = SseParser([this](const std::string& event, const std::string& data) { OnEvent(event, data); });
    live_attempt_ = attempts_;
    httpclient::StreamTimeouts timeouts{o_.first_token_timeout_ms, o_.idle_timeout_ms};
    auto t = client_->Stream(http_, timeouts, std::make_shared<AttemptListener>(shared_from_this(), attempts_));
    // The first token, not just the first byte: a provider may send keep-alive comments and an
    // empty role frame for ever.
    if (request_.stream && o_.first_token_timeout_ms > 0) {
      client_->After(std::chrono::milliseconds(o_.first_token_timeout_ms), [self = shared_from_this(), attempt = attempts_] {
        if (self->live_attempt_ == attempt && !self->done_ && !self->got_token_) {
          self->Fail(Status::Unavailable("no answer from the model within " +
                                         std::to_string(self->o_.first_token_timeout_ms) + " ms"));
        }
      });
    }
    std::lock_guard lock(mu_);
    transfer_ = t;
    if (cancelled_) t->Cancel();
  }

  // Before the first token a failure is retried with backoff; after it, the answer is partial.
  void Retry(Status why) {
    if (got_token_ || attempts_ >= o_.max_attempts) {
      if (attempts_ > 1 && !got_token_) why = Status(why.code(), why.message() + " (after " + std::to_string(attempts_) + " attempts)");
      Finish(why);
      return;
    }
    client_->After(httpclient::Backoff(attempts_, retry_after_, o_.base_backoff_ms, o_.max_backoff_ms),
                   [self = shared_from_this()] {
                     {
                       std::lock_guard lock(self->mu_);
                       if (self->cancelled_) {
                         self->Finish(Status::Unavailable("cancelled"));
                         return;
                       }
                     }
                     self->Attempt();
                   });
  }

  void OnEvent(const std::string& /*event*/, const std::string& data) {
    if (done_ || stream_ended_ || live_attempt_ == 0) return;
    if (data == "[DONE]") {
      stream_ended_ = true;
      return;
    }
    Json j = Json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      Fail(Status::Unavailable("the model provider sent a malformed frame: " + data.substr(0, 120)));
      return;
    }
    if (std::string e = ErrorText(j); !e.empty()) {
      Fail(Status::Unavailable("the model provider reported an error mid-answer: " + e));
      return;
    }
    if (j.contains("usage") && j["usage"].is_object()) ReadUsage(j["usage"]);
    if (j.contains("choices") && j["choices"].is_array() && !j["choices"].empty()) {
      const Json& c = j["choices"][0];
      if (c.contains("delta") && c["delta"].is_object() && c["delta"].contains("content") && c["delta"]["content"].is_string()) {
        const std::string text = c["delta"]["content"].get<std::string>();
        if (!text.empty()) {
          got_token_ = true;
          answer_chars_ += text;
          listener_->OnDelta(text);
        }
      }
      if (c.contains("finish_reason") && c["finish_reason"].is_string()) finish_reason_ = c["finish_reason"].get<std::string>();
    }
  }

  // A frame that cannot be read: before any token, the attempt is retried; after, the answer stops.
  void Fail(Status why) {
    std::shared_ptr<httpclient::Transfer> t;
    {
      std::lock_guard lock(mu_);
      t = std::move(transfer_);
    }
    live_attempt_ = 0;  // what the abandoned transfer says later is not heard
    if (got_token_) {
      Finish(why);
    } else {
      Retry(why);
    }
    if (t) t->Cancel();  // its OnDone comes after; done_ or a new attempt makes it moot
  }

  void ReadUsage(const Json& u) {
    if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer()) usage_.prompt_tokens = u["prompt_tokens"].get<int64_t>();
    if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer())
      usage_.completion_tokens = u["completion_tokens"].get<int64_t>();
    has_usage_ = true;
  }

  void ParseWhole() {
    Json j = Json::parse(body_, nullptr, false);
    if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) {
      Retry(Status::Unavailable("the model provider's answer is not a chat completion: " + body_.substr(0, 120)));
      return;
    }
    const Json& c = j["choices"][0];
    std::string text;
    if (c.contains("message") && c["message"].is_object() && c["message"].contains("content") && c["message"]["content"].is_string())
      text = c["message"]["content"].get<std::string>();
    if (j.contains("usage") && j["usage"].is_object()) ReadUsage(j["usage"]);
    got_token_ = !text.empty();
    answer_chars_ = text;
    if (!text.empty()) listener_->OnDelta(text);
    Finish(Status::Ok());
  }

  void Finish(const Status& status) {
    if (done_) return;
    done_ = true;
    Usage u = usage_;
    if (!has_usage_) {
      u.prompt_tokens = estimated_prompt_;
      u.completion_tokens = EstimateTokens(answer_chars_);
      u.estimated = true;
    }
    listener_->OnDone(status, u);
  }

  const OpenAiChatOptions o_;
  std::shared_ptr<httpclient::Client> client_;
  ModelRequest request_;
  std::shared_ptr<ModelListener> listener_;
  httpclient::Request http_;
  SseParser parser_;
  int64_t estimated_prompt_ = 0;

  // Loop thread only:
  int attempts_ = 0;
  int live_attempt_ = 0;  // the attempt whose events count (0: none)
  long status_ = 0;
  double retry_after_ = -1;
  std::string body_;
  bool got_token_ = false;
  bool stream_ended_ = false;
  bool done_ = false;
  bool has_usage_ = false;
  std::string finish_reason_;
  std::string answer_chars_;
  Usage usage_;

  std::mutex mu_;
  bool cancelled_ = false;                              // guarded by mu_
  std::shared_ptr<httpclient::Transfer> transfer_;      // guarded by mu_
};

void AttemptListener::OnHead(long status, double retry_after) {
  if (g_->Live(attempt_)) g_->OnHead(status, retry_after);
}
void AttemptListener::OnData(std::string_view bytes) {
  if (g_->Live(attempt_)) g_->OnData(bytes);
}
void AttemptListener::OnDone(long status, const std::string& error) {
  if (g_->Live(attempt_)) g_->OnDone(status, error);
}

class OpenAiModel final : public ChatModel {
 public:
  OpenAiModel(OpenAiChatOptions o, std::shared_ptr<httpclient::Client> client) : o_(std::move(o)), client_(std::move(client)) {
    while (!o_.base_url.empty() && o_.base_url.back() == '/') o_.base_url.pop_back();
  }
  std::string name() const override { return o_.model; }
  bool generative() const override { return true; }
  std::shared_ptr<Generation> Generate(ModelRequest request, std::shared_ptr<ModelListener> listener) override {
    auto g = std::make_shared<OpenAiGeneration>(o_, client_, std::move(request), std::move(listener));
    // Started on the loop thread, so every callback of this generation runs there.
    client_->After(std::chrono::milliseconds(0), [g] { g->Begin(); });
    return g;
  }

 private:
  OpenAiChatOptions o_;
  std::shared_ptr<httpclient::Client> client_;
};

}  // namespace

std::shared_ptr<ChatModel> NewOpenAiChatModel(const OpenAiChatOptions& options, std::shared_ptr<httpclient::Client> client) {
  return std::make_shared<OpenAiModel>(options, client ? std::move(client) : httpclient::NewClient());
}

}  // namespace betterdev::chat
