// The store's contract (store/store.hpp), run against each implementation: SQLite (a file in a
// temporary directory) and PostgreSQL (a real server started here, a fresh database per test).
#include "store/postgres/pg.hpp"
#include "store/postgres/pg_store.hpp"
#include "store/postgres/pg_test_server.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "core/random.hpp"
#include "core/time.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::store {
namespace {

using testutil::TempDir;

enum class Backend { kSqlite, kPostgres };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// One server for the whole binary: started on first use, stopped at exit.
PgTestServer& Postgres() {
  static PgTestServer server;
  return server;
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      ASSERT_TRUE(Postgres().running()) << "PostgreSQL did not start (postgresql-15: scripts/setup.sh)";
      url = Postgres().NewDatabase();
    }
    auto s = Open();
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store = std::move(*s);
    alice = AddUser("alice@example.com");
    bob = AddUser("bob@example.com");
  }

  // Another handle on this test's database (as another process would open it).
  Result<std::unique_ptr<Store>> Open() {
    if (GetParam() == Backend::kSqlite) return OpenSqliteStore({dir.File("t.db")});
    return OpenPostgresStore({url});
  }
  // Applies pending migrations again; the versions applied.
  Result<std::vector<int>> MigrateAgain() {
    if (GetParam() == Backend::kSqlite) {
      auto r = MigrateSqlite(dir.File("t.db"));
      if (!r.ok()) return r.status();
      return r->applied;
    }
    auto r = MigratePostgres(url);
    if (!r.ok()) return r.status();
    return r->applied;
  }

  std::string AddUser(const std::string& email) {
    User u{ids.New("usr"), email, "hash", clock.NowMillis()};
    EXPECT_TRUE(store->users().Create(u).ok());
    return u.id;
  }

  Conversation AddConversation(const std::string& user, const std::string& title,
                               std::vector<std::string> docs = {}) {
    Conversation c{ids.New("conv"), user, title, std::move(docs), clock.NowMillis(), clock.NowMillis()};
    EXPECT_TRUE(store->conversations().Create(c).ok());
    return c;
  }

  TempDir dir;
  std::string url;  // PostgreSQL: this test's database
  SystemClock clock;
  IdGenerator ids{clock};
  std::unique_ptr<Store> store;
  std::string alice, bob;
};

TEST_P(StoreTest, UsersAreUniqueByEmailIgnoringCase) {
  User dup{ids.New("usr"), "ALICE@example.com", "h", 1};
  EXPECT_EQ(store->users().Create(dup).code(), StatusCode::kConflict);
  auto found = store->users().FindByEmail("Alice@Example.com");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->id, alice);
  EXPECT_EQ(found->email, "alice@example.com");
  EXPECT_EQ(store->users().FindByEmail("nobody@example.com").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->users().FindById(bob)->email, "bob@example.com");
}

TEST_P(StoreTest, TokensRevokeOnlyForTheirOwner) {
  AccessToken t{ids.New("tok"), alice, "hash-1", 10, 1000, {}};
  ASSERT_TRUE(store->tokens().Create(t).ok());
  EXPECT_EQ(store->tokens().Revoke(bob, t.id, 20).code(), StatusCode::kNotFound);
  EXPECT_FALSE(store->tokens().FindByHash("hash-1")->revoked_at.has_value());
  ASSERT_TRUE(store->tokens().Revoke(alice, t.id, 20).ok());
  EXPECT_EQ(store->tokens().FindByHash("hash-1")->revoked_at, 20);
  auto removed = store->tokens().DeleteExpired(2000);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1);
  EXPECT_EQ(store->tokens().FindByHash("hash-1").status().code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, ApiKeysListDeleteAndIsolation) {
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(store->api_keys()
                    .Create({ids.New("key"), alice, "k" + std::to_string(i), "bd_sk_abc", "h" + std::to_string(i), 1, {}})
                    .ok());
  auto page = store->api_keys().List(alice, {2, {}});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_TRUE(page->has_more);
  EXPECT_EQ(page->items[0].name, "k2");  // newest first
  auto rest = store->api_keys().List(alice, {2, page->items.back().id});
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_FALSE(rest->has_more);
  EXPECT_EQ(rest->items[0].name, "k0");
  EXPECT_TRUE(store->api_keys().List(bob, {50, {}})->items.empty());

  std::string id = page->items[0].id;
  EXPECT_EQ(store->api_keys().Delete(bob, id).code(), StatusCode::kNotFound);
  ASSERT_TRUE(store->api_keys().TouchLastUsed(id, 99).ok());
  EXPECT_EQ(store->api_keys().FindByHash("h2")->last_used_at, 99);
  EXPECT_TRUE(store->api_keys().Delete(alice, id).ok());
  EXPECT_EQ(store->api_keys().FindByHash("h2").status().code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, ConversationCrudKeepsDocumentOrder) {
  Conversation c = AddConversation(alice, "first", {"doc_b", "doc_a", "doc_c"});
  auto got = store->conversations().Get(alice, c.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->title, "first");
  EXPECT_EQ(got->document_ids, (std::vector<std::string>{"doc_b", "doc_a", "doc_c"}));

  ConversationPatch patch{"renamed", std::vector<std::string>{"doc_z"}};
  auto updated = store->conversations().Update(alice, c.id, patch, c.updated_at + 5);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->title, "renamed");
  EXPECT_EQ(updated->document_ids, std::vector<std::string>{"doc_z"});
  EXPECT_EQ(updated->updated_at, c.updated_at + 5);
  EXPECT_EQ(updated->created_at, c.created_at);

  ConversationPatch title_only{"again", std::nullopt};
  EXPECT_EQ(store->conversations().Update(alice, c.id, title_only, 1)->document_ids, std::vector<std::string>{"doc_z"});

  ASSERT_TRUE(store->conversations().Delete(alice, c.id).ok());
  EXPECT_EQ(store->conversations().Get(alice, c.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->conversations().Delete(alice, c.id).code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, AnotherUsersConversationIsNotFound) {
  Conversation c = AddConversation(alice, "private");
  EXPECT_EQ(store->conversations().Get(bob, c.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->conversations().Update(bob, c.id, {"x", {}}, 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->conversations().Delete(bob, c.id).code(), StatusCode::kNotFound);
  EXPECT_EQ(store->messages().List(bob, c.id, {}).status().code(), StatusCode::kNotFound);
  Message m{ids.New("msg"), c.id, MessageRole::kUser, "hi", 1};
  EXPECT_EQ(store->messages().Append(bob, m).code(), StatusCode::kNotFound);
  EXPECT_TRUE(store->conversations().List(bob, {})->items.empty());
  EXPECT_EQ(store->conversations().Get(alice, c.id)->title, "private");
}

TEST_P(StoreTest, ConversationPagesAreNewestFirstWithoutGapsOrRepeats) {
  std::vector<std::string> created;
  for (int i = 0; i < 23; ++i) created.push_back(AddConversation(alice, "c" + std::to_string(i), {"d" + std::to_string(i)}).id);
  AddConversation(bob, "bob's");
  std::vector<std::string> seen;
  PageRequest req{10, {}};
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 5);
    auto page = store->conversations().List(alice, req);
    ASSERT_TRUE(page.ok());
    for (const auto& c : page->items) {
      seen.push_back(c.id);
      ASSERT_EQ(c.document_ids.size(), 1u);
      EXPECT_EQ("c" + c.document_ids[0].substr(1), c.title);  // documents belong to their conversation
    }
    if (!page->has_more) break;
    req.after_id = page->items.back().id;
  }
  std::vector<std::string> expected(created.rbegin(), created.rend());
  EXPECT_EQ(seen, expected);
}

TEST_P(StoreTest, MessagesAreOldestFirstAndDeletedWithTheirConversation) {
  Conversation c = AddConversation(alice, "chat");
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(store->messages()
                    .Append(alice, {ids.New("msg"), c.id, i % 2 ? MessageRole::kAssistant : MessageRole::kUser,
                                    "m" + std::to_string(i), i})
                    .ok());
  auto page = store->messages().List(alice, c.id, {3, {}});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 3u);
  EXPECT_TRUE(page->has_more);
  EXPECT_EQ(page->items[0].content, "m0");
  EXPECT_EQ(page->items[1].role, MessageRole::kAssistant);
  auto rest = store->messages().List(alice, c.id, {3, page->items.back().id});
  ASSERT_EQ(rest->items.size(), 2u);
  EXPECT_EQ(rest->items[1].content, "m4");
  ASSERT_TRUE(store->conversations().Delete(alice, c.id).ok());
  EXPECT_EQ(store->messages().List(alice, c.id, {}).status().code(), StatusCode::kNotFound);
}

TEST_P(StoreTest, DataSurvivesReopenAndMigrationsRunOnce) {
  Conversation c = AddConversation(alice, "kept");
  store.reset();
  auto again = MigrateAgain();
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->empty());
  auto reopened = Open();
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->conversations().Get(alice, c.id)->title, "kept");
  EXPECT_TRUE((*reopened)->Ping().ok());
}

