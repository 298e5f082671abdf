#include "chat/chat_service.hpp"

#include <chrono>
#include <mutex>

#include "chat/citations.hpp"
#include "chat/extractive_model.hpp"
#include "chat/prompt.hpp"

namespace betterdev::chat {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr int kHistoryMessages = 20;  // read from the store; the token budget decides what goes in
constexpr int kMaxK = 20;
// Retrieval of hundreds of answers at once is CPU work that must not delay the rest of the API
// (the I/O threads): the pool runs at a lower priority (bench/chat_bench.sh measures the effect).
constexpr int kPoolNice = 5;

int64_t MsSince(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t).count();
}

bool IsBlank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

// Collects a non-streamed generation (the rewrite) and hands it over when done.
class Collector final : public ModelListener {
 public:
  using Done = std::function<void(const Status&, std::string)>;
  explicit Collector(Done done) : done_(std::move(done)) {}
  void OnDelta(std::string_view text) override { text_ += text; }
  void OnDone(const Status& status, const Usage&) override { done_(status, std::move(text_)); }

 private:
  Done done_;
  std::string text_;
};

}  // namespace

// One answer's life; see chat_service.hpp. Steps run on the service's pool, except the model's
// callbacks (OnDelta, OnDone), which hand back to the pool for the bookkeeping.
class AnswerRun final : public Answer, public ModelListener, public std::enable_shared_from_this<AnswerRun> {
 public:
  AnswerRun(ChatService& s, AskRequest request, std::vector<std::string> scope, bool explicit_scope)
      : s_(s), request_(std::move(request)), scope_(std::move(scope)), explicit_scope_(explicit_scope),
        started_(SteadyClock::now()), question_id_(s.ids_.New("msg")) {}

  void Start(std::shared_ptr<AnswerListener> listener) override {
    listener_ = std::move(listener);
    {
      std::lock_guard lock(s_.runs_mu_);
      run_id_ = s_.next_run_++;
    }
    s_.Track(run_id_, weak_from_this());
    s_.pool_.Post([self = shared_from_this()] { self->Begin(); });
  }

  void Cancel(const std::string& reason) override {
    std::shared_ptr<Generation> g;
    {
      std::lock_guard lock(mu_);
      if (cancelled_) return;
      cancelled_ = true;
      cancel_reason_ = reason;
      g = generation_;
    }
    if (g) g->Cancel();
  }

  const std::string& question_id() const override { return question_id_; }

  // ModelListener: the answer's model.
  void OnDelta(std::string_view text) override {
    if (first_token_ms_ < 0) first_token_ms_ = MsSince(started_);
    text_ += text;
    listener_->OnToken(text);
  }
  void OnDone(const Status& status, const Usage& usage) override {
    s_.pool_.Post([self = shared_from_this(), status, usage] { self->Finish(status, usage); });
  }

 private:
  bool Cancelled(std::string* reason = nullptr) {
    std::lock_guard lock(mu_);
    if (reason) *reason = cancel_reason_;
    return cancelled_;
  }

  void Begin() {
    if (std::string why; Cancelled(&why)) return Fail(Status::Unavailable(why));
    if (request_.load_history && !request_.conversation_id.empty()) {
      auto recent = s_.store_.messages().Recent(request_.user_id, request_.conversation_id, kHistoryMessages);
      if (!recent.ok()) return Fail(recent.status());
      for (const store::Message& m : *recent) {
        if (m.role == store::MessageRole::kSystem || m.content.empty()) continue;
        history_.push_back({m.role == store::MessageRole::kUser ? Role::kUser : Role::kAssistant, m.content});
      }
    } else {
      history_ = request_.history;
    }
    if (!s_.model_->generative() || !s_.config_.rewrite || history_.empty()) return Retrieve(request_.question);

    // A follow-up ("and what about renewal?") is restated to stand alone before retrieval.
    ModelRequest rewrite;
    rewrite.messages = RewritePrompt(request_.question, history_, s_.config_.history_tokens);
    rewrite.question = request_.question;
    rewrite.max_tokens = 200;
    rewrite.stream = false;
    auto collector = std::make_shared<Collector>([self = shared_from_this()](const Status& st, std::string text) {
      self->s_.pool_.Post([self, st, text = std::move(text)] {
        std::string query = self->request_.question;
        if (st.ok()) {
          if (std::string clean = CleanRewrite(text, query); !clean.empty()) query = std::move(clean);
        } else {
          self->s_.log_.Warn("question rewrite failed; searching with the question as asked", {{"error", st.message()}});
        }
        self->Retrieve(query);
      });
    });
    Adopt(s_.model_->Generate(std::move(rewrite), collector));
  }

