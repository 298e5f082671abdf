// The chat pieces: token estimates, the prompt and its budgets, citations, the SSE reader, the
// extractive model, and the service over a real SQLite store and search service.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "chat/chat_service.hpp"
#include "chat/citations.hpp"
#include "chat/conversations.hpp"
#include "chat/extractive_model.hpp"
#include "chat/prompt.hpp"
#include "chat/sse_parser.hpp"
#include "chat/tokens.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::chat {
namespace {

Passage P(int n, std::string text, std::string doc = "doc_1", int page = 1) {
  Passage p;
  p.n = n;
  p.chunk_id = doc + "_" + std::to_string(n - 1);
  p.document_id = doc;
  p.document_name = doc + ".pdf";
  p.page_start = p.page_end = page;
  p.char_start = (n - 1) * 100;
  p.char_end = p.char_start + static_cast<int64_t>(text.size());
  p.text = std::move(text);
  return p;
}

TEST(TokensTest, EstimatesAboutFourCharactersPerTokenAndOnePerWideCharacter) {
  EXPECT_EQ(EstimateTokens(""), 0);
  EXPECT_EQ(EstimateTokens("abcd"), 1);
  EXPECT_EQ(EstimateTokens("abcde"), 2);
  EXPECT_EQ(EstimateTokens(std::string(400, 'a')), 100);
  EXPECT_EQ(EstimateTokens("日本語"), 3);
  EXPECT_GE(EstimateTokens("café"), 2);
}

TEST(PromptTest, NumbersPassagesStatesTheRulesAndKeepsRecentHistory) {
  std::vector<Turn> history;
  for (int i = 0; i < 50; ++i) {
    history.push_back({Role::kUser, "question " + std::to_string(i) + " " + std::string(200, 'q')});
    history.push_back({Role::kAssistant, "answer " + std::to_string(i) + " " + std::string(200, 'a')});
  }
  Prompt p = BuildPrompt("What is the termination notice?", history,
                         {P(1, "Either party may terminate with 30 days notice."), P(2, "Renewal is automatic.", "doc_2", 4)},
                         {300, 3000});
  ASSERT_GE(p.messages.size(), 3u);
  EXPECT_EQ(p.messages.front().role, Role::kSystem);
  EXPECT_NE(p.messages.front().content.find("only the numbered context"), std::string::npos);
  EXPECT_NE(p.messages.front().content.find("[n]"), std::string::npos);
  EXPECT_NE(p.messages.front().content.find("do not say"), std::string::npos);
  const std::string& user = p.messages.back().content;
  EXPECT_EQ(p.messages.back().role, Role::kUser);
  EXPECT_NE(user.find("[1] doc_1.pdf, page 1\nEither party"), std::string::npos) << user;
  EXPECT_NE(user.find("[2] doc_2.pdf, page 4\nRenewal"), std::string::npos) << user;
  EXPECT_NE(user.find("Question: What is the termination notice?"), std::string::npos);
  // History: the newest turns within 300 tokens (each turn is ~55), oldest first.
  EXPECT_GT(p.history_turns, 0);
  EXPECT_LT(p.history_turns, 10);
  EXPECT_EQ(p.messages[p.messages.size() - 2].content.substr(0, 9), "answer 49");
  EXPECT_EQ(static_cast<int>(p.messages.size()), p.history_turns + 2);
}

TEST(PromptTest, PassagesStayWithinTheirBudgetButTheBestAlwaysGoesIn) {
  std::vector<Passage> many;
  for (int i = 1; i <= 10; ++i) many.push_back(P(i, std::string(400, 'x')));  // ~100 tokens each
  Prompt p = BuildPrompt("q", {}, many, {1000, 350});
  EXPECT_EQ(p.passages.size(), 3u);
  for (size_t i = 0; i < p.passages.size(); ++i) EXPECT_EQ(p.passages[i].n, static_cast<int>(i) + 1);
  Prompt tiny = BuildPrompt("q", {}, {P(1, std::string(4000, 'y'))}, {1000, 100});
  ASSERT_EQ(tiny.passages.size(), 1u);
  EXPECT_LT(tiny.passages[0].text.size(), 600u);
}

TEST(PromptTest, RewriteCleanup) {
  EXPECT_EQ(CleanRewrite("  \"What is the renewal term of the lease?\"\n", "and renewal?"), "What is the renewal term of the lease?");
  EXPECT_EQ(CleanRewrite("Standalone question: What about renewal of the lease?", "and renewal?"),
            "What about renewal of the lease?");
  EXPECT_EQ(CleanRewrite("   ", "and renewal?"), "");
  EXPECT_EQ(CleanRewrite(std::string(2000, 'z'), "and renewal?"), "");
  auto msgs = RewritePrompt("and renewal?", {{Role::kUser, "What is the term?"}, {Role::kAssistant, "Two years [1]."}}, 500);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_NE(msgs[1].content.find("user: What is the term?"), std::string::npos);
  EXPECT_NE(msgs[1].content.find("Last question: and renewal?"), std::string::npos);
}

TEST(CitationsTest, MapsMarkersAndRemovesThoseThatNameNoPassage) {
  std::vector<Passage> ps = {P(1, "a"), P(2, "b", "doc_2", 7)};
  ps[1].section = "Item 2 › Leases";
  CitedAnswer c = ResolveCitations("Notice is 30 days [2]. Renewal is automatic [1][3]. See [1, 9]. Bogus [7].", ps);
  EXPECT_EQ(c.text, "Notice is 30 days [2]. Renewal is automatic [1]. See [1]. Bogus.");
  EXPECT_EQ(c.invalid, 3);
  ASSERT_EQ(c.citations.size(), 2u);
  EXPECT_EQ(c.citations[0].n, 1);
  EXPECT_EQ(c.citations[1].n, 2);
  EXPECT_EQ(c.citations[1].chunk_id, "doc_2_1");
  EXPECT_EQ(c.citations[1].document_id, "doc_2");
  EXPECT_EQ(c.citations[1].page_start, 7);
  EXPECT_EQ(c.citations[1].char_end, 100 + 1);
  EXPECT_EQ(c.citations[1].section, "Item 2 › Leases");  // the passage's heading path travels with it
  CitedAnswer none = ResolveCitations("No markers [a] here [].", ps);
  EXPECT_EQ(none.text, "No markers [a] here [].");
  EXPECT_EQ(none.invalid, 0);
  EXPECT_TRUE(none.citations.empty());
}

TEST(SseParserTest, FramesSplitAnyWayComeOutWhole) {
  const std::string stream =
      ": keep-alive\r\n\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: line1\ndata: line2\n\ndata:nospace\r\rdata: [DONE]\n\n";
  const std::vector<std::pair<std::string, std::string>> want = {
      {"", "{\"a\":1}"}, {"x", "line1\nline2"}, {"", "nospace"}, {"", "[DONE]"}};
  for (size_t cut = 1; cut <= stream.size(); ++cut) {  // every piece size, including 1 byte at a time
    std::vector<std::pair<std::string, std::string>> got;
    SseParser parser([&](const std::string& e, const std::string& d) { got.emplace_back(e, d); });
    for (size_t i = 0; i < stream.size(); i += cut) parser.Feed(std::string_view(stream).substr(i, cut));
    parser.Finish();
    EXPECT_EQ(got, want) << "pieces of " << cut;
  }
  std::vector<std::string> last;
  SseParser unterminated([&](const std::string&, const std::string& d) { last.push_back(d); });
  unterminated.Feed("data: cut off");
  EXPECT_TRUE(last.empty());
  unterminated.Finish();
  EXPECT_EQ(last, std::vector<std::string>{"cut off"});
}

TEST(SentencesTest, SplitsSentencesRowsAndItemsButNotAbbreviations) {
  auto s = SplitSentences(
      "Dr. Smith signed the lease on Jan. 5, 2024. It runs for 3.5 years! Does it renew? Yes.\n"
      "Item | Q1 | Q2\nTotal net sales | $82,959 | $81,797\n- first item\n- second item\nwrapped line\ncontinues here.");
  std::vector<std::string> want = {"Dr. Smith signed the lease on Jan. 5, 2024.", "It runs for 3.5 years!", "Does it renew?",
                                   "Yes.", "Item | Q1 | Q2", "Total net sales | $82,959 | $81,797", "- first item",
                                   "- second item", "wrapped line continues here."};
  EXPECT_EQ(s, want);
}

class ExtractiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = index::Tokenizer::Open();
    ASSERT_TRUE(t.ok()) << t.status().message();
    tokenizer = std::shared_ptr<const index::Tokenizer>(std::move(*t));
    model = NewExtractiveModel(tokenizer, std::shared_ptr<embed::Embedder>(embed::NewLocalEmbedder(256)));
  }
  struct Heard : ModelListener {
    std::vector<std::string> deltas;
    Status status = Status::Internal("not done");
    Usage usage;
    void OnDelta(std::string_view t) override { deltas.emplace_back(t); }
    void OnDone(const Status& s, const Usage& u) override {
      status = s;
      usage = u;
    }
    std::string Text() const {
      std::string all;
      for (const auto& d : deltas) all += d;
      return all;
    }
  };
  std::shared_ptr<Heard> Ask(const std::string& question, std::vector<Passage> passages) {
    auto heard = std::make_shared<Heard>();
    ModelRequest r;
    r.question = question;
    r.passages = std::move(passages);
    model->Generate(r, heard);
    return heard;
  }
  std::shared_ptr<const index::Tokenizer> tokenizer;
  std::shared_ptr<ChatModel> model;
};

