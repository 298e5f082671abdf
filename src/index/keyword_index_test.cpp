#include <gtest/gtest.h>
#include <sqlite3.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "index/keyword_index.hpp"
#include "index/tokenizer.hpp"

namespace betterdev::index {
namespace {

class KeywordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = Tokenizer::Open();
    ASSERT_TRUE(t.ok()) << t.status().message();
    tokenizer = std::move(*t);
  }
  void Add(KeywordIndex& index, int64_t key, const std::string& text, const std::string& context = "") {
    index.Add(key, tokenizer->Document(text), tokenizer->Document(context));
  }
  std::vector<int64_t> Keys(const KeywordIndex& index, const std::string& query, int k = 10) {
    std::vector<int64_t> out;
    for (const Ranked& r : index.Search(tokenizer->Query(query), k)) out.push_back(r.key);
    return out;
  }
  std::unique_ptr<Tokenizer> tokenizer;
};

TEST_F(KeywordTest, TokenizerFoldsStemsAndDropsStopwords) {
  const Terms t = tokenizer->Document("The Children's VITAMINS were café-tested, naïvely: 42 runs!");
  EXPECT_EQ(t.length, 10u);  // the children s vitamins were cafe tested naively 42 runs
  EXPECT_EQ(t.terms, (std::vector<std::string>{"children", "s", "vitamin", "cafe", "test", "naiv", "42", "run"}));
  EXPECT_EQ(tokenizer->Query("the running RUNS of \"NEAR(\" col:text *"),
            (std::vector<std::string>{"run", "near", "col", "text"}));
  EXPECT_TRUE(tokenizer->Query("the of and").empty());
  (void)tokenizer->Query("\xff\xfe\x80 broken UTF-8");  // must not crash or read out of bounds (ASan)
  // Lower-cased beyond ASCII; unicode61 folds Latin diacritics, not Greek accents.
  EXPECT_EQ(tokenizer->Query("Ελληνικά ΚΕΊΜΕΝΑ"), (std::vector<std::string>{"ελληνικά", "κείμενα"}));
}

TEST_F(KeywordTest, RanksStemsScopesAndForgets) {
  KeywordIndex index;
  Add(index, 1, "Vitamin D deficiency in children");
  Add(index, 2, "Unrelated words about trains");
  Add(index, 3, "Children's vitamins and supplements: vitamin vitamin");
  Add(index, 4, "Zone NA | 12553 | 2713", "Region | Sales | Profit");
  EXPECT_EQ(index.size(), 4u);
  const auto hits = index.Search(tokenizer->Query("vitamin supplements"), 10);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].key, 3);  // both words (supplements ~ supplement)
  EXPECT_GT(hits[0].score, hits[1].score);
  EXPECT_GT(hits[1].score, 0);
  EXPECT_EQ(Keys(index, "profit by region"), std::vector<int64_t>{4});  // context is searched
  EXPECT_TRUE(Keys(index, "the of and").empty());
  const std::vector<int64_t> scope{1, 2, 99};
  const auto among = index.SearchAmong(tokenizer->Query("vitamin"), 10, scope);
  ASSERT_EQ(among.size(), 1u);
  EXPECT_EQ(among[0].key, 1);
  index.Remove(3);
  index.Remove(3);  // unknown now: no-op
  EXPECT_EQ(Keys(index, "vitamin"), std::vector<int64_t>{1});
  Add(index, 1, "trains only now");  // replaced
  EXPECT_TRUE(Keys(index, "vitamin").empty());
  EXPECT_EQ(Keys(index, "trains"), (std::vector<int64_t>{1, 2}));  // the shorter chunk first
  EXPECT_EQ(index.size(), 3u);
}

TEST_F(KeywordTest, ASearchAmongSomeChunksWeighsWordsByTheirStatistics) {
  // One company's filing (keys 1-4) names the company everywhere; other filings (10-29) do
  // not. Among the company's chunks its name says nothing, so the chunk with the asked-for
  // line item wins; over all chunks the name is rare and its boilerplate page wins.
  KeywordIndex index;
  Add(index, 1, "Acme Acme Acme signature page Acme Corporation");
  Add(index, 2, "Acme total net sales 81,797 in the quarter");
  Add(index, 3, "Acme exhibits and certifications of Acme");
  Add(index, 4, "Acme risk factors");
  for (int64_t k = 10; k < 30; ++k) Add(index, k, "other company total net sales " + std::to_string(k));
  const std::vector<int64_t> filing{1, 2, 3, 4};
  const auto within = index.SearchAmong(tokenizer->Query("Acme total net sales"), 10, filing);
  ASSERT_EQ(within.size(), 4u);
  EXPECT_EQ(within[0].key, 2);
  // The statistics are the subset's: "acme" is in every one of its chunks (idf at its floor).
  const auto name_only = index.SearchAmong(tokenizer->Query("Acme"), 10, filing);
  ASSERT_EQ(name_only.size(), 4u);
  EXPECT_LT(name_only[0].score, 1e-3);
  const auto everywhere = index.Search(tokenizer->Query("Acme total net sales"), 10);
  ASSERT_FALSE(everywhere.empty());
  EXPECT_EQ(everywhere[0].key, 1);  // over all chunks, the name outweighs the common words
}

