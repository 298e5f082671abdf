#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <vector>

#include "index/distance.hpp"
#include "index/feedback.hpp"
#include "index/fusion.hpp"
#include "index/vector_index.hpp"

namespace betterdev::index {
namespace {

float Dot(const std::vector<float>& a, const std::vector<float>& b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

std::vector<float> Unit(std::vector<float> v) {
  float n = 0;
  for (float x : v) n += x * x;
  for (float& x : v) x /= std::sqrt(n);
  return v;
}

TEST(Distance, EveryKernelThisCpuRunsAgreesWithPlainArithmeticAtEveryLength) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  const std::vector<DotKernel> kernels = DotKernels();
  ASSERT_GE(kernels.size(), 1u);
  bool in_use_listed = false;
  for (const DotKernel& k : kernels) in_use_listed |= k.name == DotKernelName() && k.dot == index::Dot();
  EXPECT_TRUE(in_use_listed) << DotKernelName();
  for (size_t n : {0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 100, 384, 1023, 1024, 1536}) {
    std::vector<float> a(n + 1), b(n + 1);  // one float more: kernels must not read it
    for (size_t i = 0; i < n; ++i) {
      a[i] = u(rng);
      b[i] = u(rng);
    }
    a[n] = b[n] = 1e30F;
    double want = 0;
    for (size_t i = 0; i < n; ++i) want += static_cast<double>(a[i]) * b[i];
    for (const DotKernel& k : kernels) EXPECT_NEAR(k.dot(a.data(), b.data(), n), want, 1e-4 * (1 + n)) << k.name << " " << n;
    // Bytes, at their extremes too: integer sums are exact.
    std::vector<int8_t> x(n + 1), y(n + 1);
    std::uniform_int_distribution<int> byte(-127, 127);
    for (size_t i = 0; i < n; ++i) {
      x[i] = static_cast<int8_t>(i % 5 == 0 ? -127 : byte(rng));
      y[i] = static_cast<int8_t>(i % 5 == 0 ? -127 : byte(rng));
    }
    x[n] = y[n] = 99;
    int32_t want_i8 = 0;
    double want_f32_i8 = 0;
    for (size_t i = 0; i < n; ++i) {
      want_i8 += int32_t{x[i]} * y[i];
      want_f32_i8 += static_cast<double>(a[i]) * y[i];
    }
    for (const DotKernel& k : kernels) {
      EXPECT_EQ(k.dot_i8(x.data(), y.data(), n), want_i8) << k.name << " " << n;
      EXPECT_NEAR(k.dot_f32_i8(a.data(), y.data(), n), want_f32_i8, 1e-2 * (1 + n)) << k.name << " " << n;
    }
  }
}

TEST(VectorCodec, Int8KeepsEachComponentWithinHalfAStepAndScoresCloseToFloat) {
  std::mt19937 rng(4);
  std::normal_distribution<float> g;
  EXPECT_EQ(ParseEncoding("int8"), VectorEncoding::kInt8);
  EXPECT_EQ(ParseEncoding("float32"), VectorEncoding::kFloat32);
  EXPECT_FALSE(ParseEncoding("float16").has_value());
  for (size_t dim : {3, 17, 384, 1024}) {
    const VectorCodec codec(VectorEncoding::kInt8, dim);
    ASSERT_EQ(codec.bytes(), dim + 4);
    std::vector<float> a(dim), b(dim), back(dim);
    for (float& x : a) x = g(rng);
    for (float& x : b) x = g(rng);
    a = Unit(a);
    b = Unit(b);
    std::vector<std::byte> ea(codec.bytes()), eb(codec.bytes()), again(codec.bytes());
    codec.Encode(a.data(), ea.data());
    codec.Encode(b.data(), eb.data());
    codec.Decode(ea.data(), back.data());
    float largest = 0;
    for (float x : a) largest = std::max(largest, std::fabs(x));
    for (size_t i = 0; i < dim; ++i) EXPECT_LE(std::fabs(back[i] - a[i]), largest / 127 / 2 + 1e-6F) << dim << " " << i;
    codec.Encode(back.data(), again.data());
    EXPECT_EQ(again, ea) << "encoding a decoded vector gives the same bytes";
    // A float query against the stored vector; two stored vectors against each other.
    EXPECT_NEAR(codec.Dot(b.data(), ea.data()), Dot(a, b), 0.02);
    std::vector<float> back_b(dim);
    codec.Decode(eb.data(), back_b.data());
    EXPECT_NEAR(codec.Distance()(ea.data(), eb.data(), codec.DistanceParam()), 1 - Dot(back, back_b), 1e-4);
    EXPECT_NEAR(codec.Dot(a.data(), ea.data()), 1.0, 0.01);
  }
  const VectorCodec codec(VectorEncoding::kInt8, 4);
  std::vector<std::byte> zero(codec.bytes());
  const std::vector<float> nothing(4, 0.0F), query = Unit({1, 2, 3, 4});
  codec.Encode(nothing.data(), zero.data());
  EXPECT_EQ(codec.Dot(query.data(), zero.data()), 0.0F);
  const VectorCodec plain(VectorEncoding::kFloat32, 4);
  std::vector<std::byte> stored(plain.bytes());
  plain.Encode(query.data(), stored.data());
  EXPECT_FLOAT_EQ(plain.Dot(query.data(), stored.data()), Dot(query, query));
}

TEST(Feedback, MovesTheQueryTowardTheSeedsByTheirScoresAndNormalises) {
  const std::vector<float> q = {1, 0, 0};
  const std::vector<float> seeds = {0, 1, 0, /**/ 0, 0, 1};
  const std::vector<double> scores = {10, 5};
  // q + 4 · (1·(0,1,0) + 0.5·(0,0,1)) / 2 = (1, 2, 1), normalised.
  const std::vector<float> moved = MoveQueryToward(q, seeds, scores, 4.0);
  ASSERT_EQ(moved.size(), 3u);
  const float n = std::sqrt(6.0F);
  EXPECT_NEAR(moved[0], 1 / n, 1e-6);
  EXPECT_NEAR(moved[1], 2 / n, 1e-6);
  EXPECT_NEAR(moved[2], 1 / n, 1e-6);
  EXPECT_EQ(MoveQueryToward(q, {}, {}), q);  // no seeds: the query itself
  EXPECT_EQ(MoveQueryToward(q, seeds, std::vector<double>{1}), q);  // mismatched sizes: unchanged
}

TEST(Feedback, ExpandsTheQueryWithTheSeedsMostSharedTermsWeightedByScore) {
  const std::vector<std::string> query = {"zinc", "child"};
  std::vector<Terms> seeds(2);
  seeds[0].terms = {"zinc", "diarrhea", "diarrhea", "trial"};  // P: zinc 1/4, diarrhea 1/2, trial 1/4
  seeds[1].terms = {"diarrhea", "oral"};                       // P: diarrhea 1/2, oral 1/2
  const std::vector<double> scores = {8, 4};                   // weights 1 and 1/2
  // relevance: diarrhea 1/2 + 1/4 = 3/4, zinc 1/4, trial 1/4, oral 1/4; the best 2 are diarrhea
  // and (ties by term) oral: 3/4 and 1/4 of them, i.e. 0.75 and 0.25 of the expansion's share.
  const WeightedQuery q = ExpandQuery(query, seeds, scores, 2, 0.4);
  ASSERT_EQ(q.terms, (std::vector<std::string>{"zinc", "child", "diarrhea", "oral"}));
  ASSERT_EQ(q.weights.size(), 4u);
  EXPECT_NEAR(q.weights[0], 0.2, 1e-12);  // 0.4 / 2
  EXPECT_NEAR(q.weights[1], 0.2, 1e-12);
  EXPECT_NEAR(q.weights[2], 0.6 * 0.75, 1e-12);
  EXPECT_NEAR(q.weights[3], 0.6 * 0.25, 1e-12);
  // A query term the seeds share keeps one entry with both shares.
  const WeightedQuery both = ExpandQuery(std::vector<std::string>{"diarrhea"}, seeds, scores, 1, 0.5);
  ASSERT_EQ(both.terms, std::vector<std::string>{"diarrhea"});
  EXPECT_NEAR(both.weights[0], 1.0, 1e-12);
  // No seeds, mismatched sizes or nothing to add: the query's terms, each weighing 1.
  for (const WeightedQuery& same : {ExpandQuery(query, {}, {}), ExpandQuery(query, seeds, std::vector<double>{1}),
                                    ExpandQuery(query, seeds, scores, 0)}) {
    EXPECT_EQ(same.terms, query);
    EXPECT_EQ(same.weights, (std::vector<double>{1, 1}));
  }
}

TEST(Fusion, ReciprocalRankFusionAddsWeightedReciprocalRanks) {
  const std::vector<Ranked> keyword = {{1, 9}, {2, 8}, {3, 7}};
  const std::vector<Ranked> vector = {{3, 0.9}, {4, 0.8}, {1, 0.7}};
  const auto fused = ReciprocalRankFusion({keyword, vector}, {1.0, 1.0}, 60);
  ASSERT_EQ(fused.size(), 4u);
  // 1: 1/61 + 1/63; 3: 1/63 + 1/61 (tie, 1 seen first); 2: 1/62; 4: 1/62.
  EXPECT_EQ(fused[0].key, 1);
  EXPECT_EQ(fused[1].key, 3);
  EXPECT_DOUBLE_EQ(fused[0].score, 1.0 / 61 + 1.0 / 63);
  EXPECT_EQ(fused[2].key, 2);
  EXPECT_EQ(fused[3].key, 4);
  const auto keyword_only = ReciprocalRankFusion({keyword, vector}, {1.0, 0.0}, 60);
  ASSERT_EQ(keyword_only.size(), 4u);
  EXPECT_EQ(keyword_only[0].key, 1);
  EXPECT_EQ(keyword_only[1].key, 2);
  EXPECT_EQ(keyword_only[2].key, 3);
  EXPECT_EQ(keyword_only[3].score, 0.0);
}

TEST(Fusion, NormalizedScoreFusionScalesEachListToZeroOne) {
  const std::vector<Ranked> keyword = {{1, 20}, {2, 15}, {3, 10}};  // -> 1, 0.5, 0
  const std::vector<Ranked> vector = {{3, 0.9}, {4, 0.5}, {1, 0.1}};  // -> 1, 0.5, 0
  const auto fused = NormalizedScoreFusion({keyword, vector}, {1.0, 0.4});
  ASSERT_EQ(fused.size(), 4u);
  EXPECT_EQ(fused[0].key, 1);  // 1 + 0
  EXPECT_DOUBLE_EQ(fused[0].score, 1.0);
  EXPECT_EQ(fused[1].key, 2);  // 0.5
  EXPECT_EQ(fused[2].key, 3);  // 0 + 0.4
  EXPECT_EQ(fused[3].key, 4);  // 0.2
  EXPECT_DOUBLE_EQ(fused[3].score, 0.2);
  // A list of equal scores counts fully.
  EXPECT_DOUBLE_EQ(NormalizedScoreFusion({{{7, 3.0}, {8, 3.0}}}, {1.0})[1].score, 1.0);
}

TEST(ExactIndex, FindsNearestAddsReplacesRemovesAndFilters) {
  auto idx = NewExactIndex(3);
  ASSERT_TRUE(idx->Add(10, Unit({1, 0, 0})).ok());
  ASSERT_TRUE(idx->Add(20, Unit({0, 1, 0})).ok());
  ASSERT_TRUE(idx->Add(30, Unit({1, 1, 0})).ok());
  EXPECT_EQ(idx->Add(40, std::vector<float>{1, 0}).code(), StatusCode::kInvalidArgument);
  auto hits = idx->Search(Unit({1, 0.1F, 0}), 2);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].key, 10);
  EXPECT_EQ(hits[1].key, 30);
  idx->Remove(10);
  EXPECT_EQ(idx->size(), 2u);
  EXPECT_EQ(idx->Search(Unit({1, 0.1F, 0}), 1).at(0).key, 30);
  ASSERT_TRUE(idx->Add(20, Unit({1, 0, 0})).ok());  // replace
  EXPECT_EQ(idx->Search(Unit({1, 0, 0}), 1).at(0).key, 20);
  EXPECT_EQ(idx->Search(Unit({1, 0, 0}), 5, [](int64_t key) { return key == 30; }).size(), 1u);
  const std::vector<int64_t> among = {30, 20, 99};
  auto some = idx->SearchAmong(Unit({1, 0, 0}), 5, among);
  ASSERT_EQ(some.size(), 2u);  // 99 is unknown
  EXPECT_EQ(some[0].key, 20);
  EXPECT_EQ(some[1].key, 30);
}