TEST_F(ExtractiveTest, QuotesTheRelevantSentencesWithTheirCitationsOnePerDelta) {
  auto h = Ask("How many days of notice does termination need?",
               {P(1, "The lease starts in March. Either party may terminate the lease with 30 days written notice. "
                     "The rent is paid monthly."),
                P(2, "Parking is included. Termination notice must be sent by registered mail.")});
  ASSERT_TRUE(h->status.ok());
  EXPECT_TRUE(h->usage.estimated);
  EXPECT_GT(h->usage.completion_tokens, 0);
  const std::string text = h->Text();
  EXPECT_NE(text.find("Either party may terminate the lease with 30 days written notice. [1]"), std::string::npos) << text;
  EXPECT_NE(text.find("Termination notice must be sent by registered mail. [2]"), std::string::npos) << text;
  EXPECT_EQ(text.find("Parking"), std::string::npos) << text;
  EXPECT_EQ(text.find("rent"), std::string::npos) << text;
  EXPECT_GE(h->deltas.size(), 2u) << "sentence by sentence";
  for (const std::string& d : h->deltas) EXPECT_EQ(d.back(), ']') << d;
  // Reading order: passage 1's sentence before passage 2's.
  EXPECT_LT(text.find("[1]"), text.find("[2]"));
  CitedAnswer c = ResolveCitations(text, {P(1, "x"), P(2, "y")});
  EXPECT_EQ(c.invalid, 0);
  EXPECT_EQ(c.citations.size(), 2u);
}