TEST(SqliteMigrations, FreshDatabaseAppliesEveryMigration) {
  TempDir dir;
  auto report = MigrateSqlite(dir.File("fresh.db"));
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->applied.size(), sqlite::AllMigrations().size());
  EXPECT_EQ(report->current_version, sqlite::AllMigrations().back().version);
}

TEST(SqliteMigrations, UnopenableDatabaseIsUnavailable) {
  TempDir dir;
  auto s = OpenSqliteStore({dir.File("missing-dir/x.db")});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
}

TEST_P(StoreTest, ConcurrentWritersAllSucceed) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        Conversation c{ids.New("conv"), alice, "t", {"d1", "d2"}, 1, 1};
        if (!store->conversations().Create(c).ok()) ++failures;
        if (!store->conversations().List(alice, {5, {}}).ok()) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store->conversations().List(alice, {1000, {}})->items.size(), 200u);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres), BackendName);

}  // namespace
}  // namespace betterdev::store

namespace betterdev::store {
namespace {

class DocumentStoreTest : public StoreTest {
 protected:
  Document AddDocument(const std::string& user, const std::string& sha, const std::string& job) {
    Document d;
    d.id = ids.New("doc");
    d.user_id = user;
    d.filename = "f.pdf";
    d.content_type = "application/pdf";
    d.size_bytes = 10;
    d.sha256 = sha;
    d.job_id = job;
    d.created_at = d.updated_at = clock.NowMillis();
    EXPECT_TRUE(store->documents().Create(d).ok());
    return d;
  }
  static std::vector<StoredChunk> Chunks(const std::string& doc, int n) {
    std::vector<StoredChunk> out;
    for (int i = 0; i < n; ++i) out.push_back({doc, i, 1, 1, i * 10, i * 10 + 10, "chunk " + std::to_string(i)});
    return out;
  }
  DocumentRepository& docs() { return store->documents(); }
};

TEST_P(DocumentStoreTest, SameBytesTwiceForOneUserIsAConflictButNotAcrossUsers) {
  AddDocument(alice, "aa", "job_1");
  Document again = AddDocument(bob, "aa", "job_2");
  Document d;
  d.id = ids.New("doc");
  d.user_id = alice;
  d.sha256 = "aa";
  EXPECT_EQ(docs().Create(d).code(), StatusCode::kConflict);
  EXPECT_EQ(docs().FindBySha(bob, "aa")->id, again.id);
}

TEST_P(DocumentStoreTest, AStaleAttemptCannotOverwriteANewerOne) {
  Document d = AddDocument(alice, "bb", "job_1");
  // Attempt 1 stalls; its lease expires and attempt 2 starts and finishes.
  ASSERT_TRUE(docs().MarkProcessing(d.id, "job_1", 1, 1).ok());
  ASSERT_TRUE(docs().MarkProcessing(d.id, "job_1", 2, 2).ok());
  EXPECT_EQ(docs().UpdateProgress(d.id, "job_1", 1, {"embedding", 80, 3, 3}, 3).code(), StatusCode::kNotFound);
  ASSERT_TRUE(docs().UpdateProgress(d.id, "job_1", 2, {"embedding", 80, 3, 3}, 3).ok());
  // The stale attempt cannot complete or fail it, nor start again.
  EXPECT_EQ(docs().CompleteWithChunks(d.id, "job_1", 1, 3, 100, Chunks(d.id, 5), {}, 4).code(), StatusCode::kNotFound);
  EXPECT_EQ(docs().MarkAttemptFailed(d.id, "job_1", 1, "timed out", true, 4).code(), StatusCode::kNotFound);
  EXPECT_EQ(docs().MarkProcessing(d.id, "job_1", 1, 4).code(), StatusCode::kNotFound);
  ASSERT_TRUE(docs().CompleteWithChunks(d.id, "job_1", 2, 3, 100, Chunks(d.id, 4), {}, 5).ok());
  // Ready is final for the job: no attempt reopens, fails or completes it again.
  EXPECT_EQ(docs().MarkProcessing(d.id, "job_1", 3, 6).code(), StatusCode::kNotFound);
  EXPECT_EQ(docs().MarkAttemptFailed(d.id, "job_1", 3, "x", true, 6).code(), StatusCode::kNotFound);
  EXPECT_EQ(docs().CompleteWithChunks(d.id, "job_1", 2, 3, 100, Chunks(d.id, 5), {}, 6).code(), StatusCode::kNotFound);
  auto page = docs().ListChunks(alice, d.id, {100, std::nullopt});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(page->items[static_cast<size_t>(i)].ordinal, i);
  Document got = *docs().Get(alice, d.id);
  EXPECT_EQ(got.status, DocumentStatus::kReady);
  EXPECT_EQ(got.chunk_count, 4);
  EXPECT_EQ(got.pages, 3);
  EXPECT_EQ(got.attempts, 2);
  EXPECT_EQ(got.finished_at, 5);
}

TEST_P(DocumentStoreTest, AFailedDocumentStaysFailed) {
  Document d = AddDocument(alice, "bc", "job_1");
  ASSERT_TRUE(docs().MarkProcessing(d.id, "job_1", 3, 1).ok());
  { Status s = docs().MarkAttemptFailed(d.id, "job_1", 3, "lease expired", true, 2); ASSERT_TRUE(s.ok()) << s.message(); }
  EXPECT_EQ(docs().CompleteWithChunks(d.id, "job_1", 3, 1, 10, Chunks(d.id, 2), {}, 3).code(), StatusCode::kNotFound);
  EXPECT_EQ(docs().MarkAttemptFailed(d.id, "job_1", 3, "", false, 3).code(), StatusCode::kNotFound);
  EXPECT_EQ(docs().Get(alice, d.id)->status, DocumentStatus::kFailed);
  // Reprocessing starts over with a new job.
  ASSERT_TRUE(docs().Requeue(alice, d.id, "job_2", false, 4).ok());
  ASSERT_TRUE(docs().MarkProcessing(d.id, "job_2", 1, 5).ok());
  ASSERT_TRUE(docs().CompleteWithChunks(d.id, "job_2", 1, 1, 10, Chunks(d.id, 2), {}, 6).ok());
  EXPECT_EQ(docs().Get(alice, d.id)->status, DocumentStatus::kReady);
}

TEST_P(DocumentStoreTest, AStaleJobCannotTouchTheDocument) {
  Document d = AddDocument(alice, "cc", "job_old");
  ASSERT_TRUE(docs().Requeue(alice, d.id, "job_new", false, 5).ok());
  EXPECT_EQ(docs().MarkProcessing(d.id, "job_old", 1, 6).code(), StatusCode::kNotFound);
  EXPECT_EQ(docs().UpdateProgress(d.id, "job_old", 1, {"extracting", 10, 1, 2}, 6).code(), StatusCode::kNotFound);
  EXPECT_EQ(docs().CompleteWithChunks(d.id, "job_old", 1, 1, 1, Chunks(d.id, 2), {}, 6).code(), StatusCode::kNotFound);
  EXPECT_EQ(docs().MarkAttemptFailed(d.id, "job_old", 1, "x", true, 6).code(), StatusCode::kNotFound);
  EXPECT_EQ(docs().ListChunks(alice, d.id, {10, std::nullopt})->items.size(), 0u);
  EXPECT_EQ(docs().Get(alice, d.id)->status, DocumentStatus::kQueued);
}

TEST_P(DocumentStoreTest, FailedAttemptsRequeueUntilTheFinalOne) {
  Document d = AddDocument(alice, "dd", "job_1");
  ASSERT_TRUE(docs().MarkProcessing(d.id, "job_1", 1, 1).ok());
  ASSERT_TRUE(docs().MarkAttemptFailed(d.id, "job_1", 1, "crashed", false, 2).ok());
  Document got = *docs().Get(alice, d.id);
  EXPECT_EQ(got.status, DocumentStatus::kQueued);
  EXPECT_EQ(got.error, "crashed");
  EXPECT_FALSE(got.finished_at.has_value());
  ASSERT_TRUE(docs().MarkProcessing(d.id, "job_1", 2, 3).ok());
  ASSERT_TRUE(docs().MarkAttemptFailed(d.id, "job_1", 2, "crashed again", true, 4).ok());
  got = *docs().Get(alice, d.id);
  EXPECT_EQ(got.status, DocumentStatus::kFailed);
  EXPECT_EQ(got.attempts, 2);
  EXPECT_EQ(got.finished_at, 4);
}

TEST_P(DocumentStoreTest, DeleteRemovesTheDocumentFromConversations) {
  Document d = AddDocument(alice, "ff", "job_1");
  Conversation c1 = AddConversation(alice, "one", {"doc_a", d.id, "doc_b"});
  Conversation c2 = AddConversation(alice, "two", {d.id});
  Conversation c3 = AddConversation(alice, "three", {d.id + "x", "doc_c"});
  Conversation other = AddConversation(bob, "bob's", {d.id});
  ASSERT_TRUE(docs().Delete(alice, d.id, false, 0).ok());
  EXPECT_EQ(store->conversations().Get(alice, c1.id)->document_ids, (std::vector<std::string>{"doc_a", "doc_b"}));
  EXPECT_TRUE(store->conversations().Get(alice, c2.id)->document_ids.empty());
  EXPECT_EQ(store->conversations().Get(alice, c3.id)->document_ids, (std::vector<std::string>{d.id + "x", "doc_c"}));
  EXPECT_EQ(store->conversations().Get(bob, other.id)->document_ids, (std::vector<std::string>{d.id}));
}

TEST_P(DocumentStoreTest, DeleteRemovesChunksAndIsPerUser) {
  Document d = AddDocument(alice, "ee", "job_1");
  ASSERT_TRUE(docs().CompleteWithChunks(d.id, "job_1", 1, 1, 10, Chunks(d.id, 3), {}, 2).ok());
  EXPECT_EQ(docs().Delete(bob, d.id, false, 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(docs().ListChunks(bob, d.id, {10, std::nullopt}).status().code(), StatusCode::kNotFound);
  auto removed = docs().Delete(alice, d.id, false, 0);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->sha256, "ee");
  EXPECT_EQ(*docs().BlobGarbage(10), std::vector<std::string>{"ee"});
  EXPECT_EQ(docs().Get(alice, d.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(docs().CompleteWithChunks(d.id, "job_1", 1, 1, 10, Chunks(d.id, 3), {}, 3).code(), StatusCode::kNotFound);
  EXPECT_TRUE(store->search().MirrorDeletes(10)->empty()) << "no vector mirror, nothing recorded";
}

// With a vector mirror a reprocess records the job it replaces and a delete the whole document,
// each in its own transaction: an unknown document records nothing; a record is kept once.
TEST_P(DocumentStoreTest, RequeueAndDeleteForAVectorMirrorRecordTheVectorsToDropAtOnce) {
  Document d = AddDocument(alice, "ef", "job_1");
  ASSERT_TRUE(docs().CompleteWithChunks(d.id, "job_1", 1, 1, 10, Chunks(d.id, 2), {}, 2).ok());
  EXPECT_EQ(docs().Requeue(bob, d.id, "job_2", true, 3).code(), StatusCode::kNotFound);
  EXPECT_EQ(docs().Delete(bob, d.id, true, 3).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store->search().MirrorDeletes(10)->empty());
  ASSERT_TRUE(docs().Requeue(alice, d.id, "job_2", true, 4).ok());
  auto pending = store->search().MirrorDeletes(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->at(0).job_id, "job_1");
  ASSERT_TRUE(store->search().RemoveMirrorDelete(pending->at(0)).ok());
  ASSERT_TRUE(docs().Delete(alice, d.id, true, 5).ok());
  pending = store->search().MirrorDeletes(10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->at(0).user_id, alice);
  EXPECT_EQ(pending->at(0).document_id, d.id);
  EXPECT_EQ(pending->at(0).job_id, "");
  // The mirror retriever records it again before asking the mirror: still one record.
  ASSERT_TRUE(store->search().AddMirrorDelete({alice, d.id, ""}, 6).ok());
  EXPECT_EQ(store->search().MirrorDeletes(10)->size(), 1u);
}

// Blob lifetimes (store.hpp): removal is decided in the database, so it is safe across processes.
TEST_P(DocumentStoreTest, ABlobGoesWithTheLastDocumentNamingItAndOnlyThen) {
  Document a = AddDocument(alice, "ff", "job_1");
  Document b = AddDocument(bob, "ff", "job_2");
  int removals = 0;
  auto remove = [&] {
    ++removals;
    return Status::Ok();
  };
  ASSERT_TRUE(docs().Delete(alice, a.id, false, 0).ok());
  EXPECT_TRUE(docs().BlobGarbage(10)->empty()) << "bob's document still names the bytes";
  EXPECT_FALSE(*docs().CollectBlob("ff", clock.NowMillis(), remove));
  ASSERT_TRUE(docs().Delete(bob, b.id, false, 0).ok());
  EXPECT_TRUE(*docs().CollectBlob("ff", clock.NowMillis(), remove));
  EXPECT_EQ(removals, 1);
  EXPECT_TRUE(docs().BlobGarbage(10)->empty());
  EXPECT_FALSE(*docs().CollectBlob("ff", clock.NowMillis(), remove)) << "not garbage any more";
  EXPECT_EQ(removals, 1);
}

TEST_P(DocumentStoreTest, APinnedBlobStaysUntilThePinEndsAndANewDocumentKeepsIt) {
  Document a = AddDocument(alice, "ab", "job_1");
  int removals = 0;
  auto remove = [&] {
    ++removals;
    return Status::Ok();
  };
  const int64_t now = clock.NowMillis();
  auto pin = docs().PinBlob("ab", now, now + 1000);  // an upload of the same bytes commits
  ASSERT_TRUE(pin.ok());
  ASSERT_TRUE(docs().Delete(alice, a.id, false, 0).ok());
  EXPECT_FALSE(*docs().CollectBlob("ab", now, remove));
  EXPECT_EQ(*docs().BlobGarbage(10), std::vector<std::string>{"ab"}) << "judged again when the pin ends";
  // The upload's document is created and its pin ends: the blob is in use.
  AddDocument(bob, "ab", "job_2");
  ASSERT_TRUE(docs().UnpinBlob(*pin).ok());
  EXPECT_FALSE(*docs().CollectBlob("ab", now, remove));
  EXPECT_TRUE(docs().BlobGarbage(10)->empty());
  // Two uploads of the same bytes pin them apart: one ending its pin leaves the other's.
  Document e = AddDocument(alice, "0e", "job_4");
  auto first = docs().PinBlob("0e", now, now + 1000), second = docs().PinBlob("0e", now, now + 1000);
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(docs().UnpinBlob(*first).ok());
  ASSERT_TRUE(docs().Delete(alice, e.id, false, 0).ok());
  EXPECT_FALSE(*docs().CollectBlob("0e", now, remove));
  ASSERT_TRUE(docs().UnpinBlob(*second).ok());
  EXPECT_TRUE(*docs().CollectBlob("0e", now, remove));
  EXPECT_EQ(removals, 1);
  removals = 0;
  // A pin whose upload never created its document: the blob goes once the pin has ended.
  Document c = AddDocument(alice, "cd", "job_3");
  ASSERT_TRUE(docs().PinBlob("cd", now, now + 1000).ok());  // (never unpinned)
  ASSERT_TRUE(docs().Delete(alice, c.id, false, 0).ok());
  EXPECT_FALSE(*docs().CollectBlob("cd", now + 999, remove));
  EXPECT_TRUE(*docs().CollectBlob("cd", now + 1001, remove));
  EXPECT_EQ(removals, 1);
}

TEST_P(DocumentStoreTest, ABlobWhoseRemovalFailsStaysGarbage) {
  Document a = AddDocument(alice, "ef", "job_1");
  ASSERT_TRUE(docs().Delete(alice, a.id, false, 0).ok());
  auto result = docs().CollectBlob("ef", clock.NowMillis(), [] { return Status::Internal("disk gone"); });
  EXPECT_EQ(result.status().code(), StatusCode::kInternal);
  EXPECT_EQ(*docs().BlobGarbage(10), std::vector<std::string>{"ef"});
  EXPECT_TRUE(*docs().CollectBlob("ef", clock.NowMillis(), [] { return Status::Ok(); }));
}

// The removal happens inside the write transaction that decided it: an upload that pins the
// bytes meanwhile (another connection, as another process would) waits until the blob is gone
// and commits its own copy after; it can never commit between the decision and the unlink.
TEST_P(DocumentStoreTest, APinWaitsForARemovalInProgress) {
  Document a = AddDocument(alice, "0a", "job_1");
  ASSERT_TRUE(docs().Delete(alice, a.id, false, 0).ok());
  std::atomic<bool> removing{false}, pinned{false}, pinned_during_removal{false};
  std::thread uploader;
  auto collected = docs().CollectBlob("0a", clock.NowMillis(), [&] {
    removing = true;
    uploader = std::thread([&] {
      const int64_t now = clock.NowMillis();
      EXPECT_TRUE(docs().PinBlob("0a", now, now + 60000).ok());
      pinned = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the unlink, slowed down
    pinned_during_removal = pinned.load();
    return Status::Ok();
  });
  uploader.join();
  ASSERT_TRUE(collected.ok()) << collected.status().ToString();
  EXPECT_TRUE(*collected);
  EXPECT_TRUE(removing && pinned);
  EXPECT_FALSE(pinned_during_removal) << "the pin went through while the blob was being removed";
}

TEST_P(DocumentStoreTest, ListsNewestFirstWithStatusFilterAndChunkPages) {
  std::vector<Document> all;
  for (int i = 0; i < 5; ++i) all.push_back(AddDocument(alice, "s" + std::to_string(i), "job_" + std::to_string(i)));
  ASSERT_TRUE(docs().CompleteWithChunks(all[1].id, "job_1", 1, 1, 10, Chunks(all[1].id, 7), {}, 2).ok());
  auto ready = docs().List(alice, {10, std::nullopt}, DocumentStatus::kReady);
  ASSERT_EQ(ready->items.size(), 1u);
  EXPECT_EQ(ready->items[0].id, all[1].id);
  auto first = docs().List(alice, {3, std::nullopt}, std::nullopt);
  ASSERT_EQ(first->items.size(), 3u);
  EXPECT_TRUE(first->has_more);
  EXPECT_EQ(first->items[0].id, all[4].id);
  auto rest = docs().List(alice, {3, first->items.back().id}, std::nullopt);
  ASSERT_EQ(rest->items.size(), 2u);
  EXPECT_FALSE(rest->has_more);
  EXPECT_EQ(rest->items[1].id, all[0].id);
  auto c1 = docs().ListChunks(alice, all[1].id, {4, std::nullopt});
  ASSERT_EQ(c1->items.size(), 4u);
  EXPECT_TRUE(c1->has_more);
  auto c2 = docs().ListChunks(alice, all[1].id, {4, ChunkId(all[1].id, c1->items.back().ordinal)});
  ASSERT_EQ(c2->items.size(), 3u);
  EXPECT_EQ(c2->items[0].ordinal, 4);
  EXPECT_FALSE(c2->has_more);
}

INSTANTIATE_TEST_SUITE_P(Backends, DocumentStoreTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres), BackendName);

}  // namespace
}  // namespace betterdev::store

namespace betterdev::store {
namespace {

class SearchStoreTest : public DocumentStoreTest {
 protected:
  // A ready document of `user` whose chunks hold `texts`.
  Document Ready(const std::string& user, const std::string& sha, const std::vector<std::string>& texts,
                 const std::string& context = "", const std::string& section = "") {
    Document d = AddDocument(user, sha, "job_" + sha);
    std::vector<StoredChunk> chunks;
    for (size_t i = 0; i < texts.size(); ++i) {
      chunks.push_back({d.id, static_cast<int>(i), 1, 1, 0, static_cast<int64_t>(texts[i].size()), texts[i], context});
      chunks.back().section = section;
    }
    EXPECT_TRUE(docs().CompleteWithChunks(d.id, d.job_id, 1, 1, 100, chunks, {}, 2).ok());
    return d;
  }
};

TEST_P(SearchStoreTest, TextsOfReadyChunksLoadPerUserInKeyOrderWithContext) {
  Document a1 = Ready(alice, "a1", {"Vitamin D deficiency in children", "Unrelated words about trains"});
  Document pending = AddDocument(alice, "p1", "job_p1");  // not ready: not loaded
  Document b1 = Ready(bob, "b1", {"Zone NA | 12553"}, "Region | Sales", "Item 2. Results › Sales by Region");
  Document a2 = Ready(alice, "a2", {"After bob's"});
  auto all = store->search().TextsAfter(alice, 0, 100);
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->size(), 3u);  // alice's only
  EXPECT_EQ((*all)[0].user_id, alice);
  EXPECT_EQ((*all)[0].document_id, a1.id);
  EXPECT_EQ((*all)[0].text, "Vitamin D deficiency in children");
  EXPECT_EQ((*all)[2].document_id, a2.id);
  EXPECT_LT((*all)[0].chunk_key, (*all)[1].chunk_key);
  auto bobs = store->search().TextsAfter(bob, 0, 100);
  ASSERT_EQ(bobs->size(), 1u);
  EXPECT_EQ((*bobs)[0].user_id, bob);
  EXPECT_EQ((*bobs)[0].document_id, b1.id);
  EXPECT_EQ((*bobs)[0].context, "Region | Sales");
  EXPECT_EQ((*bobs)[0].section, "Item 2. Results › Sales by Region");
  EXPECT_EQ((*all)[0].section, "");
  EXPECT_GT((*all)[2].chunk_key, (*bobs)[0].chunk_key);
  auto refs = store->search().ChunkRefs(alice);
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 3u);
  EXPECT_EQ((*refs)[0].chunk_key, (*all)[0].chunk_key);
  EXPECT_EQ((*refs)[0].document_id, a1.id);
  EXPECT_EQ((*refs)[2].chunk_key, (*all)[2].chunk_key);
  EXPECT_EQ((*refs)[2].document_id, a2.id);
  // Paging: after a key, at most `limit`.
  auto next = store->search().TextsAfter(alice, (*all)[0].chunk_key, 1);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].chunk_key, (*all)[1].chunk_key);
  // The chunks behind the keys; a missing key is left out.
  auto chunks = store->search().ChunksByKey({(*bobs)[0].chunk_key, 999999});
  ASSERT_TRUE(chunks.ok());
  ASSERT_EQ(chunks->size(), 1u);
  EXPECT_EQ((*chunks)[0].document_id, b1.id);
  EXPECT_EQ((*chunks)[0].key, (*bobs)[0].chunk_key);
  EXPECT_EQ((*chunks)[0].context, "Region | Sales");
  EXPECT_EQ((*chunks)[0].section, "Item 2. Results › Sales by Region");
  EXPECT_EQ((*chunks)[0].title, b1.filename);
  // As the API reads them: one chunk, and a document's page of chunks.
  auto one = docs().GetChunk(bob, b1.id, 0);
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(one->section, "Item 2. Results › Sales by Region");
  auto listed = docs().ListChunks(bob, b1.id, {});
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].section, "Item 2. Results › Sales by Region");
  EXPECT_FALSE(b1.filename.empty());
  // A deleted document's chunks are gone.
  ASSERT_TRUE(docs().Delete(alice, a1.id, false, 0).ok());
  auto left = store->search().TextsAfter(alice, 0, 100);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].document_id, a2.id);
  EXPECT_EQ(store->search().ChunkRefs(alice)->size(), 1u);
  EXPECT_EQ(*store->search().LastChunkKey(), (*all)[2].chunk_key);  // deletes do not lower it
  // Who has chunks above a key: bob and alice above 0; alice alone after bob's chunk.
  std::vector<std::string> both{alice, bob};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(store->search().ChunkOwnersAfter(0)->user_ids, both);
  EXPECT_EQ(store->search().ChunkOwnersAfter(0)->through_key, (*all)[2].chunk_key);
  EXPECT_EQ(store->search().ChunkOwnersAfter((*bobs)[0].chunk_key)->user_ids, std::vector<std::string>{alice});
  EXPECT_TRUE(store->search().ChunkOwnersAfter((*all)[2].chunk_key)->user_ids.empty());
  EXPECT_EQ(store->search().ChunkOwnersAfter((*all)[2].chunk_key)->through_key, (*all)[2].chunk_key);
  (void)pending;
}