TEST_F(KeywordTest, WeightedTermsScaleTheirShareOfTheScore) {
  KeywordIndex index;
  Add(index, 1, "zinc trial");
  Add(index, 2, "diarrhea trial");
  Add(index, 3, "unrelated trains");
  const std::vector<std::string> terms = {"zinc", "diarrhea"};
  const auto even = index.Search(terms, 10);
  ASSERT_EQ(even.size(), 2u);
  EXPECT_DOUBLE_EQ(even[0].score, even[1].score);  // the same statistics, one word each
  const auto weighted = index.SearchWeighted({terms, {1.0, 0.25}}, 10);
  ASSERT_EQ(weighted.size(), 2u);
  EXPECT_EQ(weighted[0].key, 1);
  EXPECT_DOUBLE_EQ(weighted[0].score, even[0].score);
  EXPECT_DOUBLE_EQ(weighted[1].score, even[0].score * 0.25);
  const std::vector<int64_t> scope{2, 3};
  const auto among = index.SearchWeighted({terms, {1.0, 0.25}}, 10, scope);
  ASSERT_EQ(among.size(), 1u);
  EXPECT_EQ(among[0].key, 2);
  const std::vector<int64_t> unknown{99};
  EXPECT_TRUE(index.SearchWeighted({terms, {1.0, 1.0}}, 10, unknown).empty());
}

TEST_F(KeywordTest, ExpansionLeavesOutTermsMostChunksHold) {
  KeywordIndex index;
  for (int i = 0; i < 2000; ++i) Add(index, i, i % 500 == 0 ? "patients given zinc" : "patients " + std::to_string(i));
  ASSERT_EQ(index.DocumentFrequency("patient"), 2000u);
  ASSERT_EQ(index.DocumentFrequency("zinc"), 4u);
  std::vector<Terms> seeds{tokenizer->Document("patients given zinc")};
  const std::vector<double> scores{1};
  const std::vector<std::string> query{"given"};
  const WeightedQuery q = index.Expand(query, seeds, scores, 10, 0.5);
  EXPECT_EQ(q.terms, (std::vector<std::string>{"given", "zinc"}));  // "patient": every chunk has it
  // A small index (at most 100 chunks hold any term) rules nothing out.
  KeywordIndex small;
  Add(small, 1, "patients given zinc");
  Add(small, 2, "patients only");
  EXPECT_EQ(small.Expand(query, seeds, scores, 10, 0.5).terms.size(), 3u);
}

// The ranking is FTS5's bm25(table, 1.0, 2.0): checked against SQLite itself over random texts.
TEST_F(KeywordTest, ScoresEqualSqliteFts5Bm25) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE VIRTUAL TABLE t USING fts5(text, context, "
                         "tokenize='porter unicode61 remove_diacritics 2')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  const std::vector<std::string> words = {"the",    "of",     "vitamin", "vitamins", "Cancer", "cancers", "risk",
                                          "diet",   "dietary", "statin",  "café",     "cafe",   "heart",   "and",
                                          "breast", "study",  "studies", "running",  "ran",    "x1"};
  std::mt19937 rng(7);
  KeywordIndex index;
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO t(rowid, text, context) VALUES (?, ?, ?)", -1, &ins, nullptr);
  for (int64_t key = 1; key <= 400; ++key) {
    auto sentence = [&](size_t n) {
      std::string s;
      for (size_t i = 0; i < n; ++i) s += words[rng() % words.size()] + (i + 1 < n ? " " : "");
      return s;
    };
    const std::string text = sentence(3 + rng() % 40), context = rng() % 4 == 0 ? sentence(1 + rng() % 5) : "";
    if (key % 50 == 0) continue;  // some keys never added
    Add(index, key, text, context);
    sqlite3_bind_int64(ins, 1, key);
    sqlite3_bind_text(ins, 2, text.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 3, context.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(ins), SQLITE_DONE);
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  for (const std::string query : {"vitamin cancer", "statin", "the diet of heart studies", "café running x1", "ran"}) {
    const std::vector<std::string> terms = tokenizer->Query(query);
    std::string match;
    for (const std::string& t : terms) match += (match.empty() ? "\"" : " OR \"") + t + "\"";
    std::map<int64_t, double> want;
    sqlite3_stmt* q = nullptr;
    sqlite3_prepare_v2(db, "SELECT rowid, -bm25(t, 1.0, 2.0) FROM t WHERE t MATCH ?", -1, &q, nullptr);
    sqlite3_bind_text(q, 1, match.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(q) == SQLITE_ROW) want[sqlite3_column_int64(q, 0)] = sqlite3_column_double(q, 1);
    sqlite3_finalize(q);
    const auto got = index.Search(terms, 1000);
    ASSERT_EQ(got.size(), want.size()) << query;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(want.count(got[i].key), 1u) << query;
      EXPECT_NEAR(got[i].score, want[got[i].key], 1e-4 * std::max(1.0, want[got[i].key])) << query;
      if (i > 0) {
        EXPECT_GE(got[i - 1].score, got[i].score);
      }
    }
  }
  sqlite3_close(db);
}