  // Keeps the running generation so Cancel can reach it (unless the answer is already over).
  void Adopt(std::shared_ptr<Generation> g) {
    bool cancel = false;
    {
      std::lock_guard lock(mu_);
      if (over_) return;
      generation_ = g;
      cancel = cancelled_;
    }
    if (cancel) g->Cancel();
  }

  void Retrieve(const std::string& query) {
    if (std::string why; Cancelled(&why)) return Fail(Status::Unavailable(why));
    retrieval_.query = query;
    if (!request_.conversation_id.empty()) {
      store::Message q;
      q.id = question_id_;
      q.conversation_id = request_.conversation_id;
      q.role = store::MessageRole::kUser;
      q.content = request_.question;
      q.created_at = s_.clock_.NowMillis();
      if (query != request_.question) q.rewritten_query = query;
      if (Status st = s_.store_.messages().Append(request_.user_id, q); !st.ok()) return Fail(st);
    }
    const auto start = SteadyClock::now();
    // The scope: the documents named (explicitly or by the conversation), or all the user's.
    std::vector<std::string> ready;
    if (explicit_scope_) {
      for (const std::string& id : scope_) {
        auto d = s_.store_.documents().Get(request_.user_id, id);
        if (!d.ok()) {
          if (d.status().code() != StatusCode::kNotFound) return Fail(d.status());
          retrieval_.skipped.push_back({id, "", "deleted"});
        } else if (d->status != store::DocumentStatus::kReady) {
          retrieval_.skipped.push_back({id, d->filename, std::string(store::DocumentStatusName(d->status))});
        } else {
          ready.push_back(id);
        }
      }
    } else {
      constexpr size_t kMaxSkipped = 100;
      bool any_ready = false;
      store::PageRequest page{1000, {}};
      for (;;) {
        auto docs = s_.store_.documents().List(request_.user_id, page, std::nullopt);
        if (!docs.ok()) return Fail(docs.status());
        for (const store::Document& d : docs->items) {
          if (d.status == store::DocumentStatus::kReady) any_ready = true;
          else if (retrieval_.skipped.size() < kMaxSkipped)
            retrieval_.skipped.push_back({d.id, d.filename, std::string(store::DocumentStatusName(d.status))});
        }
        if (!docs->has_more || docs->items.empty()) break;
        page.after_id = docs->items.back().id;
      }
      nothing_ready_ = !any_ready;  // otherwise `ready` stays empty: the search covers the whole library
    }
    if (explicit_scope_ && ready.empty()) nothing_ready_ = true;

    std::vector<Passage> passages;
    if (!nothing_ready_) {
      search::Request sr;
      sr.user_id = request_.user_id;
      sr.query = query;
      sr.document_ids = ready;
      sr.k = request_.k > 0 ? request_.k : s_.config_.top_k;
      sr.mode = search::Mode::kHybrid;
      auto hits = s_.search_.Search(sr);
      if (!hits.ok()) return Fail(hits.status());
      for (const search::Hit& h : *hits) {
        Passage p;
        p.chunk_id = store::ChunkId(h.chunk.document_id, h.chunk.ordinal);
        p.document_id = h.chunk.document_id;
        p.document_name = h.document_name;
        p.page_start = h.chunk.page_start;
        p.page_end = h.chunk.page_end;
        p.char_start = h.chunk.char_start;
        p.char_end = h.chunk.char_end;
        p.text = h.chunk.text;
        p.context = h.chunk.context;
        p.section = h.chunk.section;
        p.score = h.score;
        passages.push_back(std::move(p));
      }
    }
    Prompt prompt = BuildPrompt(request_.question, history_,
                                std::move(passages), {s_.config_.history_tokens, s_.config_.context_tokens});
    retrieval_.passages = prompt.passages;
    retrieval_.ms = MsSince(start);
    listener_->OnRetrieval(retrieval_);

    if (nothing_ready_ || retrieval_.passages.empty()) {
      // Nothing to answer from: said plainly, without asking a model.
      model_name_ = "none";
      const std::string text(nothing_ready_ ? kNoReadyDocumentsAnswer : kNotFoundAnswer);
      OnDelta(text);
      Finish(Status::Ok(), Usage{0, 0, true});
      return;
    }
    ModelRequest mr;
    mr.messages = std::move(prompt.messages);
    mr.question = query;
    mr.passages = retrieval_.passages;
    mr.max_tokens = s_.config_.max_answer_tokens;
    Adopt(s_.model_->Generate(std::move(mr), shared_from_this()));
  }