TEST_P(SearchStoreTest, EmbeddingCacheIsKeyedByModelDimensionAndText) {
  SearchRepository& s = store->search();
  const VectorModel small{"text-embedding-3-small", 2}, other{"text-embedding-3-small", 3};
  ASSERT_TRUE(s.Cache(small, {"aa", "bb"}, {{1, 2}, {3, 4}}, 1).ok());
  auto got = s.Cached(small, {"bb", "cc", "aa"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, (std::vector<std::vector<float>>{{3, 4}, {}, {1, 2}}));
  EXPECT_EQ(*s.Cached(other, {"aa"}), std::vector<std::vector<float>>{{}});  // another dimension
  ASSERT_TRUE(s.Cache(small, {"aa"}, {{5, 6}}, 2).ok());                    // replaced
  EXPECT_EQ(*s.Cached(small, {"aa"}), (std::vector<std::vector<float>>{{5, 6}}));
}

TEST_P(SearchStoreTest, VectorsAreStoredWithChunksAndLoadedByModelInKeyOrder) {
  Document d = AddDocument(alice, "v1", "job_v1");
  std::vector<StoredChunk> chunks = {{d.id, 0, 1, 1, 0, 3, "one", ""}, {d.id, 1, 1, 1, 4, 7, "two", ""}};
  chunks[0].vector = {1, 0};
  chunks[1].vector = {0, 1};
  ASSERT_TRUE(docs().CompleteWithChunks(d.id, d.job_id, 1, 1, 7, chunks, {"m", 2}, 2).ok());
  auto rows = store->search().VectorsAfter({"m", 2}, alice, 0, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_LT((*rows)[0].chunk_key, (*rows)[1].chunk_key);
  EXPECT_EQ((*rows)[0].user_id, alice);
  EXPECT_EQ((*rows)[1].vector, (std::vector<float>{0, 1}));
  EXPECT_TRUE(store->search().VectorsAfter({"m", 3}, alice, 0, 10)->empty());        // other dimension
  EXPECT_TRUE(store->search().VectorsAfter({"other", 2}, alice, 0, 10)->empty());    // other model
  EXPECT_EQ(store->search().VectorsAfter({"m", 2}, alice, (*rows)[0].chunk_key, 10)->size(), 1u);
  // Replaced chunks get new keys, never old ones: an index that saw key K misses nothing.
  const int64_t last = (*rows)[1].chunk_key;
  ASSERT_TRUE(docs().Requeue(alice, d.id, "job_v2", false, 3).ok());  // reprocessed
  ASSERT_TRUE(docs().CompleteWithChunks(d.id, "job_v2", 1, 1, 7, chunks, {"m", 2}, 3).ok());
  auto again = store->search().VectorsAfter({"m", 2}, alice, last, 10);
  ASSERT_EQ(again->size(), 2u);
  ASSERT_TRUE(docs().Delete(alice, d.id, false, 0).ok());
  EXPECT_TRUE(store->search().VectorsAfter({"m", 2}, alice, 0, 10)->empty());  // cascaded
}

TEST_P(SearchStoreTest, VectorsOfTwoModelsSideBySideUntilTheOldAreDropped) {
  SearchRepository& s = store->search();
  const VectorModel old_model{"m", 2}, new_model{"n", 3};
  EXPECT_FALSE(s.ActiveModel()->has_value());
  ASSERT_TRUE(s.SetActiveModel(old_model, 1).ok());
  EXPECT_EQ(**s.ActiveModel(), old_model);
  Document d = AddDocument(alice, "w1", "job_w1");
  std::vector<StoredChunk> chunks = {{d.id, 0, 1, 1, 0, 3, "one", ""}, {d.id, 1, 1, 1, 4, 7, "two", "ctx"}};
  chunks[0].vector = {1, 0};
  chunks[1].vector = {0, 1};
  ASSERT_TRUE(docs().CompleteWithChunks(d.id, d.job_id, 1, 1, 7, chunks, old_model, 2).ok());
  auto missing = s.ChunksWithoutVectors(new_model, 0, 10);
  ASSERT_TRUE(missing.ok());
  ASSERT_EQ(missing->size(), 2u);
  EXPECT_EQ((*missing)[1].context, "ctx");
  EXPECT_TRUE(s.ChunksWithoutVectors(old_model, 0, 10)->empty());
  const int64_t k0 = (*missing)[0].chunk_key, k1 = (*missing)[1].chunk_key;
  // A key whose chunk is gone is skipped, not an error.
  ASSERT_TRUE(s.PutVectors(new_model, {k0, 999999}, {{1, 2, 3}, {4, 5, 6}}).ok());
  EXPECT_EQ(*s.LastVectorKey(new_model), k0);
  EXPECT_EQ(*s.LastVectorKey(old_model), k1);
  EXPECT_EQ(s.ChunksWithoutVectors(new_model, 0, 10)->size(), 1u);
  EXPECT_TRUE(s.ChunksWithoutVectors(new_model, k1, 10)->empty());  // after the cursor
  ASSERT_EQ(s.VectorsAfter(old_model, alice, 0, 10)->size(), 2u);  // both models kept
  ASSERT_EQ(s.VectorsAfter(new_model, alice, 0, 10)->size(), 1u);
  ASSERT_TRUE(s.DropVectorsExcept(new_model).ok());
  EXPECT_TRUE(s.VectorsAfter(old_model, alice, 0, 10)->empty());
  EXPECT_EQ(*s.LastVectorKey(old_model), 0);
  EXPECT_EQ(s.VectorsAfter(new_model, alice, 0, 10)->at(0).vector, (std::vector<float>{1, 2, 3}));
}

TEST_P(SearchStoreTest, DeletedReprocessedAndUnreadyDocumentsAreNotLoaded) {
  auto texts = [&] {
    Result<std::vector<TextRow>> rows = store->search().TextsAfter(alice, 0, 100);
    std::vector<std::string> out;
    if (!rows.ok()) return std::vector<std::string>{"error: " + rows.status().message()};
    for (const TextRow& r : *rows) out.push_back(r.text);
    return out;
  };
  Document gone = Ready(alice, "d1", {"quantum chromodynamics"});
  Document queued = AddDocument(alice, "d2", "job_d2");  // no chunks, not ready
  EXPECT_EQ(texts(), std::vector<std::string>{"quantum chromodynamics"});
  ASSERT_TRUE(docs().Requeue(alice, gone.id, "job_again", false, 5).ok());  // processing again: not ready
  EXPECT_EQ(texts(), std::vector<std::string>{});
  ASSERT_TRUE(docs().CompleteWithChunks(gone.id, "job_again", 1, 1, 10, {{gone.id, 0, 1, 1, 0, 7, "gluons", ""}}, {}, 6).ok());
  EXPECT_EQ(texts(), std::vector<std::string>{"gluons"});  // old chunks replaced
  ASSERT_TRUE(docs().Delete(alice, gone.id, false, 0).ok());
  EXPECT_EQ(texts(), std::vector<std::string>{});
  (void)queued;
}

TEST_P(SearchStoreTest, ChunksNamedByDocumentJobAndOrdinalResolveOnlyInTheirCurrentVersion) {
  SearchRepository& s = store->search();
  Document d = AddDocument(alice, "k1", "job_k1");
  std::vector<StoredChunk> chunks = {{d.id, 0, 1, 1, 0, 3, "one", ""}, {d.id, 1, 1, 1, 4, 7, "two", ""}};
  chunks[0].vector = {1, 0};
  chunks[1].vector = {0, 1};
  ASSERT_TRUE(docs().CompleteWithChunks(d.id, d.job_id, 1, 1, 7, chunks, {"m", 2}, 2).ok());
  auto keys = s.KeysOfChunks(alice, {{d.id, "job_k1", 1}, {d.id, "job_k1", 0}, {d.id, "job_k1", 2}, {d.id, "other", 0}});
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  ASSERT_EQ(keys->size(), 4u);
  EXPECT_GT((*keys)[0], (*keys)[1]);
  EXPECT_GT((*keys)[1], 0);
  EXPECT_EQ((*keys)[2], 0);  // no such ordinal
  EXPECT_EQ((*keys)[3], 0);  // another version
  EXPECT_EQ(*s.KeysOfChunks(bob, {{d.id, "job_k1", 0}}), std::vector<int64_t>{0});  // not bob's
  EXPECT_TRUE(s.KeysOfChunks(alice, {})->empty());
  // Their vectors by key (the seeds of a moved query), of the named model only.
  auto rows = s.VectorsByKey({"m", 2}, {(*keys)[0], 999999});
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].chunk_key, (*keys)[0]);
  EXPECT_EQ((*rows)[0].document_id, d.id);
  EXPECT_EQ((*rows)[0].vector, (std::vector<float>{0, 1}));
  EXPECT_TRUE(s.VectorsByKey({"other", 2}, {(*keys)[0]})->empty());
  // Reprocessing: while it runs nothing resolves; then only the new job's chunks.
  ASSERT_TRUE(docs().Requeue(alice, d.id, "job_k2", false, 3).ok());
  EXPECT_EQ(*s.KeysOfChunks(alice, {{d.id, "job_k1", 0}}), std::vector<int64_t>{0});
  ASSERT_TRUE(docs().CompleteWithChunks(d.id, "job_k2", 1, 1, 7, chunks, {"m", 2}, 3).ok());
  auto now = s.KeysOfChunks(alice, {{d.id, "job_k1", 0}, {d.id, "job_k2", 0}});
  ASSERT_TRUE(now.ok());
  EXPECT_EQ((*now)[0], 0);
  EXPECT_GT((*now)[1], (*keys)[0]);
  ASSERT_TRUE(docs().Delete(alice, d.id, false, 0).ok());
  EXPECT_EQ(*s.KeysOfChunks(alice, {{d.id, "job_k2", 0}}), std::vector<int64_t>{0});
}