TEST_F(KeywordTest, StatisticsFollowRemovalsAndCompaction) {
  KeywordIndex index;
  for (int64_t key = 0; key < 3000; ++key) Add(index, key, key % 3 == 0 ? "alpha beta" : "beta gamma delta");
  KeywordIndex fresh;  // what the index must equal once 2,500 are removed
  for (int64_t key = 0; key < 3000; ++key) {
    if (key >= 2500) Add(fresh, key, key % 3 == 0 ? "alpha beta" : "beta gamma delta");
  }
  for (int64_t key = 0; key < 2500; ++key) index.Remove(key);  // compacts on the way
  EXPECT_EQ(index.size(), 500u);
  for (const char* q : {"alpha", "beta", "gamma alpha"}) {
    const auto a = index.Search(tokenizer->Query(q), 1000), b = fresh.Search(tokenizer->Query(q), 1000);
    ASSERT_EQ(a.size(), b.size()) << q;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].key, b[i].key);
      EXPECT_DOUBLE_EQ(a[i].score, b[i].score);
    }
  }
  Add(index, 7, "alpha alone");  // a removed key can come back
  EXPECT_EQ(index.Search(tokenizer->Query("alone"), 10).size(), 1u);
}

TEST_F(KeywordTest, SerializedIndexRanksAsTheOriginalAndBrokenBytesAreRefused) {
  KeywordIndex index;
  for (int64_t key = 0; key < 300; ++key) {
    Add(index, key * 3, key % 4 == 0 ? "vitamin d and bone density" : "sleep and melatonin in adults",
        key % 5 == 0 ? "Region | Sales" : "");
  }
  for (int64_t key = 0; key < 300; key += 7) index.Remove(key * 3);
  const std::string bytes = index.Serialize();
  std::optional<KeywordIndex> back = KeywordIndex::Deserialize(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->size(), index.size());
  for (const char* q : {"vitamin bone", "melatonin", "sales region sleep"}) {
    const auto a = index.Search(tokenizer->Query(q), 1000), b = back->Search(tokenizer->Query(q), 1000);
    ASSERT_EQ(a.size(), b.size()) << q;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].key, b[i].key);
      EXPECT_DOUBLE_EQ(a[i].score, b[i].score);
    }
  }
  // The copy takes changes like the original.
  Add(*back, 9001, "melatonin alone");
  back->Remove(3);
  EXPECT_EQ(back->Search(tokenizer->Query("alone"), 10).size(), 1u);
  // Any truncation, a trailing byte, or another format is refused, never half-read.
  for (size_t cut : {size_t{0}, size_t{3}, size_t{8}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_FALSE(KeywordIndex::Deserialize(std::string_view(bytes).substr(0, cut)).has_value()) << cut;
  }
  EXPECT_FALSE(KeywordIndex::Deserialize(bytes + "x").has_value());
  std::string foreign = bytes;
  foreign[0] ^= 0x20;
  EXPECT_FALSE(KeywordIndex::Deserialize(foreign).has_value());
  std::string huge = bytes;  // a slot count far beyond the bytes that follow
  huge[8] = '\xff';
  huge[9] = '\xff';
  huge[12] = '\x7f';
  EXPECT_FALSE(KeywordIndex::Deserialize(huge).has_value());
}

}  // namespace
}  // namespace betterdev::index
