// The answer model over any OpenAI-compatible POST {base_url}/chat/completions with
// `stream: true` and `stream_options.include_usage` (OpenAI, Azure-style base URLs, Ollama,
// vLLM, llama.cpp's server).
//
// The stream is read as Server-Sent Events (frames split across reads, several in one read,
// comments, `[DONE]`); an error object in the stream, a malformed frame, or a stream that ends
// without `[DONE]` ends the answer with a readable error. Timeouts: connect, first byte, idle.
// Failures before the first token (connection refused, 429, 5xx, timeouts, malformed frames)
// are retried with exponential backoff and jitter (honouring Retry-After); after the first
// token nothing is retried (the client has already read part of the answer). 401/403 are
// PermissionDenied and other 4xx InvalidArgument, at once. Usage comes from the provider's
// usage chunk, else is estimated (chat/tokens.hpp).
#pragma once

#include <memory>
#include <string>

#include "chat/model.hpp"
#include "httpclient/http_client.hpp"

namespace betterdev::chat {

struct OpenAiChatOptions {
  std::string base_url = "https://api.openai.com/v1";
  std::string api_key;  // Bearer (and api-key, for Azure)
  std::string model = "gpt-4o-mini";
  int max_tokens = 1024;  // per answer
  int connect_timeout_ms = 10000;
  int first_token_timeout_ms = 60000;
  int idle_timeout_ms = 30000;
  int max_attempts = 3;  // before the first token
  int base_backoff_ms = 500;
  int max_backoff_ms = 8000;
};

// `client` is the process's shared outbound client (null: a new one).
std::shared_ptr<ChatModel> NewOpenAiChatModel(const OpenAiChatOptions& options,
                                              std::shared_ptr<httpclient::Client> client);

}  // namespace betterdev::chat
