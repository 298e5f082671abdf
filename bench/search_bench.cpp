// Vector index latency, recall and memory (not a test): for each (vectors, dimension) it builds
// the HNSW index the search service uses above SearchConfig::exact_below, and measures
//   build rate (on `threads` threads, as the search service loads a large index), resident
//   memory per vector, search p50/p99 over 1,000 queries at k=10 (one thread), recall@10
//   against a brute-force scan (on 200 of the queries), and a scoped exact scan over one
//   document's 50 chunks among all vectors (what a search narrowed by document_ids does), and
//   an exact scan of every vector (what a search answers from while a user's graph is built).
// The distance kernel is the one index/distance.hpp picks for this CPU; BETTERDEV_SIMD=sse
// (or scalar, avx2) picks a narrower one, to compare. Vectors are kept as the search service
// keeps them: int8 by default, or float32 (recall is always against a float32 brute force).
// Data: see Data below; queries are drawn the same way as the vectors.
//   build/release/bench/search_bench [vectors=100000] [dimension=384] [ef_search=160[,400...]] [threads=2]
//                                    [data=topics|noise] [m=16] [encoding=int8|float32]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "index/distance.hpp"
#include "index/vector_index.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using betterdev::index::HnswOptions;
using betterdev::index::NewHnswIndex;
using betterdev::index::Ranked;
using betterdev::index::TopK;

long ResidentKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

// Two kinds of data, both unit vectors:
//  "topics": 1,024 topic centres, each with its own 24-dimensional subspace of variation, plus a
//    little isotropic noise. Real text embeddings look like this: neighbours differ along few
//    directions (a low intrinsic dimension), so nearest neighbours are well defined.
//  "noise": 64 Gaussian centres buried under noise 1.5x their size in every dimension: close to
//    uniformly random points, the worst case for any graph index (ann-benchmarks' "random").
struct Data {
  int dim;
  bool topics;
  std::vector<std::vector<float>> centers;
  std::vector<std::vector<std::vector<float>>> bases;  // per topic, kLatent directions
  std::mt19937 rng{42};
  static constexpr int kLatent = 24;