  // A failure before the model was asked.
  void Fail(const Status& status) { Finish(status, Usage{}); }

  void Finish(Status status, const Usage& usage) {
    if (finished_) return;
    finished_ = true;
    if (std::string why; !status.ok() && Cancelled(&why)) status = Status::Unavailable(why);
    CitedAnswer cited = ResolveCitations(text_, retrieval_.passages);
    store::Message a;
    a.id = s_.ids_.New("msg");
    a.conversation_id = request_.conversation_id;
    a.role = store::MessageRole::kAssistant;
    a.content = std::move(cited.text);
    a.created_at = s_.clock_.NowMillis();
    a.status = status.ok() ? store::MessageStatus::kComplete : store::MessageStatus::kIncomplete;
    a.model = model_name_.empty() ? s_.model_->name() : model_name_;
    a.citations = std::move(cited.citations);
    a.invalid_citations = cited.invalid;
    a.usage.prompt_tokens = usage.prompt_tokens;
    a.usage.completion_tokens = usage.completion_tokens;
    a.usage.cost_usd = (static_cast<double>(usage.prompt_tokens) * s_.prices_.prompt_per_million +
                        static_cast<double>(usage.completion_tokens) * s_.prices_.completion_per_million) / 1e6;
    if (model_name_ == "none") a.usage.cost_usd = 0;
    a.error = status.ok() ? std::string() : status.message();
    a.retrieval_ms = retrieval_.ms;
    a.first_token_ms = first_token_ms_;
    a.total_ms = MsSince(started_);
    // Stored even when nothing was written, so the conversation shows what happened.
    if (!request_.conversation_id.empty() && stored_question()) {
      if (Status st = s_.store_.messages().Append(request_.user_id, a); !st.ok()) {
        s_.log_.Error("answer not stored", {{"conversation_id", request_.conversation_id}, {"error", st.message()}});
        if (status.ok()) status = st;
      }
    }
    if (MetricsRegistry* m = s_.metrics_) {
      m->Add("betterdev_chat_answers_total", PromLabels({{"model", a.model}, {"status", store::MessageStatusName(a.status)}}));
      if (first_token_ms_ >= 0) m->Observe("betterdev_chat_first_token_seconds", "", static_cast<double>(first_token_ms_) / 1000);
      m->Add("betterdev_chat_tokens_total", PromLabels({{"kind", "prompt"}}), static_cast<double>(a.usage.prompt_tokens));
      m->Add("betterdev_chat_tokens_total", PromLabels({{"kind", "completion"}}), static_cast<double>(a.usage.completion_tokens));
    }
    if (!status.ok()) {
      s_.log_.Warn("answer incomplete", {{"conversation_id", request_.conversation_id}, {"error", status.message()}});
    }
    {
      std::lock_guard lock(mu_);
      over_ = true;
      generation_.reset();  // it holds this run as its listener
    }
    // The listener may hold this run (to cancel it): let go of it once it has heard the end.
    std::shared_ptr<AnswerListener> listener = std::move(listener_);
    listener->OnDone(a, status);
    s_.Untrack(run_id_);
  }

