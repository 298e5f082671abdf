// Answering a question from the user's documents (phase B):
//   question → (a follow-up rewritten to stand alone, when a generative model is configured)
//   → hybrid retrieval of the top k chunks of the scope's ready documents → the prompt
//   (chat/prompt.hpp) → the model, streamed → citations resolved (chat/citations.hpp)
//   → the question and the answer stored with their citations, usage, cost and timings.
//
// Prepare checks the request at once (so the API can answer 4xx before streaming); Start runs
// the rest asynchronously: retrieval and bookkeeping on the service's TaskPool, the model on
// its own event loop, so no thread waits on a model. Cancel stops the model within moments
// (an OpenAI stream's connection is closed) and stores what was written, marked incomplete.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <string_view>
#include <vector>

#include "chat/model.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/status.hpp"
#include "core/task_pool.hpp"
#include "core/time.hpp"
#include "search/search_service.hpp"
#include "store/store.hpp"

namespace betterdev::chat {

struct AskRequest {
  std::string user_id;
  std::string conversation_id;  // empty: answer without storing (the OpenAI-compatible front door)
  std::string question;
  bool load_history = true;     // the conversation's stored turns; else `history`
  std::vector<Turn> history;    // oldest first
  std::vector<std::string> document_ids;  // the scope; empty: the conversation's, else all the user's
  int k = 0;                    // chunks to retrieve; 0: ChatConfig::top_k
};

struct SkippedDocument {
  std::string id;
  std::string name;
  std::string status;  // "queued", "processing", "failed", or "deleted"
};

struct Retrieval {
  std::string query;               // what was searched: the question, or its standalone rewrite
  std::vector<Passage> passages;   // numbered as the prompt numbers them
  std::vector<SkippedDocument> skipped;  // documents of the scope that are not ready
  int64_t ms = 0;
};

// Hears one answer, in order: OnRetrieval, OnToken..., then OnDone once. Calls come from the
// service's pool or the model's thread, never two at once.
class AnswerListener {
 public:
  virtual ~AnswerListener() = default;
  virtual void OnRetrieval(const Retrieval& retrieval) = 0;
  virtual void OnToken(std::string_view text) = 0;
  // The answer as stored (or, without a conversation, as it would be). Not ok when it stopped
  // early: `answer` is then incomplete, holding what was written, with `answer.error` saying why.
  virtual void OnDone(const store::Message& answer, const Status& status) = 0;
};

class Answer {
 public:
  virtual ~Answer() = default;
  virtual void Start(std::shared_ptr<AnswerListener> listener) = 0;
  // Stops the answer; `reason` is recorded on the incomplete message. Idempotent.
  virtual void Cancel(const std::string& reason) = 0;
  // The question's message id (stored with the answer's start).
  virtual const std::string& question_id() const = 0;
};

struct ModelPrices {
  double prompt_per_million = 0;
  double completion_per_million = 0;
};

class ChatService {
 public:
  // `metrics` (may be null): answers by model and status, time to the first token, tokens.
  ChatService(store::Store& store, search::SearchService& search, std::shared_ptr<ChatModel> model, ModelPrices prices,
              const ChatConfig& config, const Clock& clock, IdGenerator& ids, Logger& log,
              MetricsRegistry* metrics = nullptr);
  // Cancels the answers still running and waits (up to 10 s) until each has ended, so no model
  // callback reaches a destroyed service.
  ~ChatService();

  // Checks the request: InvalidArgument for an empty or over-long question or a bad k; NotFound
  // for a conversation or document that is not the user's (exactly like a missing one).
  Result<std::shared_ptr<Answer>> Prepare(AskRequest request);

  const ChatModel& model() const { return *model_; }
  const ChatConfig& config() const { return config_; }

 private:
  friend class AnswerRun;
  void Track(uint64_t id, std::weak_ptr<Answer> run);
  void Untrack(uint64_t id);
  store::Store& store_;
  search::SearchService& search_;
  std::shared_ptr<ChatModel> model_;
  ModelPrices prices_;
  ChatConfig config_;
  const Clock& clock_;
  IdGenerator& ids_;
  Logger& log_;
  MetricsRegistry* metrics_;
  std::mutex runs_mu_;
  std::condition_variable runs_cv_;
  uint64_t next_run_ = 0;                                       // guarded by runs_mu_
  std::unordered_map<uint64_t, std::weak_ptr<Answer>> runs_;    // started, not yet ended; guarded by runs_mu_
  TaskPool pool_;
};

// The answer given when the scope has no ready document (no model is asked).
inline constexpr std::string_view kNoReadyDocumentsAnswer =
    "None of the documents to search is ready yet, so there is nothing to answer from. Ask again once they are ready.";

}  // namespace betterdev::chat