  Data(int d, bool topic_data) : dim(d), topics(topic_data) {
    std::normal_distribution<float> g;
    const int n = topics ? 1024 : 64;
    for (int c = 0; c < n; ++c) {
      centers.push_back(Gaussian(g));
      if (topics) {
        std::vector<std::vector<float>> basis;
        for (int l = 0; l < kLatent; ++l) basis.push_back(Gaussian(g));
        bases.push_back(std::move(basis));
      }
    }
  }
  std::vector<float> Gaussian(std::normal_distribution<float>& g) {
    std::vector<float> v(static_cast<size_t>(dim));
    for (float& x : v) x = g(rng);
    return v;
  }
  std::vector<float> Next() {
    std::normal_distribution<float> g;
    const size_t c = rng() % centers.size();
    std::vector<float> v = centers[c];
    if (topics) {
      for (const auto& direction : bases[c]) {
        const float z = 0.25F * g(rng);
        for (size_t i = 0; i < v.size(); ++i) v[i] += z * direction[i];
      }
      for (float& x : v) x += 0.05F * g(rng);
    } else {
      for (float& x : v) x += 1.5F * g(rng);
    }
    double n = 0;
    for (float x : v) n += static_cast<double>(x) * x;
    for (float& x : v) x = static_cast<float>(x / std::sqrt(n));
    return v;
  }
};

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int dim = argc > 2 ? std::atoi(argv[2]) : 384;
  HnswOptions options;
  // ef_search: one value or several ("160,400,800"), each measured on the same graph (a search
  // for the ef best, cut to 10, is a search with that ef).
  std::vector<int> efs;
  for (std::string list = argc > 3 ? argv[3] : "160"; !list.empty();) {
    const size_t comma = list.find(',');
    efs.push_back(std::atoi(list.substr(0, comma).c_str()));
    list = comma == std::string::npos ? "" : list.substr(comma + 1);
  }
  options.ef_search = efs.front();
  const int threads = argc > 4 ? std::atoi(argv[4]) : 2;
  const std::string kind = argc > 5 ? argv[5] : "topics";
  options.m = argc > 6 ? std::atoi(argv[6]) : 16;
  const std::string encoding = argc > 7 ? argv[7] : "int8";
  if (!betterdev::index::ParseEncoding(encoding)) return 5;
  options.encoding = *betterdev::index::ParseEncoding(encoding);
  options.initial_capacity = static_cast<size_t>(n);
  const auto udim = static_cast<size_t>(dim);
  Data data(dim, kind == "topics");
  std::vector<int64_t> keys(static_cast<size_t>(n));
  std::vector<float> all;
  all.reserve(keys.size() * udim);
  for (int i = 0; i < n; ++i) {
    keys[static_cast<size_t>(i)] = i;
    const std::vector<float> v = data.Next();
    all.insert(all.end(), v.begin(), v.end());
  }

  const long rss0 = ResidentKb();
  auto hnsw = NewHnswIndex(dim, options);
  const auto t0 = Clock::now();
  if (!hnsw->AddBatch(keys, all, threads).ok()) return 1;
  const double build_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const long rss1 = ResidentKb();

  std::vector<std::vector<float>> queries;
  for (int q = 0; q < 1000; ++q) queries.push_back(data.Next());
  std::vector<std::vector<Ranked>> truth;
  for (size_t q = 0; q < 200; ++q) {  // brute force over the same vectors
    std::vector<Ranked> scored(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      float dot = 0;
      const float* v = all.data() + i * udim;
      for (size_t d = 0; d < udim; ++d) dot += v[d] * queries[q][d];
      scored[i] = {keys[i], dot};
    }
    truth.push_back(TopK(std::move(scored), 10));
  }
  struct Row {
    int ef;
    double p50, p99, recall;
  };
  std::vector<Row> rows;
  for (int ef : efs) {
    std::vector<double> ms;
    std::vector<std::vector<Ranked>> approx;
    for (const auto& q : queries) {
      const auto s = Clock::now();
      std::vector<Ranked> hits = hnsw->Search(q, std::max(10, ef));
      if (hits.size() > 10) hits.resize(10);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
      approx.push_back(std::move(hits));
    }
    int agree = 0, total = 0;
    for (size_t q = 0; q < truth.size(); ++q) {
      std::unordered_set<int64_t> got;
      for (const Ranked& r : approx[q]) got.insert(r.key);
      for (const Ranked& r : truth[q]) agree += got.count(r.key) != 0 ? 1 : 0;
      total += static_cast<int>(truth[q].size());
    }
    rows.push_back({ef, Percentile(ms, 0.5), Percentile(ms, 0.99), static_cast<double>(agree) / total});
  }
  // Scoped: one document's 50 chunks among all, by exact scan over the index's own vectors
  // (SearchAmong, what a search narrowed by document_ids does).
  std::vector<double> scoped_ms;
  for (size_t q = 0; q < 200; ++q) {
    const int64_t doc_start = static_cast<int64_t>((q * 7919) % static_cast<size_t>(std::max(1, n - 50)));
    std::vector<int64_t> scope;
    for (int64_t k = doc_start; k < doc_start + 50; ++k) scope.push_back(k);
    const auto s = Clock::now();
    auto hits = hnsw->SearchAmong(queries[q], 10, scope);
    scoped_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
    if (hits.size() != 10) return 2;
  }
  // Exact: every vector scanned, as ExactIndex does for a user whose graph is being built.
  std::vector<double> exact_ms;
  {
    auto exact = betterdev::index::NewExactIndex(dim, options.encoding);
    if (!exact->AddBatch(keys, all, 1).ok()) return 3;
    for (size_t q = 0; q < 50; ++q) {
      const auto s = Clock::now();
      auto hits = exact->Search(queries[q], 10);
      exact_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
      if (hits.size() != 10) return 4;
    }
  }
  const std::string kernel(betterdev::index::DotKernelName());
  for (const Row& r : rows) {
    std::printf("| %d | %d | %s | %s | %s | %d | %d | %d | %.0f | %.0f | %.3f | %.3f | %.3f | %.3f | %.1f |\n", n, dim,
                kind.c_str(), kernel.c_str(), encoding.c_str(), options.m, r.ef, threads, n / build_s,
                static_cast<double>(rss1 - rss0) * 1024.0 / n, r.p50, r.p99, r.recall, Percentile(scoped_ms, 0.99),
                Percentile(exact_ms, 0.99));
  }
  return 0;
}