  // Whether the question was stored (retrieval started), so the answer may follow it.
  bool stored_question() const { return !retrieval_.query.empty(); }

  ChatService& s_;
  AskRequest request_;
  std::vector<std::string> scope_;
  bool explicit_scope_;
  SteadyClock::time_point started_;
  std::string question_id_;
  std::shared_ptr<AnswerListener> listener_;
  uint64_t run_id_ = 0;

  // Steps run one after another (pool, model thread, pool), so these need no lock.
  std::vector<Turn> history_;
  Retrieval retrieval_;
  bool nothing_ready_ = false;
  std::string text_;
  std::string model_name_;
  int64_t first_token_ms_ = -1;
  bool finished_ = false;

  std::mutex mu_;
  bool cancelled_ = false;                  // guarded by mu_
  std::string cancel_reason_;               // guarded by mu_
  std::shared_ptr<Generation> generation_;  // guarded by mu_
  bool over_ = false;                       // guarded by mu_
};

ChatService::ChatService(store::Store& store, search::SearchService& search, std::shared_ptr<ChatModel> model,
                         ModelPrices prices, const ChatConfig& config, const Clock& clock, IdGenerator& ids, Logger& log,
                         MetricsRegistry* metrics)
    : store_(store), search_(search), model_(std::move(model)), prices_(prices), config_(config), clock_(clock),
      ids_(ids), log_(log), metrics_(metrics), pool_(config.threads, kPoolNice) {
  if (metrics_) {
    metrics_->DeclareCounter("betterdev_chat_answers_total", "Answers by model and status (complete, incomplete).");
    metrics_->DeclareHistogram("betterdev_chat_first_token_seconds", "From the question to the answer's first token.",
                               {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});
    metrics_->DeclareCounter("betterdev_chat_tokens_total", "Tokens of answers by kind (prompt, completion).");
  }
}

ChatService::~ChatService() {
  std::vector<std::shared_ptr<Answer>> live;
  {
    std::lock_guard lock(runs_mu_);
    for (auto& [id, weak] : runs_)
      if (auto run = weak.lock()) live.push_back(std::move(run));
  }
  for (auto& run : live) run->Cancel("the server is shutting down");
  live.clear();
  std::unique_lock lock(runs_mu_);
  if (!runs_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return runs_.empty(); })) {
    log_.Warn("answers still running at shutdown", {{"count", runs_.size()}});
  }
}

void ChatService::Track(uint64_t id, std::weak_ptr<Answer> run) {
  std::lock_guard lock(runs_mu_);
  runs_.emplace(id, std::move(run));
}

void ChatService::Untrack(uint64_t id) {
  std::lock_guard lock(runs_mu_);
  runs_.erase(id);
  runs_cv_.notify_all();
}

Result<std::shared_ptr<Answer>> ChatService::Prepare(AskRequest request) {
  if (IsBlank(request.question)) return Status::InvalidArgument("the question must not be empty");
  if (Utf8Length(request.question) > static_cast<size_t>(config_.max_question_chars)) {
    return Status::InvalidArgument("the question must be at most " + std::to_string(config_.max_question_chars) +
                                   " characters");
  }
  if (request.k < 0 || request.k > kMaxK) return Status::InvalidArgument("k must be between 1 and 20");
  std::vector<std::string> scope = request.document_ids;
  for (const std::string& id : scope) {
    auto d = store_.documents().Get(request.user_id, id);
    if (!d.ok()) {
      if (d.status().code() == StatusCode::kNotFound) return Status::NotFound("no such document: " + id);
      return d.status();
    }
  }
  if (!request.conversation_id.empty()) {
    auto c = store_.conversations().Get(request.user_id, request.conversation_id);
    if (!c.ok()) return c.status();
    if (scope.empty()) scope = c->document_ids;
  }
  const bool explicit_scope = !scope.empty();
  return std::shared_ptr<Answer>(std::make_shared<AnswerRun>(*this, std::move(request), std::move(scope), explicit_scope));
}

}  // namespace betterdev::chat
