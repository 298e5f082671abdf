// Answer models: messages in, a stream of text deltas out.
//
// Two implementations: `extractive` (the offline default: sentences of the retrieved passages,
// nothing downloaded; chat/extractive_model.cpp) and `openai` (any OpenAI-compatible
// /v1/chat/completions, streamed; chat/openai_model.cpp). Generation is asynchronous: Generate
// returns at once, the listener hears the deltas and then OnDone exactly once, and Cancel stops
// the work (and closes the provider's connection) at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace betterdev::chat {

enum class Role { kSystem, kUser, kAssistant };
std::string_view RoleName(Role role);  // "system", "user", "assistant"

struct Turn {
  Role role = Role::kUser;
  std::string content;
};

// A retrieved chunk as the prompt numbers it ([n], from 1).
struct Passage {
  int n = 0;
  std::string chunk_id;
  std::string document_id;
  std::string document_name;
  int page_start = 0;
  int page_end = 0;
  int64_t char_start = 0;
  int64_t char_end = 0;
  std::string text;
  std::string context;  // a split table's header row
  std::string section;  // the heading path above the chunk
  double score = 0;
};

struct ModelRequest {
  std::vector<Turn> messages;     // what a chat-completions API is sent (system, history, the prompt)
  std::string question;           // the question alone (standalone, after any rewrite)
  std::vector<Passage> passages;  // the context, numbered as in the prompt
  int max_tokens = 0;             // 0: the model's default
  bool stream = true;             // false: one answer (the rewrite); deltas may still be delivered
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  bool estimated = false;  // counted here (chat/tokens.hpp), not by the provider
};

class ModelListener {
 public:
  virtual ~ModelListener() = default;
  // Text of the answer, in order.
  virtual void OnDelta(std::string_view text) = 0;
  // Once, last. Not ok when the answer could not be completed (the deltas so far are partial):
  // Unavailable (provider down, rate limited, timed out, stream cut), PermissionDenied (bad
  // key), InvalidArgument (the provider refused the request), Cancelled-like Aborted when Cancel
  // was called. The message is one a person can read.
  virtual void OnDone(const Status& status, const Usage& usage) = 0;
};

class Generation {
 public:
  virtual ~Generation() = default;
  // Stops generating; OnDone follows (if it had not come yet). Thread-safe, idempotent.
  virtual void Cancel() = 0;
};

class ChatModel {
 public:
  virtual ~ChatModel() = default;
  // What the answer's `model` field says: "gpt-4o-mini", "extractive-v1".
  virtual std::string name() const = 0;
  // True when the model writes text of its own (a follow-up can be rewritten by it).
  virtual bool generative() const = 0;
  // Starts answering; returns at once. The listener is called from another thread (or, for a
  // model that needs no waiting, before Generate returns).
  virtual std::shared_ptr<Generation> Generate(ModelRequest request, std::shared_ptr<ModelListener> listener) = 0;
};

}  // namespace betterdev::chat