TEST(ExactIndex, AgreesWithBruteForceOnRandomVectors) {
  std::mt19937 rng(1);
  std::normal_distribution<float> g;
  auto idx = NewExactIndex(16);
  std::vector<std::vector<float>> all;
  for (int i = 0; i < 500; ++i) {
    std::vector<float> v(16);
    for (float& x : v) x = g(rng);
    all.push_back(Unit(v));
    ASSERT_TRUE(idx->Add(i, all.back()).ok());
  }
  for (int i = 0; i < 500; i += 7) idx->Remove(i);
  const std::vector<float>& q = all[3];
  auto hits = idx->Search(q, 10);
  ASSERT_EQ(hits.size(), 10u);
  EXPECT_EQ(hits[0].key, 3);
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].score, hits[i].score);
  for (const Ranked& h : hits) EXPECT_NE(h.key % 7, 0);
}

TEST(HnswIndex, RecallAgainstExactRemoveReplaceAndFilter) {
  std::mt19937 rng(2);
  std::normal_distribution<float> g;
  const int dim = 32, n = 3000;
  auto exact = NewExactIndex(dim);
  auto hnsw = NewHnswIndex(dim, {16, 100, 64, 16});  // tiny capacity: grows while adding
  std::vector<std::vector<float>> all;
  for (int i = 0; i < n; ++i) {
    std::vector<float> v(dim);
    for (float& x : v) x = g(rng);
    all.push_back(Unit(v));
    ASSERT_TRUE(exact->Add(i, all.back()).ok());
    ASSERT_TRUE(hnsw->Add(i, all.back()).ok());
  }
  EXPECT_EQ(hnsw->Add(1, std::vector<float>(3)).code(), StatusCode::kInvalidArgument);
  int agree = 0, total = 0;
  for (int q = 0; q < 50; ++q) {
    std::vector<float> query(dim);
    for (float& x : query) x = g(rng);
    query = Unit(query);
    auto truth = exact->Search(query, 10);
    auto approx = hnsw->Search(query, 10);
    ASSERT_EQ(approx.size(), 10u);
    for (const Ranked& t : truth) {
      ++total;
      for (const Ranked& a : approx) agree += a.key == t.key ? 1 : 0;
    }
    EXPECT_NEAR(approx[0].score, Dot(query, all[static_cast<size_t>(approx[0].key)]), 1e-4);
  }
  EXPECT_GE(static_cast<double>(agree) / total, 0.9);
  // Removed keys never come back; a filter is honoured even when it keeps few keys.
  hnsw->Remove(5);
  EXPECT_EQ(hnsw->size(), static_cast<size_t>(n - 1));
  for (const Ranked& r : hnsw->Search(all[5], 20)) EXPECT_NE(r.key, 5);
  auto few = hnsw->Search(all[7], 5, [](int64_t key) { return key % 1000 == 7; });
  ASSERT_EQ(few.size(), 3u);  // 7, 1007, 2007
  EXPECT_EQ(few[0].key, 7);
  const std::vector<int64_t> among = {7, 1007, 2007, 5};  // 5 was removed
  auto scoped = hnsw->SearchAmong(all[7], 10, among);
  ASSERT_EQ(scoped.size(), 3u);
  EXPECT_EQ(scoped[0].key, 7);
  ASSERT_TRUE(hnsw->Add(5, all[9]).ok());  // back, with another vector
  EXPECT_EQ(hnsw->Search(all[9], 2).size(), 2u);
}

