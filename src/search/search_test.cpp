// The search service over a real SQLite store: keyword and vector legs per user, and a change
// of embedding model (ingest::Reembedder) during which search keeps the old vectors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "ingest/reembedder.hpp"
#include "search/search_service.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::search {
namespace {

class SearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqliteStore({dir.File("t.db")});
    ASSERT_TRUE(s.ok()) << s.status().message();
    db = std::move(*s);
    for (const char* u : {"alice", "bob"}) {
      ASSERT_TRUE(db->users().Create({u, std::string(u) + "@example.com", "-", 0}).ok());
    }
  }
  // A ready document whose chunks carry vectors of `embedder` (as a worker stores them).
  std::string Ready(const std::string& user, const std::vector<std::string>& texts, embed::Embedder& embedder) {
    const std::string id = "doc_" + std::to_string(++documents);
    store::Document d;
    d.id = id;
    d.user_id = user;
    d.filename = id + ".txt";
    d.content_type = "text/plain";
    d.sha256 = id;
    d.job_id = "job_" + id;
    EXPECT_TRUE(db->documents().Create(d).ok());
    auto e = embedder.Embed(texts);
    EXPECT_TRUE(e.ok());
    std::vector<store::StoredChunk> chunks;
    for (size_t i = 0; i < texts.size(); ++i) {
      store::StoredChunk c{id, static_cast<int>(i), 1, 1, 0, static_cast<int64_t>(texts[i].size()), texts[i], ""};
      c.vector.assign(e->Row(i).begin(), e->Row(i).end());
      chunks.push_back(std::move(c));
    }
    const embed::EmbeddingModel& m = embedder.model();
    EXPECT_TRUE(db->documents().CompleteWithChunks(id, d.job_id, 1, 10, chunks, {m.id, m.dimension}, 1).ok());
    return id;
  }
  std::vector<std::string> Found(SearchService& s, const std::string& user, const std::string& query, Mode mode,
                                 std::vector<std::string> scope = {}) {
    auto hits = s.Search({user, query, std::move(scope), 10, mode});
    EXPECT_TRUE(hits.ok()) << hits.status().message();
    std::vector<std::string> out;
    if (hits.ok()) {
      for (const Hit& h : *hits) out.push_back(h.chunk.document_id);
    }
    return out;
  }

  testutil::TempDir dir;
  testutil::FakeClock clock;
  Logger log{stderr, LogLevel::kError};
  std::unique_ptr<store::Store> db;
  int documents = 0;
  SearchConfig config;
  embed::EmbedderFactory local = [](const embed::EmbeddingModel& m) -> Result<std::unique_ptr<embed::Embedder>> {
    return embed::NewLocalEmbedder(m.dimension);
  };
};

TEST_F(SearchTest, EachUserSearchesOnlyTheirOwnChunksInEveryMode) {
  auto embedder = embed::NewLocalEmbedder(64);
  const std::string a1 = Ready("alice", {"quantum chromodynamics of gluons", "a recipe for bread"}, *embedder);
  const std::string a2 = Ready("alice", {"gluons bind quarks"}, *embedder);
  const std::string b1 = Ready("bob", {"quantum chromodynamics for bob"}, *embedder);
  SearchService s(*db, *embedder, config);
  for (Mode mode : {Mode::kKeyword, Mode::kVector, Mode::kHybrid}) {
    const auto alice = Found(s, "alice", "quantum chromodynamics", mode);
    ASSERT_FALSE(alice.empty()) << ModeName(mode);
    EXPECT_EQ(alice[0], a1) << ModeName(mode);
    for (const std::string& d : alice) EXPECT_NE(d, b1) << ModeName(mode);
    EXPECT_EQ(Found(s, "bob", "quantum chromodynamics", mode).at(0), b1);
    EXPECT_EQ(Found(s, "alice", "gluons", mode, {a2}), std::vector<std::string>{a2}) << ModeName(mode);
  }
  EXPECT_EQ(s.Search({"alice", "gluons", {b1}, 10, Mode::kHybrid}).status().code(), StatusCode::kNotFound);
  // A document deleted (even by another process: no ForgetDocument) is never returned.
  ASSERT_TRUE(db->documents().Delete("alice", a2).ok());
  EXPECT_EQ(Found(s, "alice", "gluons", Mode::kKeyword), std::vector<std::string>{a1});
  EXPECT_EQ(Found(s, "alice", "quarks", Mode::kKeyword), std::vector<std::string>{});
}