INSTANTIATE_TEST_SUITE_P(Backends, SearchStoreTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres), BackendName);

}  // namespace
}  // namespace betterdev::store

namespace betterdev::store {
namespace {

// What only PostgreSQL has to show: many processes at once, a server that goes away.
class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Postgres().running()) << "PostgreSQL did not start (postgresql-15: scripts/setup.sh)";
    url = Postgres().NewDatabase();
  }
  // The test database's URL for another role (trust authentication: no password).
  std::string UrlAs(const std::string& role) const {
    std::string as = url;
    as.replace(as.find("betterdev@"), 10, role + "@");
    return as;
  }
  std::string url;
  SystemClock clock;
  IdGenerator ids{clock};
};

TEST_F(PostgresStoreTest, ProcessesStartingAtOnceMigrateOnce) {
  std::vector<std::thread> threads;
  std::vector<Result<PostgresMigrationReport>> reports(4, Status::Internal("not run"));
  for (size_t i = 0; i < reports.size(); ++i) threads.emplace_back([&, i] { reports[i] = MigratePostgres(url); });
  for (auto& t : threads) t.join();
  size_t applied = 0;
  for (const auto& r : reports) {
    ASSERT_TRUE(r.ok()) << r.status().message();
    applied += r->applied.size();
    EXPECT_EQ(r->current_version, 7);
  }
  EXPECT_EQ(applied, 7u) << "one process applied the schema's seven versions; the others found them done";
}

