// The search service over a real SQLite store: keyword and vector legs per user, and a change
// of embedding model (ingest::Reembedder) during which search keeps the old vectors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <thread>

#include "ingest/reembedder.hpp"
#include "pinecone/pinecone_test_server.hpp"
#include "search/search_service.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/postgres/pg_test_server.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::search {
namespace {

// One PostgreSQL (with pgvector) for the whole binary: started on first use, stopped at exit.
store::PgTestServer& Postgres() {
  static store::PgTestServer server;
  return server;
}

// Where the search runs: this process's indexes over SQLite (the embedded default), or
// inside PostgreSQL (full-text search and pgvector).
enum class Backend { kLocal, kPgvector };

class SearchTestBase : public ::testing::Test {
 protected:
  virtual Backend backend() const { return Backend::kLocal; }
  void SetUp() override {
    Result<std::unique_ptr<store::Store>> s = Status::Internal("no store");
    if (backend() == Backend::kPgvector) {
      ASSERT_TRUE(Postgres().running()) << "PostgreSQL did not start (postgresql-15: scripts/setup.sh)";
      database_url = Postgres().NewDatabase();
      s = store::OpenPostgresStore({database_url});
      config.vector_store = "pgvector";
    } else {
      s = store::OpenSqliteStore({dir.File("t.db")});
    }
    ASSERT_TRUE(s.ok()) << s.status().message();
    db = std::move(*s);
    for (const char* u : {"alice", "bob"}) {
      ASSERT_TRUE(db->users().Create({u, std::string(u) + "@example.com", "-", 0}).ok());
    }
  }
  // A ready document whose chunks carry vectors of `embedder` (as a worker stores them).
  std::string Ready(const std::string& user, const std::vector<std::string>& texts, embed::Embedder& embedder,
                    const std::string& filename = "", const std::string& section = "") {
    const std::string id = "doc_" + std::to_string(++documents);
    store::Document d;
    d.id = id;
    d.user_id = user;
    d.filename = filename.empty() ? id + ".txt" : filename;
    d.content_type = "text/plain";
    d.sha256 = id;
    d.job_id = "job_" + id;
    EXPECT_TRUE(db->documents().Create(d).ok());
    auto e = embedder.Embed(texts);
    EXPECT_TRUE(e.ok());
    std::vector<store::StoredChunk> chunks;
    for (size_t i = 0; i < texts.size(); ++i) {
      store::StoredChunk c{id, static_cast<int>(i), 1, 1, 0, static_cast<int64_t>(texts[i].size()), texts[i], ""};
      c.section = section;
      c.vector.assign(e->Row(i).begin(), e->Row(i).end());
      chunks.push_back(std::move(c));
    }
    const embed::EmbeddingModel& m = embedder.model();
    EXPECT_TRUE(db->documents().CompleteWithChunks(id, d.job_id, 1, 1, 10, chunks, {m.id, m.dimension}, 1).ok());
    return id;
  }
  std::vector<int64_t> Keys(SearchService& s, const std::string& user, const std::string& query, Mode mode,
                            int k = 10) {
    auto hits = s.Search({user, query, {}, k, mode});
    EXPECT_TRUE(hits.ok()) << hits.status().message();
    std::vector<int64_t> out;
    if (hits.ok()) {
      for (const Hit& h : *hits) out.push_back(h.chunk.key);
    }
    return out;
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
  std::string database_url;  // kPgvector
  testutil::FakeClock clock;
  Logger log{stderr, LogLevel::kError};
  std::unique_ptr<store::Store> db;
  int documents = 0;
  SearchConfig config;
  embed::EmbedderFactory local = [](const embed::EmbeddingModel& m) -> Result<std::unique_ptr<embed::Embedder>> {
    return embed::NewLocalEmbedder(m.dimension);
  };
};

// What only this process's own indexes do (graphs, saved files, idle users, the follower).
class SearchTest : public SearchTestBase {};

// What every retriever must do alike.
class AnySearchTest : public SearchTestBase, public ::testing::WithParamInterface<Backend> {
 protected:
  Backend backend() const override { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Retrievers, AnySearchTest, ::testing::Values(Backend::kLocal, Backend::kPgvector),
                         [](const ::testing::TestParamInfo<Backend>& p) {
                           return p.param == Backend::kLocal ? "Local" : "Pgvector";
                         });

TEST_P(AnySearchTest, EachUserSearchesOnlyTheirOwnChunksInEveryMode) {
  auto embedder = embed::NewLocalEmbedder(64);
  const std::string a1 = Ready("alice", {"quantum chromodynamics of gluons", "a recipe for bread"}, *embedder);
  const std::string a2 = Ready("alice", {"gluons bind quarks"}, *embedder);
  const std::string b1 = Ready("bob", {"quantum chromodynamics for bob"}, *embedder);
  SearchService s(*db, *embedder, config);
  EXPECT_EQ(s.retriever(), backend() == Backend::kLocal ? "local" : "pgvector");
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
  ASSERT_TRUE(db->documents().Delete("alice", a2, false, 0).ok());
  EXPECT_EQ(Found(s, "alice", "gluons", Mode::kKeyword), std::vector<std::string>{a1});
  EXPECT_EQ(Found(s, "alice", "quarks", Mode::kKeyword), std::vector<std::string>{});
}

TEST_P(AnySearchTest, AReprocessedDocumentLeavesNoStaleChunksInTheKeywordStatistics) {
  auto embedder = embed::NewLocalEmbedder(32);
  const std::string a1 = Ready("alice", {"alpha beta", "alpha gamma", "beta beta beta"}, *embedder);
  const std::string a2 = Ready("alice", {"alpha delta", "beta zeta", "omega"}, *embedder);
  SearchService s(*db, *embedder, config);
  ASSERT_FALSE(Found(s, "alice", "beta", Mode::kKeyword).empty());  // loaded
  // Reprocessed (as a worker does it, not through this service): new chunks replace the old.
  ASSERT_TRUE(db->documents().Requeue("alice", a1, "job_again", false, 5).ok());
  store::StoredChunk c{a1, 0, 1, 1, 0, 9, "beta only", ""};
  auto e = embedder->Embed(std::vector<std::string>{"beta only"});
  c.vector.assign(e->Row(0).begin(), e->Row(0).end());
  ASSERT_TRUE(db->documents().CompleteWithChunks(a1, "job_again", 1, 1, 9, {c}, {embedder->model().id, 32}, 6).ok());
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

TEST_P(AnySearchTest, ModelChangeKeepsOldVectorsUntilEveryChunkHasNewOnesThenSwitches) {
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

TEST_P(AnySearchTest, WithoutAnEmbedderForTheOldModelVectorSearchIsUnavailableAndHybridUsesKeywords) {
  auto old_model = embed::NewLocalEmbedder(64);
  auto new_model = embed::NewLocalEmbedder(32);
  const std::string a1 = Ready("alice", {"quantum chromodynamics"}, *old_model);
  ASSERT_TRUE(db->search().SetActiveModel({old_model->model().id, 64}, 1).ok());
  SearchService s(*db, *new_model, config);  // no factory
  EXPECT_EQ(s.Search({"alice", "quantum", {}, 10, Mode::kVector}).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Found(s, "alice", "quantum", Mode::kHybrid), std::vector<std::string>{a1});
}

TEST_P(AnySearchTest, AStoreWithoutAnActiveModelTakesTheConfiguredOne) {
  auto model = embed::NewLocalEmbedder(32);
  ingest::Reembedder re(*db, *model, local, clock, log);
  auto more = re.Step();
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
  auto active = db->search().ActiveModel();
  ASSERT_TRUE(active.ok() && active->has_value());
  EXPECT_EQ(**active, (store::VectorModel{model->model().id, 32}));
}

// Texts whose words overlap enough for every query to rank many chunks.
std::vector<std::string> Notes(const std::string& topic, int n) {
  static const char* kWords[] = {"vitamin", "bone", "sleep", "melatonin", "zinc", "iron", "diet", "trial"};
  std::vector<std::string> texts;
  for (int i = 0; i < n; ++i) {
    texts.push_back(topic + " " + kWords[i % 8] + " " + kWords[(i * 3 + 1) % 8] + " note " + std::to_string(i));
  }
  return texts;
}

TEST_F(SearchTest, GraphsAreBuiltInTheBackgroundSavedAndLoadedWarmAndABrokenFileIsRebuiltNeverServed) {
  auto embedder = embed::NewLocalEmbedder(32);
  const std::string a1 = Ready("alice", Notes("cardiology", 20), *embedder);
  const std::string a2 = Ready("alice", Notes("oncology", 20), *embedder);
  const std::string a3 = Ready("alice", Notes("neurology", 20), *embedder);
  Ready("bob", Notes("cardiology", 5), *embedder);
  SearchConfig reference_config;  // exact, nothing saved: the answers every other service must give
  reference_config.exact_below = 1000000;
  config.exact_below = 30;
  config.index_dir = dir.File("search");
  const std::vector<std::string> queries = {"cardiology vitamin bone", "sleep melatonin", "oncology zinc trial"};
  auto same_as_reference = [&](SearchService& s, const std::string& when) {
    SearchService reference(*db, *embedder, reference_config);
    for (Mode mode : {Mode::kKeyword, Mode::kVector, Mode::kHybrid}) {
      for (const std::string& q : queries) {
        EXPECT_EQ(Keys(s, "alice", q, mode), Keys(reference, "alice", q, mode)) << when << " " << ModeName(mode) << " " << q;
      }
    }
  };
  {
    SearchService s(*db, *embedder, config);
    same_as_reference(s, "before the build");  // exact while the graph is built
    s.WaitForBackgroundWork();
    EXPECT_EQ(s.stats("alice").graph_vectors, 60u);
    EXPECT_EQ(s.stats("alice").tail_vectors, 0u);
    EXPECT_EQ(s.stats("bob").graph_vectors, 0u);  // 5 vectors: exact
    same_as_reference(s, "after the build");
    s.Flush();
  }
  for (const char* kind : {"alice.kw", "alice.hnsw", "alice.hnsw.meta"}) {
    EXPECT_TRUE(std::filesystem::exists(dir.File("search/") + kind)) << kind;
  }
  const auto saved_at = std::filesystem::last_write_time(dir.File("search/alice.hnsw"));
  {
    // Restart: the first search is answered by the saved graph, with no build.
    SearchService s(*db, *embedder, config);
    EXPECT_EQ(Keys(s, "alice", queries[0], Mode::kHybrid).size(), 10u);
    EXPECT_EQ(s.stats("alice").graph_vectors, 60u);
    EXPECT_EQ(s.stats("alice").tail_vectors, 0u);
    same_as_reference(s, "warm");
    // New chunks join the exact tail; a document deleted elsewhere is never returned.
    const std::string a4 = Ready("alice", Notes("dermatology", 5), *embedder);
    EXPECT_EQ(Found(s, "alice", "dermatology", Mode::kVector).at(0), a4);
    EXPECT_EQ(s.stats("alice").tail_vectors, 5u);
    ASSERT_TRUE(db->documents().Delete("alice", a2, false, 0).ok());
    for (Mode mode : {Mode::kKeyword, Mode::kVector, Mode::kHybrid}) {
      const auto found = Found(s, "alice", "oncology zinc trial", mode);
      EXPECT_EQ(std::count(found.begin(), found.end(), a2), 0) << ModeName(mode);
    }
    s.WaitForBackgroundWork();
  }
  EXPECT_EQ(std::filesystem::last_write_time(dir.File("search/alice.hnsw")), saved_at);  // never rebuilt
  {
    // Another restart after the delete: the saved indexes lose the deleted chunks at load.
    SearchService s(*db, *embedder, config);
    same_as_reference(s, "after a delete");
    EXPECT_EQ(s.stats("alice").chunks, 45u);
    EXPECT_EQ(s.stats("alice").graph_vectors, 40u);
  }
  // Broken files: one byte of the graph changed, the keyword file cut short.
  {
    std::fstream f(dir.File("search/alice.hnsw"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(dir.File("search/alice.hnsw")) / 2));
    f.put('\x5a');
  }
  std::filesystem::resize_file(dir.File("search/alice.kw"), std::filesystem::file_size(dir.File("search/alice.kw")) / 2);
  {
    SearchService s(*db, *embedder, config);
    same_as_reference(s, "broken files");
    s.WaitForBackgroundWork();
    EXPECT_EQ(s.stats("alice").graph_vectors, 45u);  // rebuilt from the store
    same_as_reference(s, "rebuilt");
  }
  // Files saved from another database (restored from an older backup, say) claim chunk keys it
  // never gave out: never used, whatever their checksums say.
  {
    testutil::TempDir other;
    auto s2 = store::OpenSqliteStore({other.File("t.db")});
    ASSERT_TRUE(s2.ok());
    std::swap(db, *s2);
    ASSERT_TRUE(db->users().Create({"alice", "alice@example.com", "-", 0}).ok());
    Ready("alice", Notes("cardiology", 12), *embedder);
    SearchService s(*db, *embedder, config);
    same_as_reference(s, "another database");
    EXPECT_EQ(s.stats("alice").chunks, 12u);
    EXPECT_EQ(s.stats("alice").graph_vectors, 0u);  // (12 < 30: exact)
    std::swap(db, *s2);
  }
  IndexFiles files(config.index_dir);
  index::HnswOptions int8;  // the default encoding
  int8.encoding = index::VectorEncoding::kInt8;
  auto graph = files.LoadGraph("alice", embedder->model(), int8);
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  EXPECT_EQ(graph->graph->size(), 45u);
  EXPECT_EQ(graph->graph->encoding(), index::VectorEncoding::kInt8);
  EXPECT_EQ(files.LoadGraph("alice", {"another-model", 32}, int8).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(files.LoadGraph("alice", embedder->model(), {}).status().code(), StatusCode::kNotFound);  // float32
  // Restarted with float32 vectors: the int8 graph is not used; one of floats is built and saved.
  config.vector_encoding = reference_config.vector_encoding = "float32";
  {
    SearchService s(*db, *embedder, config);
    same_as_reference(s, "float32");
    s.WaitForBackgroundWork();
    EXPECT_EQ(s.stats("alice").graph_vectors, 45u);
    same_as_reference(s, "float32 graph");
  }
  graph = files.LoadGraph("alice", embedder->model(), {});
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  EXPECT_EQ(graph->graph->encoding(), index::VectorEncoding::kFloat32);
  (void)a1;
  (void)a3;
}

TEST_P(AnySearchTest, DocumentsGroupTheirBestChunkUpToKDocuments) {
  auto embedder = embed::NewLocalEmbedder(32);
  const std::string many = Ready("alice", Notes("melatonin", 30), *embedder);
  const std::string one = Ready("alice", {"melatonin and sleep in adults"}, *embedder);
  const std::string other = Ready("alice", {"melatonin dosage"}, *embedder);
  SearchService s(*db, *embedder, config);
  for (Mode mode : {Mode::kKeyword, Mode::kVector, Mode::kHybrid}) {
    Request passages{"alice", "melatonin", {}, 3, mode};
    auto chunks = s.Search(passages);
    ASSERT_TRUE(chunks.ok());
    ASSERT_EQ(chunks->size(), 3u);
    Request grouped = passages;
    grouped.group_by_document = true;
    grouped.k = 1000;
    auto best = s.Search(grouped);
    ASSERT_TRUE(best.ok());
    std::vector<std::string> ids;
    for (const Hit& h : *best) ids.push_back(h.chunk.document_id);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (std::vector<std::string>{many, one, other})) << ModeName(mode);
    for (size_t i = 1; i < best->size(); ++i) EXPECT_GE((*best)[i - 1].score, (*best)[i].score);
    grouped.k = 2;
    EXPECT_EQ(s.Search(grouped)->size(), 2u);
  }
  EXPECT_EQ(s.Search({"alice", "melatonin", {}, 1001, Mode::kHybrid}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SearchTest, IdleUsersLeaveMemoryAndComeBackOnTheirNextSearch) {
  auto embedder = embed::NewLocalEmbedder(32);
  const std::string a1 = Ready("alice", {"quantum chromodynamics"}, *embedder);
  const std::string b1 = Ready("bob", {"quantum gravity"}, *embedder);
  config.idle_seconds = 1;
  config.index_dir = dir.File("search");
  SearchService s(*db, *embedder, config);
  EXPECT_EQ(Found(s, "alice", "quantum", Mode::kHybrid), std::vector<std::string>{a1});
  EXPECT_EQ(Found(s, "bob", "quantum", Mode::kHybrid), std::vector<std::string>{b1});
  EXPECT_EQ(s.users_in_memory(), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(Found(s, "bob", "quantum", Mode::kHybrid), std::vector<std::string>{b1});
  EXPECT_EQ(s.users_in_memory(), 1u);  // alice (and bob, who came back at once) left
  EXPECT_EQ(s.stats("alice").chunks, 0u);
  EXPECT_EQ(Found(s, "alice", "quantum", Mode::kHybrid), std::vector<std::string>{a1});
  EXPECT_EQ(s.stats("alice").chunks, 1u);
}

TEST_F(SearchTest, AGraphPastTheDenseSizeIsRebuiltWithMoreLinksWhileSearchesGoOn) {
  auto embedder = embed::NewLocalEmbedder(32);
  Ready("alice", Notes("cardiology", 30), *embedder);
  Ready("alice", Notes("oncology", 30), *embedder);
  SearchConfig reference_config;
  reference_config.exact_below = 1000000;
  SearchService reference(*db, *embedder, reference_config);
  const std::vector<std::string> queries = {"cardiology vitamin bone", "oncology zinc trial", "dermatology sleep"};
  auto same_as_reference = [&](SearchService& s, const std::string& when) {
    for (const std::string& q : queries) {
      EXPECT_EQ(Keys(s, "alice", q, Mode::kVector), Keys(reference, "alice", q, Mode::kVector)) << when << " " << q;
    }
  };
  config.exact_below = 30;
  config.index_dir = dir.File("search");
  {
    SearchService s(*db, *embedder, config);  // 60 vectors, far below the dense size
    Keys(s, "alice", queries[0], Mode::kVector);
    s.WaitForBackgroundWork();
    EXPECT_EQ(s.stats("alice").graph_vectors, 60u);
    EXPECT_EQ(s.stats("alice").graph_links, 16);
    s.Flush();
  }
  Ready("alice", Notes("dermatology", 5), *embedder);  // too few to call for a build by themselves
  config.dense_graph_from = 50;
  {
    // The saved graph loads and answers at once; being past the dense size it is rebuilt, with
    // the new chunks, in the background.
    SearchService s(*db, *embedder, config);
    same_as_reference(s, "before the rebuild");
    s.WaitForBackgroundWork();
    EXPECT_EQ(s.stats("alice").graph_vectors, 65u);
    EXPECT_EQ(s.stats("alice").tail_vectors, 0u);
    EXPECT_EQ(s.stats("alice").graph_links, 32);
    same_as_reference(s, "after the rebuild");
    s.Flush();
  }
  config.dense_graph_from = 1000000;
  {
    SearchService s(*db, *embedder, config);  // a denser graph than needed is kept as it is
    same_as_reference(s, "restarted");
    s.WaitForBackgroundWork();
    EXPECT_EQ(s.stats("alice").graph_links, 32);
    EXPECT_EQ(s.stats("alice").graph_vectors, 65u);
  }
}

TEST_P(AnySearchTest, HybridMovesTheVectorQueryTowardTheKeywordLegsBestChunks) {
  auto embedder = embed::NewLocalEmbedder(256);
  const std::string a = Ready("alice", {"zinc supplementation trial in children with diarrhea"}, *embedder);
  const std::string b = Ready("alice", {"supplementation trial in children with persistent diarrhea"}, *embedder);
  const std::string c = Ready("alice", {"northern line railway timetable changes"}, *embedder);
  auto score_of = [&](SearchService& s, const std::string& document) {
    auto hits = s.Search({"alice", "zinc", {}, 10, Mode::kHybrid});
    EXPECT_TRUE(hits.ok());
    for (const Hit& h : *hits) {
      if (h.chunk.document_id == document) return h.score;
    }
    return 0.0;
  };
  // Only `a` holds the word; `b` says the rest of what `a` says, `c` nothing of it.
  config.hybrid_expansion = 0;  // the vector leg's feedback alone
  config.rescore_depth = 0;      // the first stage's scores
  config.vector_weight = 1.0;
  config.hybrid_feedback = 0;
  SearchService plain(*db, *embedder, config);
  config.hybrid_feedback = 10;
  SearchService fed(*db, *embedder, config);
  auto hits = fed.Search({"alice", "zinc", {}, 3, Mode::kHybrid});
  ASSERT_TRUE(hits.ok());
  ASSERT_GE(hits->size(), 2u);
  EXPECT_EQ((*hits)[0].chunk.document_id, a);
  EXPECT_EQ((*hits)[1].chunk.document_id, b);
  EXPECT_GT(score_of(fed, b), score_of(plain, b) + 0.3);  // its vector now resembles the query's
  EXPECT_GT(score_of(fed, b), score_of(fed, c) + 0.3);
  // The vector mode is the query's own vector, unmoved.
  auto vector = fed.Search({"alice", "zinc", {}, 3, Mode::kVector});
  auto unmoved = plain.Search({"alice", "zinc", {}, 3, Mode::kVector});
  ASSERT_TRUE(vector.ok() && unmoved.ok());
  ASSERT_EQ(vector->size(), unmoved->size());
  for (size_t i = 0; i < vector->size(); ++i) EXPECT_DOUBLE_EQ((*vector)[i].score, (*unmoved)[i].score);
}

TEST_P(AnySearchTest, HybridExpandsTheKeywordQueryWithItsBestChunksWords) {
  auto embedder = embed::NewLocalEmbedder(256);
  const std::string a = Ready("alice", {"zinc supplementation trial in children with diarrhea"}, *embedder);
  const std::string b = Ready("alice", {"supplementation trial in children with persistent diarrhea"}, *embedder);
  const std::string c = Ready("alice", {"northern line railway timetable changes"}, *embedder);
  const std::string d = Ready("alice", {"a trial of the new timetable"}, *embedder);
  for (const char* filler : {"bus depot opening hours", "ferry ticket prices", "tram network map", "airport parking"}) {
    Ready("alice", {filler}, *embedder);  // words shared by two chunks of eight are rare enough to count
  }
  const std::string other = Ready("bob", {"persistent diarrhea supplementation"}, *embedder);
  config.vector_weight = 0;  // the keyword leg alone decides the scores
  config.rescore_depth = 0;  // (the first stage's)
  config.hybrid_expansion = 0;
  SearchService plain(*db, *embedder, config);
  config.hybrid_expansion = 10;
  SearchService expanded(*db, *embedder, config);
  auto scores = [](const Result<std::vector<Hit>>& hits) {
    std::map<std::string, double> out;
    for (const Hit& h : *hits) out[h.chunk.document_id] = h.score;
    return out;
  };
  // Only `a` holds the word: without expansion nothing else scores.
  auto before = plain.Search({"alice", "zinc", {}, 10, Mode::kHybrid});
  ASSERT_TRUE(before.ok());
  EXPECT_GT(scores(before)[a], 0);
  EXPECT_EQ(scores(before)[b], 0);
  // Expanded with `a`'s words, `b` (which shares most of them) is found below `a`, `d` (one)
  // below `b`; `c` shares none.
  auto after = expanded.Search({"alice", "zinc", {}, 10, Mode::kHybrid});
  ASSERT_TRUE(after.ok());
  ASSERT_GE(after->size(), 3u);
  EXPECT_EQ((*after)[0].chunk.document_id, a);
  EXPECT_EQ((*after)[1].chunk.document_id, b);
  EXPECT_EQ((*after)[2].chunk.document_id, d);
  EXPECT_GT(scores(after)[b], 0.2);
  EXPECT_EQ(scores(after)[c], 0);
  for (const Hit& h : *after) EXPECT_NE(h.chunk.document_id, other);  // bob's chunk shares words, not alice's index
  // Scoped: expansion stays within the documents asked for.
  auto scoped = expanded.Search({"alice", "zinc", {a, c}, 10, Mode::kHybrid});
  ASSERT_TRUE(scoped.ok());
  for (const Hit& h : *scoped) EXPECT_NE(h.chunk.document_id, b);
  // The keyword mode is the query's own words.
  auto keyword = expanded.Search({"alice", "zinc", {}, 10, Mode::kKeyword});
  ASSERT_TRUE(keyword.ok());
  ASSERT_EQ(keyword->size(), 1u);
  EXPECT_EQ((*keyword)[0].chunk.document_id, a);
}

TEST_P(AnySearchTest, EveryChunkIsIndexedWithItsDocumentsTitle) {
  auto embedder = embed::NewLocalEmbedder(64);
  const std::string report = Ready("alice", {"Revenue grew in the quarter.", "Costs fell."}, *embedder,
                                   "Zephyrcorp_Quarterly-Report.pdf");
  Ready("alice", {"Revenue of another company grew."}, *embedder, "other.pdf");
  SearchService s(*db, *embedder, config);
  // Only the file name says "zephyrcorp": both of its chunks are found by it.
  auto hits = s.Search({"alice", "zephyrcorp revenue", {}, 10, Mode::kKeyword});
  ASSERT_TRUE(hits.ok());
  ASSERT_GE(hits->size(), 2u);
  EXPECT_EQ((*hits)[0].chunk.document_id, report);
  EXPECT_EQ((*hits)[1].chunk.document_id, report);
  EXPECT_EQ(hits->at(0).chunk.context, "");  // the stored context is untouched
  EXPECT_EQ(store::TitleOfFile("Zephyrcorp_Quarterly-Report.pdf"), "Zephyrcorp Quarterly Report");
  EXPECT_EQ(store::TitleOfFile("dir/2023 Q3 AAPL.10q.pdf"), "2023 Q3 AAPL 10q");
  EXPECT_EQ(store::TitleOfFile("README"), "README");
  EXPECT_EQ(store::TitleOfFile(".env"), "env");
}

class PgvectorSearchTest : public SearchTestBase {
 protected:
  Backend backend() const override { return Backend::kPgvector; }
  Result<std::unique_ptr<store::pg::Connection>> Connect() { return store::pg::Connection::Open(database_url, 5); }
};

TEST_F(PgvectorSearchTest, EachModelGetsAnHnswIndexAndAFilteredSearchStillAnswersKOfTheUsersOwn) {
  auto embedder = embed::NewLocalEmbedder(32);
  std::vector<std::string> many;
  for (int i = 0; i < 600; ++i) many.push_back("melatonin sleep note " + std::to_string(i));
  Ready("bob", many, *embedder);
  std::vector<std::string> few;
  for (int i = 0; i < 15; ++i) few.push_back("melatonin sleep diary of alice, entry " + std::to_string(i));
  const std::string mine = Ready("alice", few, *embedder);
  ASSERT_TRUE(db->search().SetActiveModel({embedder->model().id, 32}, 1).ok());
  config.ef_search = 10;  // the index alone would see 10 candidates, nearly all of them bob's
  config.exact_below = 0;  // through the index however few vectors the scope holds
  // The index a release before made (vector(32), named without the "h"): replaced.
  uint64_t fnv = 1469598103934665603ULL;
  for (unsigned char ch : embedder->model().id) fnv = (fnv ^ ch) * 1099511628211ULL;
  char legacy[64];
  std::snprintf(legacy, sizeof legacy, "chunk_vectors_hnsw_32_%016" PRIx64, fnv);
  auto conn = Connect();
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  ASSERT_TRUE((*conn)->Script(std::string("CREATE INDEX ") + legacy + " ON chunk_vectors USING hnsw ((embedding::vector(32)) "
                              "vector_cosine_ops) WHERE model = '" + embedder->model().id + "' AND dimension = 32").ok());
  SearchService s(*db, *embedder, config);
  ASSERT_TRUE(s.Preload().ok());
  s.WaitForBackgroundWork();
  auto old_index = (*conn)->Exec("SELECT count(*) FROM pg_indexes WHERE indexname = $1", store::pg::Params().Add(legacy));
  ASSERT_TRUE(old_index.ok()) << old_index.status().message();
  EXPECT_EQ(old_index->Int(0, 0), 0) << "the vector(32) index of a release before is dropped";
  auto index = (*conn)->Exec("SELECT count(*) FROM pg_indexes i JOIN pg_index x ON x.indexrelid = "
                             "to_regclass(i.indexname) WHERE i.indexname LIKE 'chunk_vectors_hnsw_h32_%' AND "
                             "x.indisvalid AND i.indexdef LIKE '%hnsw%halfvec(32)%halfvec_cosine_ops%'");
  ASSERT_TRUE(index.ok()) << index.status().message();
  EXPECT_EQ(index->Int(0, 0), 1) << "one valid HNSW index for the model";
  // Only the HNSW index can order rows now: searches go through it, filtered by owner.
  const std::string database = database_url.substr(database_url.rfind('/') + 1);
  ASSERT_TRUE((*conn)->Script("ALTER DATABASE " + database + " SET enable_seqscan = off; ALTER DATABASE " + database +
                              " SET enable_sort = off").ok());
  auto fresh = store::OpenPostgresStore({database_url});  // new connections take the settings
  ASSERT_TRUE(fresh.ok());
  SearchService through_index(**fresh, *embedder, config);
  auto hits = through_index.Search({"alice", "melatonin sleep", {}, 10, Mode::kVector});
  ASSERT_TRUE(hits.ok()) << hits.status().message();
  ASSERT_EQ(hits->size(), 10u) << "the scan went on until 10 of alice's chunks passed the filter";
  for (const Hit& h : *hits) EXPECT_EQ(h.chunk.document_id, mine);
  // Against the exact ranking of the in-process index over the same store.
  SearchConfig exact = config;
  exact.vector_store = "local";
  SearchService local_search(*db, *embedder, exact);
  auto want = local_search.Search({"bob", "melatonin sleep note 42", {}, 10, Mode::kVector});
  auto got = through_index.Search({"bob", "melatonin sleep note 42", {}, 10, Mode::kVector});
  ASSERT_TRUE(want.ok() && got.ok());
  int same = 0;
  for (const Hit& w : *want) {
    for (const Hit& g : *got) same += w.chunk.key == g.chunk.key ? 1 : 0;
  }
  EXPECT_GE(same, 8) << "recall@10 against exact search";
}

TEST_F(PgvectorSearchTest, ASmallScopeOrOneTheIndexWalkEndsShortOfIsSearchedExactly) {
  auto embedder = embed::NewLocalEmbedder(32);
  std::vector<std::string> many, few;
  for (int i = 0; i < 400; ++i) many.push_back("melatonin sleep note " + std::to_string(i));
  for (int i = 0; i < 40; ++i) few.push_back("melatonin and sleep, alice's entry " + std::to_string(i * 7));
  Ready("bob", many, *embedder);
  Ready("alice", few, *embedder);
  ASSERT_TRUE(db->search().SetActiveModel({embedder->model().id, 32}, 1).ok());
  config.exact_below = 100;  // alice's 40: exact; bob's 400: through the index
  SearchService build(*db, *embedder, config);
  ASSERT_TRUE(build.Preload().ok());
  build.WaitForBackgroundWork();
  // A starved index from now on: an iterative scan gives up after one tuple, so whatever goes
  // through the index finds next to none of alice's vectors among bob's.
  auto conn = Connect();
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  const std::string database = database_url.substr(database_url.rfind('/') + 1);
  ASSERT_TRUE((*conn)->Script("ALTER DATABASE " + database + " SET hnsw.max_scan_tuples = 1; ALTER DATABASE " +
                              database + " SET hnsw.ef_search = 1").ok());
  auto fresh = store::OpenPostgresStore({database_url});  // new connections take the settings
  ASSERT_TRUE(fresh.ok());
  config.ef_search = 1;
  SearchService s(**fresh, *embedder, config);
  SearchConfig always_index = config;
  always_index.exact_below = 0;
  SearchService through_index(**fresh, *embedder, always_index);
  auto starved = through_index.Search({"alice", "melatonin sleep", {}, 20, Mode::kVector});
  ASSERT_TRUE(starved.ok()) << starved.status().message();
  ASSERT_LT(starved->size(), 20u) << "the index is starved (else this test shows nothing)";
  SearchConfig in_process = config;
  in_process.vector_store = "local";
  in_process.exact_below = 100000;  // the in-process index scans everything: the exact ranking
  SearchService exact(*db, *embedder, in_process);
  // Above exact_below, through the index: a walk that ends short is done again exactly.
  SearchConfig index_first = config;
  index_first.exact_below = 30;
  SearchService walk_then_exact(**fresh, *embedder, index_first);
  for (const char* query : {"melatonin sleep", "alice entry 21", "sleep 133"}) {
    auto want = exact.Search({"alice", query, {}, 20, Mode::kVector});
    ASSERT_TRUE(want.ok()) << query;
    ASSERT_EQ(want->size(), 20u) << query;
    for (SearchService* service : {&s, &walk_then_exact}) {
      auto got = service->Search({"alice", query, {}, 20, Mode::kVector});
      ASSERT_TRUE(got.ok()) << query;
      ASSERT_EQ(got->size(), 20u) << query << (service == &s ? " (exact)" : " (index, then exact)");
      for (size_t i = 0; i < got->size(); ++i) {
        EXPECT_NEAR((*got)[i].score, (*want)[i].score, 0.02) << query << " #" << i;  // (int8 in process)
      }
    }
  }
}

TEST_F(PgvectorSearchTest, KeywordScoresAreTheInProcessIndexsBm25) {
  auto embedder = embed::NewLocalEmbedder(16);
  const std::string nutrition =
      Ready("alice", {"zinc and iron in the diet", "zinc zinc zinc", "iron deficiency anaemia in children",
                      "a long note about sleep and diet and zinc and more words to make it longer than the rest"},
            *embedder, "nutrition.pdf");
  const std::string ore =
      Ready("alice", {"iron ore prices", "iron iron", "zinc ore"}, *embedder, "", "Commodities › Metal Markets");
  Ready("bob", {"zinc zinc zinc zinc"}, *embedder);  // another user's chunks count nowhere
  SearchConfig local_config = config;
  local_config.vector_store = "local";
  SearchService in_db(*db, *embedder, config);
  SearchService in_process(*db, *embedder, local_config);
  // Over all of alice's chunks, and within some documents (whose own statistics then count).
  for (const std::vector<std::string>& scope : {std::vector<std::string>{}, {nutrition}, {ore}, {nutrition, ore}}) {
    for (const char* query : {"zinc", "iron diet", "zinc iron children", "nutrition zinc", "iron ore", "metal markets"}) {
      auto got = in_db.Search({"alice", query, scope, 10, Mode::kKeyword});
      auto want = in_process.Search({"alice", query, scope, 10, Mode::kKeyword});
      ASSERT_TRUE(got.ok() && want.ok()) << query;
      ASSERT_EQ(got->size(), want->size()) << query << " in " << scope.size() << " documents";
      for (size_t i = 0; i < got->size(); ++i) {
        EXPECT_EQ((*got)[i].chunk.key, (*want)[i].chunk.key) << query << " #" << i << " in " << scope.size();
        EXPECT_NEAR((*got)[i].score, (*want)[i].score, 0.02 * (*want)[i].score) << query << " #" << i;
      }
    }
  }
  // Within one document, a word in every one of its chunks weighs nothing there.
  auto iron = in_db.Search({"alice", "iron", {ore}, 10, Mode::kKeyword});
  ASSERT_TRUE(iron.ok());
  auto everywhere = in_db.Search({"alice", "iron", {}, 10, Mode::kKeyword});
  ASSERT_TRUE(everywhere.ok() && !everywhere->empty() && !iron->empty());
  EXPECT_LT(iron->front().score, everywhere->front().score);
}

TEST_F(PgvectorSearchTest, WordFrequenciesCountNoFurtherThanTheBoundAsked) {
  auto embedder = embed::NewLocalEmbedder(16);
  std::vector<std::string> texts;
  for (int i = 0; i < 30; ++i) texts.push_back(i < 3 ? "zinc and iron, note " + std::to_string(i) : "iron note " + std::to_string(i));
  Ready("alice", texts, *embedder);
  Ready("bob", {"zinc zinc", "zinc again"}, *embedder);
  auto words = db->search().QueryWords("zinc iron absent");
  ASSERT_TRUE(words.ok()) << words.status().message();
  ASSERT_EQ(words->size(), 3u);
  std::map<std::string, int64_t> exact, bounded;
  auto all = db->search().WordFrequencies("alice", *words, 0, 1.0);
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(all->second, 30);
  // max(5, 0.1 x 30 chunks) = 5: a word in more chunks is counted as 6, one in fewer exactly.
  auto cut = db->search().WordFrequencies("alice", *words, 5, 0.1);
  ASSERT_TRUE(cut.ok()) << cut.status().message();
  EXPECT_EQ(cut->second, 30);
  for (size_t i = 0; i < words->size(); ++i) {
    exact[(*words)[i]] = all->first[i];
    bounded[(*words)[i]] = cut->first[i];
  }
  EXPECT_EQ(exact["zinc"], 3);
  EXPECT_EQ(exact["iron"], 30);
  EXPECT_EQ(exact["absent"], 0);
  EXPECT_EQ(bounded["zinc"], 3);
  EXPECT_EQ(bounded["iron"], 6);
  EXPECT_EQ(bounded["absent"], 0);
}

TEST_F(SearchTest, AChunksSectionIsSearchedAndReturnedWithIt) {
  auto embedder = embed::NewLocalEmbedder(32);
  const std::string sheet = Ready("alice", {"Inventories | 7,351 | 4,946"}, *embedder, "",
                                  "Item 1. Financial Statements › CONDENSED CONSOLIDATED BALANCE SHEETS");
  Ready("alice", {"other words entirely", "more words about sheets of paper"}, *embedder);
  SearchService s(*db, *embedder, config);
  auto hits = s.Search({"alice", "balance sheets inventories", {}, 10, Mode::kKeyword});
  ASSERT_TRUE(hits.ok()) << hits.status().message();
  ASSERT_FALSE(hits->empty());
  EXPECT_EQ((*hits)[0].chunk.document_id, sheet);
  EXPECT_EQ((*hits)[0].chunk.section, "Item 1. Financial Statements › CONDENSED CONSOLIDATED BALANCE SHEETS");
  auto by_heading = s.Search({"alice", "financial statements", {}, 10, Mode::kKeyword});
  ASSERT_TRUE(by_heading.ok());
  ASSERT_EQ(by_heading->size(), 1u);  // only the heading holds these words
  EXPECT_EQ((*by_heading)[0].chunk.document_id, sheet);
}

TEST_P(AnySearchTest, HybridScoresItsBestCandidatesAgainWithTheirText) {
  auto embedder = embed::NewLocalEmbedder(64);
  // The first stage prefers the prose that repeats the words; the statement's row holds them
  // together, among its figures.
  const std::string prose = Ready("alice", {"Net sales rose. The total of our customers grew and sales of services "
                                            "were higher, so net sales in total were a record; net sales, sales, "
                                            "total, total net."}, *embedder);
  const std::string row = Ready("alice", {"Total net sales | 82,959 | 81,797 | 304,182 | 303,185 | Cost of sales | "
                                          "47,081 | 45,672 | Gross margin | 35,878 | 36,125 | Operating income | 22,998"},
                                *embedder);
  for (const char* filler : {"bus depot opening hours", "ferry ticket prices", "tram network map"}) {
    Ready("alice", {filler}, *embedder);
  }
  const std::string question = "What were total net sales?";
  config.rescore_depth = 0;
  SearchService first(*db, *embedder, config);
  ASSERT_EQ(Found(first, "alice", question, Mode::kHybrid).at(0), prose);  // what the first stage alone answers
  config.rescore_depth = 50;
  SearchService second(*db, *embedder, config);
  auto hits = second.Search({"alice", question, {}, 10, Mode::kHybrid});
  ASSERT_TRUE(hits.ok()) << hits.status().message();
  ASSERT_GE(hits->size(), 2u);
  EXPECT_EQ((*hits)[0].chunk.document_id, row);
  EXPECT_EQ((*hits)[1].chunk.document_id, prose);
  for (size_t i = 1; i < hits->size(); ++i) EXPECT_GE((*hits)[i - 1].score, (*hits)[i].score);
  // k below the depth: the same first hit, and the keyword mode is BM25's own order.
  auto one = second.Search({"alice", question, {}, 1, Mode::kHybrid});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].chunk.document_id, row);
  EXPECT_EQ(Found(second, "alice", question, Mode::kKeyword).at(0), Found(first, "alice", question, Mode::kKeyword).at(0));
}

TEST_P(AnySearchTest, InstructionsOnTheAnswersFormAreNotSearched) {
  auto embedder = embed::NewLocalEmbedder(64);
  const std::string zinc = Ready("alice", {"zinc supplementation in children"}, *embedder);
  const std::string form = Ready("alice", {"answers are rounded to two decimal places"}, *embedder);
  Ready("alice", {"ferry ticket prices"}, *embedder);
  SearchService s(*db, *embedder, config);
  const std::string question = "What does zinc do? Round your answer to two decimal places.";
  for (Mode mode : {Mode::kKeyword, Mode::kHybrid}) {
    std::vector<std::string> found = Found(s, "alice", question, mode);
    ASSERT_FALSE(found.empty());
    EXPECT_EQ(found[0], zinc);
    if (mode == Mode::kKeyword) {
      EXPECT_EQ(found, std::vector<std::string>{zinc});  // the form's words: not searched
    }
  }
  EXPECT_EQ(Found(s, "alice", "Round your answer to two decimal places.", Mode::kKeyword).at(0), form);  // alone: whole
}

TEST_P(AnySearchTest, AbbreviationsAreSearchedWithTheWordsReportsUse) {
  auto embedder = embed::NewLocalEmbedder(64);
  const std::string spelt = Ready("alice", {"Research and development expenses | $1,875 | $1,618"}, *embedder);
  Ready("alice", {"Marketing expenses | $912 | $845"}, *embedder);
  Ready("alice", {"ferry ticket prices"}, *embedder);
  SearchService s(*db, *embedder, config);
  for (Mode mode : {Mode::kKeyword, Mode::kHybrid}) {
    const std::vector<std::string> found = Found(s, "alice", "How did R&D spending change?", mode);
    ASSERT_FALSE(found.empty());
    EXPECT_EQ(found[0], spelt);
  }
}

TEST_P(AnySearchTest, HitsPastTheSecondStagesDepthFollowOnTheSameScale) {
  auto embedder = embed::NewLocalEmbedder(64);
  for (int i = 0; i < 6; ++i) {
    std::string text = "zinc";
    for (int j = 0; j < i; ++j) text += " and other words";
    Ready("alice", {text + " | " + std::to_string(100 + i) + " | " + std::to_string(200 + i)}, *embedder);
  }
  config.rescore_depth = 2;
  SearchService s(*db, *embedder, config);
  auto hits = s.Search({"alice", "what was the total zinc", {}, 10, Mode::kHybrid});
  ASSERT_TRUE(hits.ok()) << hits.status().message();
  ASSERT_EQ(hits->size(), 6u);
  for (size_t i = 1; i < hits->size(); ++i) EXPECT_GE((*hits)[i - 1].score, (*hits)[i].score) << i;
  EXPECT_LE((*hits)[2].score, 1.0);  // past the depth: shares of the best first-stage score
  EXPECT_GT((*hits)[0].score, 1.0);  // within it: the share plus the features
}

TEST_F(SearchTest, OwnersOfNewChunksAreLoadedInTheBackgroundBeforeTheirFirstSearch) {
  auto embedder = embed::NewLocalEmbedder(32);
  Ready("bob", Notes("cardiology", 5), *embedder);  // before the start: loaded at bob's first search
  config.follow_ms = 20;
  config.exact_below = 30;
  config.idle_seconds = 1;
  config.index_dir = dir.File("search");
  SearchService s(*db, *embedder, config);
  ASSERT_TRUE(s.Preload().ok());
  auto wait_for = [&](const std::function<bool()>& done) {  // the follower's pace, not a timing check
    for (int i = 0; i < 1000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return done();
  };
  const std::string a1 = Ready("alice", Notes("oncology", 40), *embedder);
  ASSERT_TRUE(wait_for([&] { return s.stats("alice").chunks == 40; }));
  EXPECT_EQ(s.users_in_memory(), 1u);  // bob has no news
  EXPECT_EQ(s.stats("bob").chunks, 0u);
  ASSERT_TRUE(wait_for([&] { return s.stats("alice").graph_vectors == 40; }));  // built, unasked
  EXPECT_TRUE(std::filesystem::exists(dir.File("search/alice.hnsw")));
  // More of alice's chunks join while she does not search; her answers hold them.
  const std::string a2 = Ready("alice", Notes("dermatology", 5), *embedder);
  ASSERT_TRUE(wait_for([&] { return s.stats("alice").tail_vectors == 5 && s.stats("alice").chunks == 45; }));
  EXPECT_EQ(Found(s, "alice", "dermatology", Mode::kVector).at(0), a2);
  EXPECT_EQ(Found(s, "alice", "dermatology", Mode::kKeyword).at(0), a2);
  // Idle users leave memory even when nobody searches.
  ASSERT_TRUE(wait_for([&] { return s.users_in_memory() == 0; }));
  (void)a1;
}

std::vector<float> RandomUnit(std::mt19937& rng, int dim) {
  std::normal_distribution<float> g;
  std::vector<float> v(static_cast<size_t>(dim));
  float n = 0;
  for (float& x : v) {
    x = g(rng);
    n += x * x;
  }
  for (float& x : v) x /= std::sqrt(n);
  return v;
}

// With either encoding: the reference is an exact index of the same encoding (the scores of
// float queries against stored vectors), which the graph's answers must equal.
void ExactAndCompleteWhileAGraphIsBuilt(index::VectorEncoding encoding) {
  std::mt19937 rng(7);
  const int dim = 8;
  index::HnswOptions options;
  options.encoding = encoding;
  UserIndex u("alice", encoding);
  u.Start({}, std::nullopt, 0);
  u.ResetVectors({"m", dim});
  auto reference = index::NewExactIndex(dim, encoding);
  auto add = [&](int64_t from, int64_t to, const std::string& document) {
    std::vector<int64_t> keys;
    std::vector<float> values;
    std::vector<std::string> documents;
    for (int64_t key = from; key <= to; ++key) {
      const std::vector<float> v = RandomUnit(rng, dim);
      ASSERT_TRUE(reference->Add(key, v).ok());
      keys.push_back(key);
      values.insert(values.end(), v.begin(), v.end());
      documents.push_back(document);
    }
    u.AddVectors(keys, values, documents);
  };
  auto forget = [&](int64_t key) {
    u.Forget(std::vector<int64_t>{key});
    reference->Remove(key);
  };
  auto agrees = [&](const std::string& when) {
    for (int q = 0; q < 20; ++q) {
      const std::vector<float> query = RandomUnit(rng, dim);
      const auto want = reference->Search(query, 100);
      const auto got = u.SearchVectors(query, 100, {}, {"m", dim});
      ASSERT_TRUE(got.has_value());
      ASSERT_EQ(got->size(), want.size()) << when;
      for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ((*got)[i].key, want[i].key) << when << " rank " << i;
    }
  };
  add(1, 20, "d1");
  add(21, 40, "d2");
  EXPECT_FALSE(u.WantsBuild({50}));
  ASSERT_TRUE(u.WantsBuild({16}));
  std::optional<BuildJob> job = u.StartBuild({16});
  ASSERT_TRUE(job.has_value());
  EXPECT_FALSE(u.StartBuild({16}).has_value());  // one build at a time
  EXPECT_EQ(job->keys.size(), 40u);
  EXPECT_EQ(job->through_key, 40);
  // While it builds: new vectors, a removal of a key the build has taken.
  add(41, 45, "d3");
  forget(3);
  agrees("during the build");
  auto graph = index::NewHnswIndex(dim, options);
  ASSERT_TRUE(graph->AddBatch(job->keys, job->values, 2).ok());
  ASSERT_TRUE(u.FinishBuild(*job, std::move(graph)));
  EXPECT_EQ(u.stats().graph_vectors, 40u);
  EXPECT_EQ(u.stats().tail_vectors, 5u);
  EXPECT_EQ(u.stats().dead_vectors, 1u);  // 3: in the new graph, filtered out
  agrees("after the swap");
  forget(10);
  u.ForgetDocument("d3");
  for (int64_t key = 41; key <= 45; ++key) reference->Remove(key);
  agrees("after removals");
  const auto scoped = u.SearchVectors(RandomUnit(rng, dim), 100, {"d1"}, {"m", dim});
  ASSERT_TRUE(scoped.has_value());
  EXPECT_EQ(scoped->size(), 18u);  // d1 without 3 and 10
  // A query embedded with another model (of the same size) is refused, not scored.
  EXPECT_FALSE(u.SearchVectors(RandomUnit(rng, dim), 100, {}, {"other", dim}).has_value());
  // A model change during a build makes it stale: its graph is dropped.
  add(46, 80, "d4");
  job = u.StartBuild({16});
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->dead.size(), 2u);
  u.ResetVectors({"m2", dim});
  EXPECT_FALSE(u.FinishBuild(*job, index::NewHnswIndex(dim, options)));
  EXPECT_EQ(u.stats().graph_vectors, 0u);
}

TEST(UserIndexTest, SearchesStayExactAndCompleteWhileAGraphIsBuiltAndSwappedIn) {
  ExactAndCompleteWhileAGraphIsBuilt(index::VectorEncoding::kFloat32);
  ExactAndCompleteWhileAGraphIsBuilt(index::VectorEncoding::kInt8);
}

// The vector leg on Pinecone (a stand-in speaking its wire format), the keyword leg in this
// process over SQLite or inside PostgreSQL. Vectors reach Pinecone as a worker puts them.
class PineconeSearchTest : public SearchTestBase, public ::testing::WithParamInterface<Backend> {
 protected:
  static constexpr int kDim = 32;
  Backend backend() const override { return GetParam(); }
  void SetUp() override {
    SearchTestBase::SetUp();
    ASSERT_GT(pinecone.port(), 0) << "the Pinecone stand-in did not start (node: scripts/setup.sh)";
    auto m = pinecone::NewPineconeMirror(pinecone.options());
    ASSERT_TRUE(m.ok());
    mirror = std::move(*m);
    config.vector_store = "pinecone";
  }
  // A ready document, its vectors in Pinecone too (put before it shows as ready, as workers do).
  std::string ReadyInPinecone(const std::string& user, const std::vector<std::string>& texts) {
    const std::string id = Ready(user, texts, *embedder);
    Put(user, id, "job_" + id, texts);
    return id;
  }
  void Put(const std::string& user, const std::string& id, const std::string& job, const std::vector<std::string>& texts) {
    auto e = embedder->Embed(texts);
    ASSERT_TRUE(e.ok());
    std::vector<store::MirroredVector> vectors;
    for (size_t i = 0; i < texts.size(); ++i) vectors.push_back({user, {id, job, static_cast<int>(i)}, e->Row(i)});
    ASSERT_TRUE(mirror->Put({embedder->model().id, kDim}, vectors).ok());
  }

  std::unique_ptr<embed::Embedder> embedder = embed::NewLocalEmbedder(kDim);
  pinecone::PineconeTestServer pinecone{kDim};
  std::unique_ptr<store::VectorMirror> mirror;
};

INSTANTIATE_TEST_SUITE_P(KeywordsOn, PineconeSearchTest, ::testing::Values(Backend::kLocal, Backend::kPgvector),
                         [](const ::testing::TestParamInfo<Backend>& p) {
                           return p.param == Backend::kLocal ? "Sqlite" : "Postgres";
                         });

TEST_P(PineconeSearchTest, EachUserSearchesOnlyTheirOwnChunksInEveryMode) {
  const std::string a1 = ReadyInPinecone("alice", {"quantum chromodynamics of gluons", "a recipe for bread"});
  const std::string a2 = ReadyInPinecone("alice", {"gluons bind quarks"});
  const std::string b1 = ReadyInPinecone("bob", {"quantum chromodynamics for bob"});
  SearchService s(*db, *embedder, config, {}, &log, mirror.get());
  EXPECT_EQ(s.retriever(), "pinecone");
  for (Mode mode : {Mode::kKeyword, Mode::kVector, Mode::kHybrid}) {
    const auto alice = Found(s, "alice", "quantum chromodynamics", mode);
    ASSERT_FALSE(alice.empty()) << ModeName(mode);
    EXPECT_EQ(alice[0], a1) << ModeName(mode);
    for (const std::string& d : alice) EXPECT_NE(d, b1) << ModeName(mode);
    EXPECT_EQ(Found(s, "bob", "quantum chromodynamics", mode).at(0), b1);
    EXPECT_EQ(Found(s, "alice", "gluons", mode, {a2}), std::vector<std::string>{a2}) << ModeName(mode);
  }
  // Pinecone was asked in the user's namespace, filtered by document when scoped.
  bool scoped = false;
  for (const auto& e : pinecone.Log()) {
    if (e.value("path", "") != "/query") continue;
    EXPECT_NE(e.value("namespace", ""), "");
    scoped = scoped || e["filter"].dump().find(a2) != std::string::npos;
  }
  EXPECT_TRUE(scoped);
  // Deleted in another process (Pinecone still holds its vectors): never returned.
  ASSERT_TRUE(db->documents().Delete("alice", a2, false, 0).ok());
  const auto left = Found(s, "alice", "gluons bind quarks", Mode::kVector);
  EXPECT_EQ(left.size(), 2u);  // a1's two chunks
  for (const std::string& d : left) EXPECT_EQ(d, a1);
}

TEST_P(PineconeSearchTest, AnOlderVersionsVectorsAreNeverAnsweredAndADeleteDropsThem) {
  const std::string a1 = ReadyInPinecone("alice", {"asparagus soup with lemon", "bread"});
  SearchService s(*db, *embedder, config, {}, &log, mirror.get());
  auto before = s.Search({"alice", "asparagus soup", {}, 10, Mode::kVector});
  ASSERT_TRUE(before.ok());
  ASSERT_FALSE(before->empty());
  const int64_t old_key = (*before)[0].chunk.key;
  // Reprocessed: the new version's vectors are put, then its chunks replace the old ones.
  ASSERT_TRUE(db->documents().Requeue("alice", a1, "job_again", false, 5).ok());
  Put("alice", a1, "job_again", {"asparagus soup, second edition"});
  store::StoredChunk c{a1, 0, 1, 1, 0, 9, "asparagus soup, second edition", ""};
  ASSERT_TRUE(db->documents().CompleteWithChunks(a1, "job_again", 1, 1, 9, {c}, {embedder->model().id, kDim}, 6).ok());
  auto after = s.Search({"alice", "asparagus soup", {}, 10, Mode::kVector});
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);  // the old version's two vectors are still in Pinecone
  EXPECT_NE((*after)[0].chunk.key, old_key);
  EXPECT_EQ((*after)[0].chunk.text, "asparagus soup, second edition");
  EXPECT_EQ(pinecone.Log().back().value("path", ""), "/query");

  // Deleted through this service: Pinecone is asked to drop the document's vectors.
  ASSERT_TRUE(db->documents().Delete("alice", a1, false, 0).ok());
  s.ForgetDocument("alice", a1);
  s.WaitForBackgroundWork();
  bool deleted = false;
  for (const auto& e : pinecone.Log()) deleted = deleted || (e.value("path", "") == "/vectors/delete" &&
                                                             e["filter"].dump().find(a1) != std::string::npos);
  EXPECT_TRUE(deleted);
  std::vector<float> q(kDim, 0.1f);
  auto left = mirror->Query({embedder->model().id, kDim}, {"alice", {}}, q, 10);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
}

TEST_P(PineconeSearchTest, DeletesPineconeMissedAreAskedAgainUntilItDropsTheVectors) {
  const std::string a1 = ReadyInPinecone("alice", {"asparagus soup with lemon"});
  const std::string a2 = ReadyInPinecone("alice", {"bread and butter"});
  const std::string a3 = ReadyInPinecone("alice", {"quantum chromodynamics"});
  const store::VectorModel model{embedder->model().id, kDim};
  std::vector<float> q(kDim, 0.1f);
  auto vectors_of = [&](const std::string& document) {
    auto hits = mirror->Query(model, {"alice", {document}}, q, 10);
    EXPECT_TRUE(hits.ok());
    return hits.ok() ? hits->size() : size_t{0};
  };
  // A process deleted a2 and stopped before Pinecone dropped its vectors: the record stays.
  ASSERT_TRUE(db->documents().Delete("alice", a2, false, 0).ok());
  ASSERT_TRUE(db->search().AddMirrorDelete({"alice", a2, ""}, 1).ok());
  // a3 was reprocessed: its older version's vectors (job_old) are recorded, its current kept.
  Put("alice", a3, "job_old", {"quantum chromodynamics, first edition"});
  ASSERT_EQ(vectors_of(a3), 2u);
  ASSERT_TRUE(db->search().AddMirrorDelete({"alice", a3, "job_old"}, 2).ok());
  config.mirror_retry_ms = 100;
  SearchService s(*db, *embedder, config, {}, &log, mirror.get());
  ASSERT_TRUE(s.Preload().ok());  // asks again at start
  s.WaitForBackgroundWork();
  EXPECT_EQ(vectors_of(a2), 0u);
  {
    auto current = mirror->Query(model, {"alice", {a3}}, q, 10);
    ASSERT_TRUE(current.ok());
    ASSERT_EQ(current->size(), 1u);
    EXPECT_EQ(current->at(0).at.job_id, "job_" + a3);
  }
  auto pending = db->search().MirrorDeletes(10);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());

  // Pinecone fails every try of a1's delete (five, with backoff): asked again a round later.
  pinecone.Inject(R"([{"status":503},{"status":503},{"status":503},{"status":503},{"status":503}])");
  ASSERT_TRUE(db->documents().Delete("alice", a1, false, 0).ok());
  s.ForgetDocument("alice", a1);
  s.WaitForBackgroundWork();  // the first round failed: the faults are spent
  for (int i = 0; i < 400 && vectors_of(a1) > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  EXPECT_EQ(vectors_of(a1), 0u);
  s.WaitForBackgroundWork();
  pending = db->search().MirrorDeletes(10);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
  int failed = 0, after = 0;
  for (const auto& e : pinecone.Log()) {
    if (e.value("path", "") != "/vectors/delete") continue;
    if (e.contains("fault")) ++failed;
    else if (failed == 5) ++after;
  }
  EXPECT_EQ(failed, 5);
  EXPECT_GE(after, 1);
  EXPECT_EQ(vectors_of(a3), 1u);  // nobody else's
}

// The local embedder under another name: a second model of the same dimension (a Pinecone
// index has one dimension).
class Renamed final : public embed::Embedder {
 public:
  Renamed(std::string id, int dimension) : inner_(embed::NewLocalEmbedder(dimension)), model_{std::move(id), dimension} {}
  const embed::EmbeddingModel& model() const override { return model_; }
  Result<embed::Embeddings> Embed(std::span<const std::string> texts) override { return inner_->Embed(texts); }

 private:
  std::unique_ptr<embed::Embedder> inner_;
  embed::EmbeddingModel model_;
};

TEST_P(PineconeSearchTest, AModelChangePutsTheNewModelsVectorsInPineconeThenDropsTheOldOnes) {
  const std::string a1 = ReadyInPinecone("alice", {"quantum chromodynamics", "asparagus soup"});
  const store::VectorModel old_model{embedder->model().id, kDim};
  ASSERT_TRUE(db->search().SetActiveModel(old_model, 1).ok());
  Renamed target("renamed-32", kDim);
  embed::EmbedderFactory models = [&](const embed::EmbeddingModel& m) -> Result<std::unique_ptr<embed::Embedder>> {
    if (m.id == "renamed-32") return std::unique_ptr<embed::Embedder>(std::make_unique<Renamed>(m.id, m.dimension));
    return embed::NewLocalEmbedder(m.dimension);
  };
  SearchService s(*db, target, config, models, &log, mirror.get());
  ingest::Reembedder re(*db, target, models, clock, log, {1, 0.02, 1}, mirror.get());
  std::vector<float> q(kDim, 0.2f);
  for (int steps = 0;; ++steps) {
    ASSERT_LT(steps, 20);
    auto more = re.Step();
    ASSERT_TRUE(more.ok()) << more.status().message();
    if (!*more) break;
    EXPECT_EQ(Found(s, "alice", "asparagus soup", Mode::kVector).at(0), a1);  // never a gap
  }
  EXPECT_EQ(s.model().id, "renamed-32");
  auto fresh = mirror->Query({"renamed-32", kDim}, {"alice", {}}, q, 10);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->size(), 2u);
  for (const auto& h : *fresh) EXPECT_EQ(h.at.job_id, "job_" + a1);
  auto stale = mirror->Query(old_model, {"alice", {}}, q, 10);
  ASSERT_TRUE(stale.ok());
  EXPECT_TRUE(stale->empty()) << "the old model's vectors dropped at the switch";
  EXPECT_EQ(Found(s, "alice", "asparagus soup", Mode::kVector).at(0), a1);
}

TEST_P(PineconeSearchTest, WhilePineconeFailsVectorSearchIsUnavailableAndHybridAnswersFromKeywords) {
  const std::string a1 = ReadyInPinecone("alice", {"quantum chromodynamics"});
  SearchService s(*db, *embedder, config, {}, &log, mirror.get());
  // Queries try twice: two failures for vector search, two for hybrid's vector leg.
  pinecone.Inject(R"([{"status":503},{"status":503},{"status":503},{"status":503}])");
  EXPECT_EQ(s.Search({"alice", "quantum", {}, 10, Mode::kVector}).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Found(s, "alice", "quantum", Mode::kHybrid), std::vector<std::string>{a1});
  // Recovered.
  EXPECT_EQ(Found(s, "alice", "quantum", Mode::kVector), std::vector<std::string>{a1});
}

}  // namespace
}  // namespace betterdev::search