TEST_F(SearchTest, AReprocessedDocumentLeavesNoStaleChunksInTheKeywordStatistics) {
  auto embedder = embed::NewLocalEmbedder(32);
  const std::string a1 = Ready("alice", {"alpha beta", "alpha gamma", "beta beta beta"}, *embedder);
  const std::string a2 = Ready("alice", {"alpha delta", "beta zeta", "omega"}, *embedder);
  SearchService s(*db, *embedder, config);
  ASSERT_FALSE(Found(s, "alice", "beta", Mode::kKeyword).empty());  // loaded
  // Reprocessed (as a worker does it, not through this service): new chunks replace the old.
  ASSERT_TRUE(db->documents().Requeue("alice", a1, "job_again", 5).ok());
  store::StoredChunk c{a1, 0, 1, 1, 0, 9, "beta only", ""};
  auto e = embedder->Embed(std::vector<std::string>{"beta only"});
  c.vector.assign(e->Row(0).begin(), e->Row(0).end());
  ASSERT_TRUE(db->documents().CompleteWithChunks(a1, "job_again", 1, 9, {c}, {embedder->model().id, 32}, 6).ok());
  // The long-lived service ranks exactly as one that never saw the old chunks.
  SearchService fresh(*db, *embedder, config);
  auto got = s.Search({"alice", "beta", {}, 10, Mode::kKeyword});
  auto want = fresh.Search({"alice", "beta", {}, 10, Mode::kKeyword});
  ASSERT_TRUE(got.ok() && want.ok());
  ASSERT_EQ(got->size(), want->size());
  ASSERT_EQ(got->size(), 2u);
  for (size_t i = 0; i < got->size(); ++i) {
    EXPECT_EQ((*got)[i].chunk.key, (*want)[i].chunk.key);
    EXPECT_DOUBLE_EQ((*got)[i].score, (*want)[i].score);
  }
  (void)a2;
}

TEST_F(SearchTest, ModelChangeKeepsOldVectorsUntilEveryChunkHasNewOnesThenSwitches) {
  auto old_model = embed::NewLocalEmbedder(64);
  auto new_model = embed::NewLocalEmbedder(32);
  std::vector<std::string> texts;
  for (int i = 0; i < 7; ++i) texts.push_back("quantum chromodynamics note " + std::to_string(i));
  const std::string a1 = Ready("alice", texts, *old_model);
  ASSERT_TRUE(db->search().SetActiveModel({old_model->model().id, 64}, 1).ok());

  // Configured: the 32-dimension model. Search stays on the 64-dimension vectors.
  SearchService s(*db, *new_model, config, local);
  EXPECT_EQ(s.model().dimension, 64);
  EXPECT_EQ(Found(s, "alice", "quantum chromodynamics", Mode::kVector).at(0), a1);

  ingest::Reembedder re(*db, *new_model, local, clock, log, {3, 0.02, 1});
  auto more = re.Step();  // 3 of 7 chunks get a 32-dimension vector
  ASSERT_TRUE(more.ok() && *more);
  EXPECT_EQ(s.model().dimension, 64);
  EXPECT_EQ(Found(s, "alice", "quantum chromodynamics", Mode::kVector).at(0), a1);

  // A document ready during the change, embedded by a worker with the new model only: the
  // re-embedder gives it an old-model vector, so vector search finds it before the switch.
  const std::string a2 = Ready("alice", {"asparagus soup with lemon"}, *new_model);
  const auto before = Found(s, "alice", "asparagus soup", Mode::kVector);
  EXPECT_EQ(std::count(before.begin(), before.end(), a2), 0);
  more = re.Step();
  ASSERT_TRUE(more.ok() && *more);
  EXPECT_EQ(Found(s, "alice", "asparagus soup", Mode::kVector).at(0), a2);
  EXPECT_EQ(s.model().dimension, 64);

  int steps = 0;
  while (true) {
    more = re.Step();
    ASSERT_TRUE(more.ok()) << more.status().message();
    if (!*more) break;
    ASSERT_LT(++steps, 20);
    EXPECT_EQ(s.model().dimension, 64);  // not before every chunk has its new vector
  }
  auto active = db->search().ActiveModel();
  ASSERT_TRUE(active.ok() && active->has_value());
  EXPECT_EQ((*active)->dimension, 32);
  EXPECT_EQ(*db->search().LastVectorKey({old_model->model().id, 64}), 0);  // old vectors gone
  EXPECT_EQ(s.model().dimension, 32);
  EXPECT_EQ(Found(s, "alice", "quantum chromodynamics", Mode::kVector).at(0), a1);
  EXPECT_EQ(Found(s, "alice", "asparagus soup", Mode::kVector).at(0), a2);
  more = re.Step();  // nothing left
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
}

TEST_F(SearchTest, WithoutAnEmbedderForTheOldModelVectorSearchIsUnavailableAndHybridUsesKeywords) {
  auto old_model = embed::NewLocalEmbedder(64);
  auto new_model = embed::NewLocalEmbedder(32);
  const std::string a1 = Ready("alice", {"quantum chromodynamics"}, *old_model);
  ASSERT_TRUE(db->search().SetActiveModel({old_model->model().id, 64}, 1).ok());
  SearchService s(*db, *new_model, config);  // no factory
  EXPECT_EQ(s.Search({"alice", "quantum", {}, 10, Mode::kVector}).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Found(s, "alice", "quantum", Mode::kHybrid), std::vector<std::string>{a1});
}

TEST_F(SearchTest, AStoreWithoutAnActiveModelTakesTheConfiguredOne) {
  auto model = embed::NewLocalEmbedder(32);
  ingest::Reembedder re(*db, *model, local, clock, log);
  auto more = re.Step();
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
  auto active = db->search().ActiveModel();
  ASSERT_TRUE(active.ok() && active->has_value());
  EXPECT_EQ(**active, (store::VectorModel{model->model().id, 32}));
}

}  // namespace
}  // namespace betterdev::search