// Keyword search ranks the best matches first and checks their documents after: however many
// chunks of a document being reprocessed outrank the rest, the ready document's match is found.
TEST_F(PostgresStoreTest, KeywordSearchFindsReadyMatchesBelowManyOfADocumentNotReady) {
  auto opened = OpenPostgresStore({url, 2});
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Store& store = **opened;
  const std::string user = ids.New("usr");
  ASSERT_TRUE(store.users().Create({user, "many@example.com", "h", 1}).ok());
  auto add = [&](const std::string& sha, int n, const std::string& text) {
    Document doc;
    doc.id = ids.New("doc");
    doc.user_id = user;
    doc.filename = sha + ".txt";
    doc.content_type = "text/plain";
    doc.sha256 = sha;
    doc.job_id = "job_" + sha;
    EXPECT_TRUE(store.documents().Create(doc).ok());
    std::vector<StoredChunk> chunks;
    for (int c = 0; c < n; ++c) chunks.push_back({doc.id, c, 1, 1, c, c + 1, text, ""});
    EXPECT_TRUE(store.documents().CompleteWithChunks(doc.id, doc.job_id, 1, 1, 10, chunks, {}, 2).ok());
    return doc;
  };
  const Document ready = add("ready", 1, "a long note that names the zebra once among many other words about animals");
  const Document busy = add("busy", 150, "zebra zebra");
  ASSERT_TRUE(store.documents().Requeue(user, busy.id, "job_again", false, 3).ok());  // chunks kept, not ready
  auto words = store.search().QueryWords("zebra");
  ASSERT_TRUE(words.ok());
  for (int limit : {1, 3}) {
    auto hits = store.search().SearchKeywords({user, {}}, *words, {}, limit);
    ASSERT_TRUE(hits.ok()) << hits.status().message();
    ASSERT_EQ(hits->size(), 1u) << "limit " << limit;
    EXPECT_EQ(hits->at(0).document_id, ready.id);
  }
}