TEST_F(ExtractiveTest, SaysSoWhenNothingIsRelevant) {
  auto h = Ask("What is the airspeed of a swallow?", {P(1, "The lease starts in March. Rent is paid monthly.")});
  ASSERT_TRUE(h->status.ok());
  EXPECT_EQ(h->Text(), kNotFoundAnswer);
  auto empty = Ask("anything", {});
  EXPECT_EQ(empty->Text(), kNotFoundAnswer);
}

TEST_F(ExtractiveTest, BracketedNumbersInTheSourceDoNotBecomeCitations) {
  auto h = Ask("vitamin D deficiency prevalence", {P(1, "Vitamin D deficiency is common in winter [12].")});
  EXPECT_EQ(h->Text(), "Vitamin D deficiency is common in winter (12). [1]");
}

// The service over a real store and search, with the extractive model.
class ChatServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqliteStore({dir.File("t.db")});
    ASSERT_TRUE(s.ok()) << s.status().message();
    db = std::move(*s);
    for (const char* u : {"alice", "bob"}) ASSERT_TRUE(db->users().Create({u, std::string(u) + "@x.com", "-", 0}).ok());
    embedder = std::shared_ptr<embed::Embedder>(embed::NewLocalEmbedder(256));
    search = std::make_unique<search::SearchService>(*db, *embedder, SearchConfig{});
    auto t = index::Tokenizer::Open();
    ASSERT_TRUE(t.ok());
    service = std::make_unique<ChatService>(*db, *search, NewExtractiveModel(std::move(*t), embedder), ModelPrices{},
                                            ChatConfig{}, clock, ids, log);
    conversations = std::make_unique<ConversationService>(*db, clock, ids);
  }
  std::string Document(const std::string& user, const std::vector<std::string>& texts, bool ready = true) {
    const std::string id = "doc_" + std::to_string(++docs);
    store::Document d;
    d.id = id;
    d.user_id = user;
    d.filename = id + ".pdf";
    d.content_type = "application/pdf";
    d.sha256 = id;
    d.job_id = "job_" + id;
    EXPECT_TRUE(db->documents().Create(d).ok());
    if (!ready) return id;
    auto e = embedder->Embed(texts);
    std::vector<store::StoredChunk> chunks;
    for (size_t i = 0; i < texts.size(); ++i) {
      store::StoredChunk c{id, static_cast<int>(i), static_cast<int>(i) + 1, static_cast<int>(i) + 1, 0,
                           static_cast<int64_t>(texts[i].size()), texts[i], ""};
      c.vector.assign(e->Row(i).begin(), e->Row(i).end());
      chunks.push_back(std::move(c));
    }
    const embed::EmbeddingModel& m = embedder->model();
    EXPECT_TRUE(db->documents().CompleteWithChunks(id, d.job_id, 1, static_cast<int>(texts.size()), 10, chunks,
                                                   {m.id, m.dimension}, 1).ok());
    return id;
  }
  struct Heard : AnswerListener {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> events;
    Retrieval retrieval;
    std::string tokens;
    store::Message answer;
    Status status = Status::Internal("not done");
    bool done = false;
    void OnRetrieval(const Retrieval& r) override {
      std::lock_guard l(mu);
      events.push_back("retrieval");
      retrieval = r;
    }
    void OnToken(std::string_view t) override {
      std::lock_guard l(mu);
      if (events.back() != "token") events.push_back("token");
      tokens += t;
    }
    void OnDone(const store::Message& a, const Status& s) override {
      std::lock_guard l(mu);
      events.push_back("done");
      answer = a;
      status = s;
      done = true;
      cv.notify_all();
    }
    void Wait() {
      std::unique_lock l(mu);
      ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(20), [&] { return done; }));
    }
  };
  std::shared_ptr<Heard> Ask(AskRequest r) {
    auto a = service->Prepare(std::move(r));
    EXPECT_TRUE(a.ok()) << a.status().message();
    auto h = std::make_shared<Heard>();
    if (!a.ok()) return h;
    (*a)->Start(h);
    h->Wait();
    return h;
  }

  testutil::TempDir dir;
  testutil::FakeClock clock;
  IdGenerator ids{clock};
  Logger log{stderr, LogLevel::kError};
  std::unique_ptr<store::Store> db;
  std::shared_ptr<embed::Embedder> embedder;
  std::unique_ptr<search::SearchService> search;
  std::unique_ptr<ChatService> service;
  std::unique_ptr<ConversationService> conversations;
  int docs = 0;
};