TEST(HnswIndex, LargerGraphsGetMoreLinksAndKeepThemThroughSaveAndLoad) {
  EXPECT_EQ(HnswOptionsFor(kDenseGraphFrom - 1).m, 16);
  EXPECT_EQ(HnswOptionsFor(kDenseGraphFrom).m, 32);
  EXPECT_EQ(HnswOptionsFor(100, 100).m, 32);
  EXPECT_EQ(EfSearchFor(16), 160);
  EXPECT_EQ(EfSearchFor(32), 400);
  HnswOptions dense = HnswOptionsFor(kDenseGraphFrom);
  dense.initial_capacity = 64;
  auto hnsw = NewHnswIndex(8, dense);
  EXPECT_EQ(GraphLinks(*hnsw), 32);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(hnsw->Add(i, Unit(std::vector<float>{1, float(i), 2, 3, float(i % 7), 5, 6, 7})).ok());
  }
  const std::string path = ::testing::TempDir() + "/hnsw_links_test.bin";
  ASSERT_TRUE(SaveHnswIndex(*hnsw, path).ok());
  auto loaded = LoadHnswIndex(path, 8);  // the options' m (16) does not override the file's
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(GraphLinks(**loaded), 32);
  EXPECT_EQ((*loaded)->Search(Unit(std::vector<float>{1, 3, 2, 3, 3, 5, 6, 7}), 1).at(0).key, 3);
  EXPECT_EQ(GraphLinks(*NewExactIndex(8)), 0);
  std::filesystem::remove(path);
}