// The keyword postings and each user's word statistics are kept by triggers on chunks: after
// writers completing, reprocessing and deleting documents at once (and a user deleted), they
// hold exactly what the chunks' words say, and nobody deadlocks.
TEST_F(PostgresStoreTest, KeywordPostingsStayExactWhateverChangesTheChunks) {
  auto opened = OpenPostgresStore({url, 8});
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Store& store = **opened;
  const std::string users[] = {ids.New("usr"), ids.New("usr")};
  for (int u = 0; u < 2; ++u) {
    ASSERT_TRUE(store.users().Create({users[u], "terms" + std::to_string(u) + "@example.com", "h", 1}).ok());
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      const std::string& user = users[w % 2];
      for (int d = 0; d < 8; ++d) {
        Document doc;
        doc.id = ids.New("doc");
        doc.user_id = user;
        doc.filename = "notes " + std::to_string(w) + ".txt";
        doc.content_type = "text/plain";
        doc.sha256 = std::to_string(w) + "-" + std::to_string(d);
        doc.job_id = "job_" + doc.id;
        if (!store.documents().Create(doc).ok()) ++failures;
        std::vector<StoredChunk> chunks;
        for (int c = 0; c < 6; ++c) {
          chunks.push_back({doc.id, c, 1, 1, c, c + 1, "zinc iron sleep note " + std::to_string(c * d) + " zinc", "diet"});
        }
        if (!store.documents().CompleteWithChunks(doc.id, doc.job_id, 1, 1, 10, chunks, {}, 2).ok()) ++failures;
        if (d % 3 == 1) {  // reprocessed: fewer chunks
          chunks.resize(2);
          if (!store.documents().Requeue(user, doc.id, doc.job_id + "b", false, 3).ok() ||
              !store.documents().CompleteWithChunks(doc.id, doc.job_id + "b", 1, 1, 10, chunks, {}, 4).ok()) {
            ++failures;
          }
        }
        if (d % 3 == 2 && !store.documents().Delete(user, doc.id, false, 0).ok()) ++failures;
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto conn = pg::Connection::Open(url, 5);
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  auto check = [&](const std::string& when) {
    auto r = (*conn)->Exec(
        "SELECT (SELECT count(*) FROM chunk_terms), (SELECT coalesce(sum(length(words)), 0) FROM chunks), "
        "(SELECT count(*) FROM chunk_terms t WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.id = t.chunk_id)), "
        "(SELECT count(*) FROM user_word_stats s LEFT JOIN (SELECT user_id, count(*) AS n, sum(word_count) AS w "
        "  FROM chunks GROUP BY user_id) c USING (user_id) WHERE s.chunks <> coalesce(c.n, 0) OR s.words <> coalesce(c.w, 0)), "
        "(SELECT count(DISTINCT user_id) FROM chunks WHERE user_id NOT IN (SELECT user_id FROM user_word_stats))");
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_GT(r->Int(0, 0), 0) << when;
    EXPECT_EQ(r->Int(0, 0), r->Int(0, 1)) << when << ": one posting per word of every chunk";
    EXPECT_EQ(r->Int(0, 2), 0) << when << ": postings of chunks gone";
    EXPECT_EQ(r->Int(0, 3), 0) << when << ": statistics that disagree with the chunks";
    EXPECT_EQ(r->Int(0, 4), 0) << when << ": owners without statistics";
  };
  check("after the writers");
  ASSERT_TRUE((*conn)->Exec("DELETE FROM users WHERE id = $1", pg::Params().Add(users[0])).ok());  // cascades
  check("after a user was deleted");
}

// Today's indexes follow new chunks by "keys above the last one I saw". With concurrent
// writers a lower key could commit after a higher one was read and be skipped for ever; the
// feed lock makes keys commit in order. Four writers commit documents at once while a reader
// follows the feed the way the search service does; it must see every chunk exactly once.
TEST_F(PostgresStoreTest, TheChunkFeedSkipsNothingUnderConcurrentWriters) {
  auto opened = OpenPostgresStore({url, 8});
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Store& store = **opened;
  // Keys from just below 2^31 - 1: the writers' tickets (first key modulo 2^31 - 1) wrap to 0
  // midway.
  auto admin = pg::Connection::Open(url, 5);
  ASSERT_TRUE(admin.ok()) << admin.status().message();
  ASSERT_TRUE((*admin)->Script("ALTER SEQUENCE chunk_keys RESTART WITH 2147483000").ok());
  const std::string user = ids.New("usr");
  ASSERT_TRUE(store.users().Create({user, "feed@example.com", "h", 1}).ok());
  constexpr int kWriters = 4, kDocsEach = 15, kChunksEach = 20;
  std::atomic<int> failures{0};
  std::atomic<size_t> committed{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int d = 0; d < kDocsEach; ++d) {
        Document doc;
        doc.id = ids.New("doc");
        doc.user_id = user;
        doc.filename = "f.txt";
        doc.content_type = "text/plain";
        doc.sha256 = std::to_string(w) + "-" + std::to_string(d);
        doc.job_id = "job_" + doc.id;
        if (!store.documents().Create(doc).ok()) ++failures;
        // With vectors: written between drawing the keys and writing the chunks, they widen
        // the window in which a writer with later keys could commit first. Every fifth
        // document fails after its first 256 vectors (its last is of another size): a writer
        // that rolls back holding a ticket.
        const bool fails = d % 5 == 4;
        std::vector<StoredChunk> chunks;
        for (int c = 0; c < (fails ? 300 : kChunksEach); ++c) {
          chunks.push_back({doc.id, c, 1, 1, c, c + 1, "text " + std::to_string(c)});
          chunks.back().vector.assign(64, static_cast<float>(c + 1) / 64.0f);
        }
        if (fails) chunks.back().vector.resize(63);
        const Status s = store.documents().CompleteWithChunks(doc.id, doc.job_id, 1, 1, 10, chunks, {"feed-model", 64}, 2);
        if (s.ok() == fails) ++failures;
        if (s.ok()) committed += chunks.size();
      }
    });
  }
  std::set<int64_t> seen;
  int64_t last = 0;
  size_t repeats = 0;
  auto follow = [&] {
    for (;;) {
      auto rows = store.search().TextsAfter(user, last, 37);
      ASSERT_TRUE(rows.ok()) << rows.status().message();
      if (rows->empty()) return;
      for (const TextRow& r : *rows) {
        if (!seen.insert(r.chunk_key).second) ++repeats;
        last = r.chunk_key;
      }
    }
  };
  std::thread watcher([&] {
    for (auto& w : writers) w.join();
    done = true;
  });
  while (!done) follow();
  watcher.join();
  follow();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(repeats, 0u);
  EXPECT_EQ(committed.load(), static_cast<size_t>(kWriters * (kDocsEach - kDocsEach / 5) * kChunksEach));
  EXPECT_EQ(seen.size(), committed.load()) << "the feed skipped chunks";
  EXPECT_GT(last, int64_t{2147483647}) << "the tickets wrapped";
  auto all = store.search().ChunkRefs(user);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), seen.size());
  auto vectors = store.search().VectorsAfter({"feed-model", 64}, user, 0, 100000);
  ASSERT_TRUE(vectors.ok()) << vectors.status().message();
  EXPECT_EQ(vectors->size(), seen.size()) << "every chunk's vector under its key";
}