TEST_F(ChatServiceTest, AnswersFromTheConversationsDocumentsAndStoresBothMessages) {
  const std::string lease = Document("alice", {"The tenant pays rent on the first day of each month.",
                                               "Either party may terminate the lease with 30 days written notice."});
  const std::string other = Document("alice", {"Termination of the gym membership needs 90 days notice."});
  auto c = conversations->Create("alice", std::string("Lease"), {lease});
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto h = Ask({"alice", c->id, "How much notice does termination need?", true, {}, {}, 0});
  ASSERT_TRUE(h->status.ok()) << h->status.message();
  EXPECT_EQ(h->events, (std::vector<std::string>{"retrieval", "token", "done"}));
  for (const Passage& p : h->retrieval.passages) EXPECT_EQ(p.document_id, lease) << "outside the conversation's scope";
  EXPECT_NE(h->answer.content.find("30 days written notice"), std::string::npos) << h->answer.content;
  EXPECT_EQ(h->answer.model, kExtractiveModelName);
  ASSERT_FALSE(h->answer.citations.empty());
  EXPECT_EQ(h->answer.citations[0].document_id, lease);
  EXPECT_EQ(h->answer.citations[0].page_start, 2);
  EXPECT_EQ(h->answer.citations[0].chunk_id, lease + "_1");
  EXPECT_EQ(h->answer.status, store::MessageStatus::kComplete);
  EXPECT_GE(h->answer.total_ms, 0);
  EXPECT_GE(h->answer.retrieval_ms, 0);

  auto stored = db->messages().List("alice", c->id, {});
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->items.size(), 2u);
  EXPECT_EQ(stored->items[0].role, store::MessageRole::kUser);
  EXPECT_EQ(stored->items[0].content, "How much notice does termination need?");
  EXPECT_EQ(stored->items[1].role, store::MessageRole::kAssistant);
  EXPECT_EQ(stored->items[1].content, h->answer.content);
  EXPECT_EQ(stored->items[1].citations, h->answer.citations);
  // Without the conversation's scope, the other document is searched too.
  auto all = Ask({"alice", "", "termination notice days", false, {}, {}, 5});
  bool saw_other = false;
  for (const Passage& p : all->retrieval.passages) saw_other = saw_other || p.document_id == other;
  EXPECT_TRUE(saw_other);
  (void)other;
}