TEST(HnswIndex, RemovedSlotsTakeNewKeysAndSurviveSaveAndLoad) {
  std::mt19937 rng(5);
  std::normal_distribution<float> g;
  const int dim = 16, n = 400;
  auto random_unit = [&] {
    std::vector<float> v(dim);
    for (float& x : v) x = g(rng);
    return Unit(v);
  };
  auto hnsw = NewHnswIndex(dim, {16, 100, 64, 1024});
  std::vector<std::vector<float>> all;
  for (int i = 0; i < n; ++i) {
    all.push_back(random_unit());
    ASSERT_TRUE(hnsw->Add(i, all.back()).ok());
  }
  for (int i = 0; i < n; i += 2) hnsw->Remove(i);
  EXPECT_EQ(FreeSlots(*hnsw), static_cast<size_t>(n / 2));
  EXPECT_FALSE(hnsw->Contains(0));
  EXPECT_TRUE(hnsw->Contains(1));

  // Saved with its removals, loaded back: the same answers, the same free slots.
  const std::string path = ::testing::TempDir() + "/hnsw_slots_test.bin";
  ASSERT_TRUE(SaveHnswIndex(*hnsw, path).ok());
  auto loaded = LoadHnswIndex(path, dim, {16, 100, 64, 1024});
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  auto& back = *loaded;
  EXPECT_EQ(back->size(), hnsw->size());
  EXPECT_EQ(FreeSlots(*back), static_cast<size_t>(n / 2));
  for (int q = 1; q < 40; q += 2) {
    auto a = hnsw->Search(all[static_cast<size_t>(q)], 5), b = back->Search(all[static_cast<size_t>(q)], 5);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].key, b[i].key);
  }
  EXPECT_EQ(LoadHnswIndex(path, dim + 1).status().code(), StatusCode::kInternal);  // another dimension
  EXPECT_EQ(LoadHnswIndex(path + ".missing", dim).status().code(), StatusCode::kNotFound);

  // New keys fill the freed slots first (one by one, then a batch); nothing removed comes back.
  for (int i = 0; i < 50; ++i) {
    all.push_back(random_unit());
    ASSERT_TRUE(back->Add(n + i, all.back()).ok());
  }
  std::vector<int64_t> keys;
  std::vector<float> values;
  for (int i = 50; i < n / 2 + 10; ++i) {
    all.push_back(random_unit());
    keys.push_back(n + i);
    values.insert(values.end(), all.back().begin(), all.back().end());
  }
  ASSERT_TRUE(back->AddBatch(keys, values, 2).ok());
  EXPECT_EQ(FreeSlots(*back), 0u);
  EXPECT_EQ(back->size(), static_cast<size_t>(n / 2 + n / 2 + 10));
  int found = 0;
  for (int i = 0; i < n / 2 + 10; ++i) {
    const int64_t key = n + i;
    auto hits = back->Search(all[static_cast<size_t>(key)], 1);
    ASSERT_EQ(hits.size(), 1u);
    found += hits[0].key == key ? 1 : 0;
  }
  EXPECT_GE(found, (n / 2 + 10) * 95 / 100);  // each new vector is its own nearest neighbour
  for (int i = 0; i < n; i += 2) {
    for (const Ranked& r : back->Search(all[static_cast<size_t>(i)], 10)) EXPECT_NE(r.key % 2 == 0 && r.key < n, true);
  }
  std::remove(path.c_str());

  // A key that left a slot and came back in another: after a save and a load it is found in
  // its new slot, not in the deleted one that still carries its label.
  auto small = NewHnswIndex(dim);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(small->Add(i, all[static_cast<size_t>(i)]).ok());
  small->Remove(5);
  small->Remove(2);
  ASSERT_TRUE(small->Add(5, all[5]).ok());  // takes slot 2
  ASSERT_TRUE(SaveHnswIndex(*small, path).ok());
  auto reloaded = LoadHnswIndex(path, dim);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_TRUE((*reloaded)->Contains(5));
  EXPECT_FALSE((*reloaded)->Contains(2));
  const std::vector<int64_t> five = {5};
  ASSERT_EQ((*reloaded)->SearchAmong(all[5], 1, five).size(), 1u);
  EXPECT_EQ((*reloaded)->Search(all[5], 1).at(0).key, 5);
  (*reloaded)->Remove(5);
  EXPECT_FALSE((*reloaded)->Contains(5));
  std::remove(path.c_str());
}