// Supabase's Data API roles are granted whatever its `postgres` role creates in `public`
// (default privileges): they must still read and write nothing of betterdev's.
TEST_F(PostgresStoreTest, RolesGrantedTheTablesByDefaultSeeNoRowAndDrawNoKey) {
  auto admin = pg::Connection::Open(url, 5);
  ASSERT_TRUE(admin.ok()) << admin.status().message();
  ASSERT_TRUE((*admin)->Script("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN "
                               "CREATE ROLE anon LOGIN; END IF; END $$; "
                               "GRANT USAGE ON SCHEMA public TO anon; "
                               "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon; "
                               "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon; "
                               "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon")
                  .ok());
  auto opened = OpenPostgresStore({url, 2});  // (migrates: the tables are granted to anon)
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  const std::string user = ids.New("usr");
  ASSERT_TRUE((*opened)->users().Create({user, "owner@example.com", "h", 1}).ok());
  // Default privileges at work (else this test shows nothing): a table made now is anon's.
  ASSERT_TRUE((*admin)->Script("CREATE TABLE probe (x integer)").ok());
  auto granted = (*admin)->Exec("SELECT has_table_privilege('anon', 'probe', 'SELECT'), "
                                "has_table_privilege('anon', 'users', 'SELECT')");
  ASSERT_TRUE(granted.ok()) << granted.status().message();
  ASSERT_TRUE(granted->Bool(0, 0)) << "anon is granted what is made in public";
  EXPECT_FALSE(granted->Bool(0, 1)) << "but not betterdev's tables any more";
  auto anon = pg::Connection::Open(UrlAs("anon"), 5);
  ASSERT_TRUE(anon.ok()) << anon.status().message();
  ASSERT_TRUE((*anon)->Script("SET row_security = on").ok());  // as the Data API runs its queries
  for (const char* sql : {"SELECT count(*) FROM users", "SELECT count(*) FROM documents",
                          "INSERT INTO users(id, email, password_hash, created_at) VALUES ('x', 'x@x', 'h', 1)",
                          "TRUNCATE users", "SELECT draw_chunk_keys(1)", "SELECT nextval('chunk_keys')"}) {
    auto denied = (*anon)->ExecOnce(sql);
    ASSERT_FALSE(denied.ok()) << sql;
    EXPECT_NE(denied.status().message().find("permission denied"), std::string::npos) << denied.status().message();
  }
  // Granted the tables again (by hand, or by a tool): row-level security still leaves no row.
  ASSERT_TRUE((*admin)->Script("GRANT SELECT, INSERT ON users, access_tokens, documents, chunks, schema_migrations TO "
                               "anon").ok());
  for (const char* table : {"users", "access_tokens", "documents", "chunks", "schema_migrations"}) {
    auto rows = (*anon)->ExecOnce(std::string("SELECT count(*) FROM ") + table);
    ASSERT_TRUE(rows.ok()) << table << ": " << rows.status().message();
    EXPECT_EQ(rows->Int(0, 0), 0) << table;
  }
  auto insert = (*anon)->ExecOnce("INSERT INTO users(id, email, password_hash, created_at) VALUES ('x', 'x@x', 'h', 1)");
  ASSERT_FALSE(insert.ok());
  EXPECT_NE(insert.status().message().find("row-level security"), std::string::npos) << insert.status().message();
  // As betterdev opens its connections (row_security off), such a role fails loudly instead
  // of seeing empty tables.
  ASSERT_TRUE((*anon)->Script("SET row_security = off").ok());
  auto loud = (*anon)->ExecOnce("SELECT count(*) FROM users");
  ASSERT_FALSE(loud.ok());
  EXPECT_NE(loud.status().message().find("row-level security"), std::string::npos) << loud.status().message();
  EXPECT_TRUE((*opened)->users().FindByEmail("owner@example.com").ok());
}