TEST_F(ChatServiceTest, RefusesOthersResourcesAndBadQuestions) {
  const std::string bobs = Document("bob", {"Bob's secret plan."});
  auto c = conversations->Create("alice", std::nullopt, {});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(service->Prepare({"alice", c->id, "plan?", true, {}, {bobs}, 0}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service->Prepare({"alice", "conv_missing", "plan?", true, {}, {}, 0}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service->Prepare({"bob", c->id, "plan?", true, {}, {}, 0}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service->Prepare({"alice", c->id, "  \n", true, {}, {}, 0}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(service->Prepare({"alice", c->id, std::string(5000, 'x'), true, {}, {}, 0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(service->Prepare({"alice", c->id, "plan?", true, {}, {}, 21}).status().code(), StatusCode::kInvalidArgument);
  // Conversations may name only the user's own documents, at create and update.
  EXPECT_EQ(conversations->Create("alice", std::nullopt, {bobs}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(conversations->Create("alice", std::nullopt, {"doc_nope"}).status().code(), StatusCode::kNotFound);
  store::ConversationPatch patch{std::nullopt, std::vector<std::string>{bobs}};
  EXPECT_EQ(conversations->Update("alice", c->id, patch).status().code(), StatusCode::kNotFound);
}

TEST_F(ChatServiceTest, AScopeWithNoReadyDocumentGetsAPlainAnswer) {
  const std::string queued = Document("alice", {}, false);
  auto h = Ask({"alice", "", "anything at all?", false, {}, {queued}, 0});
  ASSERT_TRUE(h->status.ok());
  EXPECT_EQ(h->answer.content, kNoReadyDocumentsAnswer);
  ASSERT_EQ(h->retrieval.skipped.size(), 1u);
  EXPECT_EQ(h->retrieval.skipped[0].id, queued);
  EXPECT_EQ(h->retrieval.skipped[0].status, "queued");
  EXPECT_TRUE(h->retrieval.passages.empty());
  // A user with no ready document at all, asking the whole library.
  auto none = Ask({"bob", "", "anything?", false, {}, {}, 0});
  EXPECT_EQ(none->answer.content, kNoReadyDocumentsAnswer);
}

TEST_F(ChatServiceTest, ACancelledAnswerIsStoredIncomplete) {
  Document("alice", {"Some text about leases."});
  auto c = conversations->Create("alice", std::nullopt, {});
  ASSERT_TRUE(c.ok());
  auto a = service->Prepare({"alice", c->id, "leases?", true, {}, {}, 0});
  ASSERT_TRUE(a.ok());
  (*a)->Cancel("the client went away");
  auto h = std::make_shared<Heard>();
  (*a)->Start(h);
  h->Wait();
  EXPECT_FALSE(h->status.ok());
  EXPECT_EQ(h->answer.status, store::MessageStatus::kIncomplete);
  EXPECT_EQ(h->answer.error, "the client went away");
}

}  // namespace
}  // namespace betterdev::chat