TEST(HnswIndex, Int8VectorsFindWhatFloatsFindAndKeepTheirEncodingOnDisk) {
  std::mt19937 rng(6);
  std::normal_distribution<float> g;
  const int dim = 64, n = 3000;
  auto truth = NewExactIndex(dim);
  auto exact8 = NewExactIndex(dim, VectorEncoding::kInt8);
  HnswOptions options{16, 100, 64, 16, VectorEncoding::kInt8};
  auto graph8 = NewHnswIndex(dim, options);
  EXPECT_EQ(graph8->encoding(), VectorEncoding::kInt8);
  std::vector<std::vector<float>> all;
  std::vector<int64_t> keys;
  std::vector<float> values;
  for (int i = 0; i < n; ++i) {
    std::vector<float> v(dim);
    for (float& x : v) x = g(rng);
    all.push_back(Unit(v));
    ASSERT_TRUE(truth->Add(i, all.back()).ok());
    ASSERT_TRUE(exact8->Add(i, all.back()).ok());
    keys.push_back(i);
    values.insert(values.end(), all.back().begin(), all.back().end());
  }
  ASSERT_TRUE(graph8->AddBatch(keys, values, 2).ok());
  int exact_agree = 0, graph_agree = 0, total = 0;
  for (int q = 0; q < 50; ++q) {
    std::vector<float> query(dim);
    for (float& x : query) x = g(rng);
    query = Unit(query);
    const auto want = truth->Search(query, 10);
    const auto scanned = exact8->Search(query, 10), walked = graph8->Search(query, 10);
    ASSERT_EQ(walked.size(), 10u);
    for (size_t i = 1; i < walked.size(); ++i) EXPECT_GE(walked[i - 1].score, walked[i].score);
    for (const Ranked& t : want) {
      ++total;
      for (const Ranked& a : scanned) exact_agree += a.key == t.key ? 1 : 0;
      for (const Ranked& a : walked) graph_agree += a.key == t.key ? 1 : 0;
    }
    // Scores are the float query against the stored bytes: close to the float truth.
    EXPECT_NEAR(walked[0].score, Dot(query, all[static_cast<size_t>(walked[0].key)]), 0.02);
  }
  EXPECT_GE(static_cast<double>(exact_agree) / total, 0.95);
  EXPECT_GE(static_cast<double>(graph_agree) / total, 0.9);
  // Each vector is still its own nearest neighbour; ForEach gives back what was stored.
  EXPECT_EQ(graph8->Search(all[42], 1).at(0).key, 42);
  auto copy = NewExactIndex(dim, VectorEncoding::kInt8);
  graph8->ForEach([&](int64_t key, std::span<const float> v) { ASSERT_TRUE(copy->Add(key, v).ok()); });
  EXPECT_EQ(copy->size(), static_cast<size_t>(n));
  EXPECT_FLOAT_EQ(copy->Search(all[7], 1).at(0).score, exact8->Search(all[7], 1).at(0).score);

  const std::string path = ::testing::TempDir() + "/hnsw_int8_test.bin";
  graph8->Remove(42);
  ASSERT_TRUE(SaveHnswIndex(*graph8, path).ok());
  auto back = LoadHnswIndex(path, dim, options);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ((*back)->size(), static_cast<size_t>(n - 1));
  EXPECT_EQ((*back)->Search(all[43], 1).at(0).key, 43);
  EXPECT_EQ(LoadHnswIndex(path, dim).status().code(), StatusCode::kInternal);  // read as float32: refused
  std::remove(path.c_str());
}

}  // namespace
}  // namespace betterdev::index