// The role betterdev runs as owns the tables and need not be a superuser (Supabase's
// `postgres` is not): with row-level security on every table, its triggers, cascades and
// reference checks still see every row.
TEST_F(PostgresStoreTest, AnOwnerThatIsNoSuperuserMigratesAndWorksUnderRowLevelSecurity) {
  auto admin = pg::Connection::Open(url, 5);
  ASSERT_TRUE(admin.ok()) << admin.status().message();
  ASSERT_TRUE((*admin)->Script("CREATE SCHEMA IF NOT EXISTS extensions; CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA "
                               "extensions; DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app') THEN "
                               "CREATE ROLE app LOGIN NOSUPERUSER NOBYPASSRLS; END IF; END $$; "
                               "GRANT USAGE, CREATE ON SCHEMA public TO app; GRANT USAGE ON SCHEMA extensions TO app")
                  .ok());
  auto opened = OpenPostgresStore({UrlAs("app"), 4});  // migrates as app
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Store& store = **opened;
  auto owner = (*admin)->Exec("SELECT tableowner FROM pg_tables WHERE tablename = 'chunks'");
  ASSERT_TRUE(owner.ok() && owner->size() == 1);
  ASSERT_EQ(owner->Text(0, 0), "app");
  const std::string user = ids.New("usr");
  ASSERT_TRUE(store.users().Create({user, "app@example.com", "h", 1}).ok());
  Document doc;
  doc.id = ids.New("doc");
  doc.user_id = user;
  doc.filename = "notes.txt";
  doc.content_type = "text/plain";
  doc.sha256 = "s";
  doc.job_id = "job_1";
  ASSERT_TRUE(store.documents().Create(doc).ok());
  std::vector<StoredChunk> chunks;
  for (int c = 0; c < 3; ++c) {
    chunks.push_back({doc.id, c, 1, 1, c, c + 1, c == 1 ? "zinc in the diet" : "iron ore"});
    chunks.back().vector.assign(8, static_cast<float>(c + 1));
  }
  ASSERT_TRUE(store.documents().CompleteWithChunks(doc.id, doc.job_id, 1, 1, 10, chunks, {"m", 8}, 2).ok());
  // The postings the insert trigger wrote answer a keyword search.
  auto hits = store.search().SearchKeywords({user, {}}, {"zinc"}, {1.0}, 10);
  ASSERT_TRUE(hits.ok()) << hits.status().message();
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].document_id, doc.id);
  // A delete cascades to chunks, vectors and postings.
  ASSERT_TRUE(store.documents().Delete(user, doc.id, false, 3).ok());
  auto left = (*admin)->Exec("SELECT (SELECT count(*) FROM chunks) + (SELECT count(*) FROM chunk_vectors) + "
                             "(SELECT count(*) FROM chunk_terms)");
  ASSERT_TRUE(left.ok()) << left.status().message();
  EXPECT_EQ(left->Int(0, 0), 0);
}

// Chunk keys are drawn under a session lock (draw_chunk_keys, migration 6). A lock or statement
// timeout that lands as it is granted must not leave it held on the connection: every other
// writer would wait for it for ever.
TEST_F(PostgresStoreTest, DrawingChunkKeysNeverLeavesItsLockHeld) {
  auto opened = OpenPostgresStore({url, 2});  // (migrates)
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  constexpr int kSessions = 6, kDraws = 300;
  std::atomic<int> timeouts{0}, leaks{0}, errors{0};
  std::atomic<bool> drawing{true};
  // Another session holds the lock a millisecond at a time, so that draws time out, some of
  // them just as it is granted.
  std::thread holder([&] {
    auto c = pg::Connection::Open(url, 5);
    if (!c.ok()) {
      ++errors;
      return;
    }
    while (drawing) {
      if (!(*c)->Script("SELECT pg_advisory_lock(1650747, 1); SELECT pg_sleep(0.001); "
                        "SELECT pg_advisory_unlock(1650747, 1)").ok()) {
        ++errors;
      }
    }
  });
  std::vector<std::thread> sessions;
  for (int i = 0; i < kSessions; ++i) {
    sessions.emplace_back([&] {
      auto c = pg::Connection::Open(url, 5);
      if (!c.ok()) {
        ++errors;
        return;
      }
      for (int n = 0; n < kDraws; ++n) {
        if (!(*c)->Script("BEGIN; SET LOCAL lock_timeout = '1ms'").ok()) ++errors;
        if (!(*c)->Exec("SELECT draw_chunk_keys(1)").ok()) ++timeouts;
        if (!(*c)->Script("ROLLBACK").ok()) ++errors;
        auto held = (*c)->Exec("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' "
                               "AND classid = 1650747 AND objid = 1 AND objsubid = 2");
        if (!held.ok()) {
          ++errors;
        } else if (held->Int(0, 0) != 0) {
          ++leaks;
          (void)(*c)->Exec("SELECT pg_advisory_unlock_all()");
        }
      }
    });
  }
  for (auto& t : sessions) t.join();
  drawing = false;
  holder.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(timeouts.load(), 0) << "no draw timed out: the test showed nothing";
  EXPECT_EQ(leaks.load(), 0) << "of " << timeouts.load() << " draws that timed out";
}

TEST_F(PostgresStoreTest, ARestartedServerAnswersUnavailableThenEverythingWorksAgain) {
  auto opened = OpenPostgresStore({url, 2});
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Store& store = **opened;
  const std::string user = ids.New("usr");
  ASSERT_TRUE(store.users().Create({user, "restart@example.com", "h", 1}).ok());
  Postgres().Stop();
  EXPECT_EQ(store.Ping().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.users().FindById(user).status().code(), StatusCode::kUnavailable);
  Postgres().Start();
  // The pooled connections died with the server: they are replaced without a restart.
  EXPECT_TRUE(store.Ping().ok());
  auto found = store.users().FindById(user);
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(found->email, "restart@example.com");
}

TEST_F(PostgresStoreTest, AnUnreachableServerIsUnavailable) {
  auto s = OpenPostgresStore({"postgresql://betterdev@127.0.0.1:1/nothing", 2, 1});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace betterdev::store
