// Search inside PostgreSQL (store.hpp's SearchRepository::SearchKeywords ... BuildVectorIndex):
// BM25 computed in SQL over postings of the chunks' tsvector words (chunk_terms, kept by
// triggers; migration 3), and pgvector's HNSW with filtered iterative scans.
//
// Vectors of every model share one table (a `vector` column without a dimension); each model
// gets its own partial HNSW index over `embedding::halfvec(d)` (none above 4,000 dimensions,
// pgvector's limit), so models never mix and a model change builds the new model's index beside
// the old one. halfvec (2 bytes a value): 60% of a vector(d) index at 256 dimensions and a
// third at 1,024, at the same recall@10 (docs/benchmarks.md); scores are computed in full
// precision all the same. An index of vector(d), as releases before made up to 2,000
// dimensions, is dropped once the halfvec one is built; until then the model's searches scan.
// A query names the same expression and predicate, the model as a literal, so the planner can
// match the partial index.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <unordered_map>
#include <utility>

#include "store/postgres/pg_repositories.hpp"

namespace betterdev::store::pg {
namespace {

constexpr int kMaxQueryWords = 64;
constexpr int kExactScanValues = 4'000'000;

// `model` as an SQL string literal (standard_conforming_strings: only quotes are doubled).
std::string Literal(const std::string& text) {
  std::string out = "'";
  for (char ch : text) {
    if (ch == '\'') out += '\'';
    out += ch;
  }
  out += '\'';
  return out;
}

// How a model's vectors are indexed and compared: the expression the index is built over.
struct VectorShape {
  std::string type;  // "vector(d)" or "halfvec(d)"
  std::string ops;   // the operator class; empty: too many dimensions for any index
};

VectorShape ShapeOf(int dimension) {
  const std::string d = std::to_string(dimension);
  if (dimension <= 4000) return {"halfvec(" + d + ")", "halfvec_cosine_ops"};
  return {"vector(" + d + ")", ""};
}

// "chunk_vectors_hnsw_h<d>_<hash of the model's id>"; `legacy`: the name releases before gave
// the model's index (without the "h": vector(d) up to 2,000 dimensions, halfvec(d) above).
std::string IndexName(const VectorModel& model, bool legacy = false) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a of the model's id
  for (unsigned char ch : model.id) h = (h ^ ch) * 1099511628211ULL;
  char buf[64];
  std::snprintf(buf, sizeof buf, "chunk_vectors_hnsw_%s%d_%016" PRIx64, legacy ? "" : "h", model.dimension, h);
  return buf;
}

std::string ModelPredicate(const VectorModel& model) {
  return "model = " + Literal(model.id) + " AND dimension = " + std::to_string(model.dimension);
}

std::vector<ScoredChunk> ReadScored(const Rows& r) {
  std::vector<ScoredChunk> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) out.push_back({r.Int(i, 0), r.Text(i, 1), r.Double(i, 2)});
  return out;
}

}  // namespace

Result<std::vector<std::string>> QueryWords(Pool& pool, const std::string& query) {
  return WithRetry(pool, [&](Connection& c) -> Result<std::vector<std::string>> {
    PG_ROWS(r, c.Exec("SELECT lexeme FROM unnest(to_tsvector('english', $1)) ORDER BY lexeme", Params().Add(query)));
    std::vector<std::string> words;
    for (int i = 0; i < r.size() && i < kMaxQueryWords; ++i) words.push_back(r.Text(i, 0));
    return words;
  });
}

Result<std::vector<ScoredChunk>> SearchKeywords(Pool& pool, const SearchScope& scope,
                                                const std::vector<std::string>& words,
                                                const std::vector<double>& weights, int limit) {
  if (words.empty()) return std::vector<ScoredChunk>{};
  // From the postings (chunk_terms, an index-only scan per word) and the user's statistics
  // row; document frequencies counted there. Within some documents, the statistics are theirs
  // (chunk count and length from their chunks, frequencies from their postings), as the
  // in-process index computes them (index/keyword_index.hpp). Words are summed in one order
  // (their bytes), so scores are the same whatever order the query names them in. Chunks are
  // grouped by key alone; the best `cap` (a top-N sort, not a sort of every match) get their
  // document, checked (ready, in scope) until `limit` pass. Every step materialised: a generic
  // plan must not rescan anything per row.
  static constexpr const char* kSql =
      "WITH q AS MATERIALIZED (SELECT w AS lexeme, max(coalesce(x, 1.0)) AS qw "
      "  FROM unnest($2::text[], $3::float8[]) AS t(w, x) WHERE w IS NOT NULL GROUP BY w), "
      "s AS MATERIALIZED (SELECT chunks::float8 AS n, greatest(words::numeric / chunks::numeric, 1)::float8 AS avgdl "
      "  FROM user_word_stats WHERE user_id = $1 AND chunks > 0 AND cardinality($4::text[]) = 0 "
      "  UNION ALL SELECT count(*)::float8, greatest(sum(word_count)::numeric / count(*)::numeric, 1)::float8 "
      "  FROM chunks WHERE cardinality($4::text[]) > 0 AND document_id = ANY($4::text[]) AND user_id = $1 "
      "  HAVING count(*) > 0), "
      "w AS MATERIALIZED (SELECT q.lexeme, q.qw * greatest(ln((s.n - d.df + 0.5) / (d.df + 0.5)), 1e-6) AS idf, s.avgdl "
      "  FROM q CROSS JOIN s CROSS JOIN LATERAL (SELECT count(*)::float8 AS df FROM chunk_terms t "
      "    WHERE t.user_id = $1 AND t.lexeme = q.lexeme "
      "      AND (cardinality($4::text[]) = 0 OR t.document_id = ANY($4::text[]))) d WHERE d.df > 0), "
      "scored AS MATERIALIZED (SELECT t.chunk_id AS id, "
      "  sum(w.idf * t.f::float8 * 2.2::float8 / (t.f::float8 + 1.2::float8 * (0.25::float8 + 0.75::float8 * "
      "    t.word_count / w.avgdl))) AS score "
      "  FROM (SELECT * FROM w ORDER BY lexeme COLLATE \"C\") w JOIN chunk_terms t ON t.user_id = $1 AND t.lexeme = w.lexeme "
      "  WHERE cardinality($4::text[]) = 0 OR t.document_id = ANY($4::text[]) "
      "  GROUP BY t.chunk_id) "
      "SELECT p.id, p.document_id, p.score, m.n FROM (SELECT count(*) AS n FROM scored) m "
      "LEFT JOIN LATERAL (SELECT s.id, s.document_id, s.score FROM (SELECT b.id, b.score, c.document_id "
      "  FROM (SELECT * FROM scored ORDER BY score DESC, id LIMIT $6) b JOIN chunks c ON c.id = b.id) s "
      "  WHERE (SELECT d.status = 'ready' AND (cardinality($4::text[]) = 0 OR d.id = ANY($4::text[])) "
      "    FROM documents d WHERE d.user_id = $1 AND d.id = s.document_id) "
      "  ORDER BY s.score DESC, s.id LIMIT $5) p ON true "
      "ORDER BY p.score DESC, p.id";
  // The hits, and how many chunks matched (on every row; one row of nulls beside it when none
  // passed).
  using Ranked = std::pair<std::vector<ScoredChunk>, int64_t>;
  auto run = [&](std::optional<int64_t> cap) {
    return WithRetry(pool, [&](Connection& c) -> Result<Ranked> {
      PG_ROWS(r, c.Exec(kSql, Params()
                                  .Add(scope.user_id)
                                  .AddArray(words)
                                  .AddArray(weights)
                                  .AddArray(scope.document_ids)
                                  .Add(limit)
                                  .Add(cap)));
      Ranked out{{}, r.empty() ? 0 : r.Int(0, 3)};
      for (int i = 0; i < r.size(); ++i) {
        if (!r.IsNull(i, 0)) out.first.push_back({r.Int(i, 0), r.Text(i, 1), r.Double(i, 2)});
      }
      return out;
    });
  };
  // Matches of documents not ready (reprocessing) are few: the best 4 × limit + 100 nearly
  // always hold `limit` that pass; when they were cut there and do not, every match is ranked
  // (LIMIT NULL).
  const int64_t cap = int64_t{4} * limit + 100;
  Result<Ranked> hits = run(cap);
  if (hits.ok() && static_cast<int>(hits->first.size()) < limit && hits->second > cap) hits = run(std::nullopt);
  if (!hits.ok()) return hits.status();
  return std::move(hits->first);
}

Result<std::vector<std::pair<int64_t, std::vector<std::string>>>> IndexedWords(Pool& pool,
                                                                              const std::vector<int64_t>& keys) {
  using Out = std::vector<std::pair<int64_t, std::vector<std::string>>>;
  return WithRetry(pool, [&](Connection& c) -> Result<Out> {
    PG_ROWS(r, c.Exec("SELECT c.id, u.lexeme, greatest(cardinality(u.positions), 1) FROM chunks c, unnest(c.words) u "
                      "WHERE c.id = ANY($1::bigint[]) ORDER BY c.id, u.lexeme",
                      Params().AddArray(keys)));
    std::unordered_map<int64_t, size_t> at;
    Out out;
    for (int i = 0; i < r.size(); ++i) {
      auto [it, fresh] = at.try_emplace(r.Int(i, 0), out.size());
      if (fresh) out.emplace_back(r.Int(i, 0), std::vector<std::string>{});
      std::vector<std::string>& words = out[it->second].second;
      words.insert(words.end(), static_cast<size_t>(r.Int(i, 2)), r.Text(i, 1));
    }
    return out;
  });
}

Result<std::pair<std::vector<int64_t>, int64_t>> WordFrequencies(Pool& pool, const std::string& user_id,
                                                                 const std::vector<std::string>& words, int64_t floor,
                                                                 double share) {
  return WithRetry(pool, [&](Connection& c) -> Result<std::pair<std::vector<int64_t>, int64_t>> {
    PG_ROWS(n, c.Exec("SELECT coalesce((SELECT chunks FROM user_word_stats WHERE user_id = $1), 0)", Params().Add(user_id)));
    // Each count reads the word's postings (an index-only scan) no further than one past the
    // bound: a common word's thousands are not counted to learn that it is common.
    const int64_t chunks = n.empty() ? 0 : n.Int(0, 0);
    const int64_t bound = share >= 1 ? chunks : std::max(floor, static_cast<int64_t>(share * static_cast<double>(chunks)));
    PG_ROWS(r, c.Exec("SELECT (SELECT count(*) FROM (SELECT 1 FROM chunk_terms c WHERE c.user_id = $1 AND c.lexeme = t.w "
                      "LIMIT $3) s) FROM unnest($2::text[]) WITH ORDINALITY AS t(w, i) ORDER BY i",
                      Params().Add(user_id).AddArray(words).Add(bound + 1)));
    std::vector<int64_t> df;
    for (int i = 0; i < r.size(); ++i) df.push_back(r.Int(i, 0));
    return std::make_pair(std::move(df), n.Int(0, 0));
  });
}

Result<std::vector<ScoredChunk>> SearchVectors(Pool& pool, const VectorModel& model, const SearchScope& scope,
                                               const std::vector<float>& query, int limit, int ef_search,
                                               int exact_below) {
  if (static_cast<int>(query.size()) != model.dimension) {
    return Status::InvalidArgument("the query has " + std::to_string(query.size()) + " dimensions, the model " +
                                   std::to_string(model.dimension));
  }
  const VectorShape shape = ShapeOf(model.dimension);
  const bool by_document = !scope.document_ids.empty();
  // $1 the owner, then the documents' ids when scoped at $documents.
  auto scoped = [&](int documents) {
    return ModelPredicate(model) + " AND user_id = $1" +
           (by_document ? " AND document_id = ANY($" + std::to_string(documents) + "::text[])" : "");
  };
  const std::string full = "vector(" + std::to_string(model.dimension) + ")";
  const std::string distance = "embedding::" + full + " <=> $2::" + full;  // full precision
  const std::string indexed = "embedding::" + shape.type + " <=> $2::" + shape.type;
  // Through the index: its expression and predicate, the model a literal; scored in full.
  const std::string approximate = "SELECT chunk_id, document_id, 1 - (" + distance + ") AS score FROM chunk_vectors WHERE " +
                                  scoped(4) + " ORDER BY " + indexed + " LIMIT $3";
  // Exact: the scope's rows read first (a materialised CTE never walks the HNSW index).
  const std::string exact = "WITH mine AS MATERIALIZED (SELECT chunk_id, document_id, embedding FROM chunk_vectors WHERE " +
                            scoped(4) + ") SELECT chunk_id, document_id, 1 - (" + distance +
                            ") AS score FROM mine ORDER BY " + distance + ", chunk_id LIMIT $3";
  // How many vectors the scope holds, counted no further than the threshold (the owner index).
  const std::string count = "SELECT count(*) FROM (SELECT 1 FROM chunk_vectors WHERE " + scoped(2) + " LIMIT $" +
                            (by_document ? "3" : "2") + ") s";
  Params params;
  params.Add(scope.user_id).AddVector(query).Add(limit);
  if (by_document) params.AddArray(scope.document_ids);
  // An exact scan reads every vector of the scope: bounded to about 4M values (16 MB, some
  // 25 ms), 4,000 vectors of 1,024 dimensions, whatever exact_below allows.
  exact_below = std::min(exact_below, kExactScanValues / std::max(model.dimension, 1));
  Params count_params;
  count_params.Add(scope.user_id);
  if (by_document) count_params.AddArray(scope.document_ids);
  count_params.Add(exact_below);
  return WithRetry(pool, [&](Connection& c) -> Result<std::vector<ScoredChunk>> {
    // Filtered by owner, the index is scanned further until enough rows pass (pgvector 0.8's
    // iterative scans; relaxed order, so the rows are sorted again here).
    Transaction tx(c);
    BD_RETURN_IF_ERROR(tx.begin_status());
    bool small = false;
    if (exact_below > 0) {
      PG_ROWS(n, c.ExecOnce(count, count_params));
      small = n.Int(0, 0) < exact_below;
    }
    if (!small) {
      // The index, whatever the depth: the planner prices a vector's distance like any
      // operator and misses the detoasting and the cast, so past a few hundred rows it prefers
      // reading and sorting every vector of the scope (16k vectors of 1,024 dimensions: 290 ms
      // for 1,000 rows, against 35 ms through the index).
      BD_RETURN_IF_ERROR(c.Script("SET LOCAL hnsw.ef_search = " + std::to_string(std::clamp(ef_search, 1, 1000)) +
                                  "; SET LOCAL hnsw.iterative_scan = relaxed_order; SET LOCAL enable_seqscan = off; "
                                  "SET LOCAL enable_sort = off"));
    }
    PG_ROWS(r, c.ExecOnce(small ? exact : approximate, params));
    std::vector<ScoredChunk> hits = ReadScored(r);
    if (!small && exact_below > 0 && static_cast<int>(hits.size()) < limit) {
      // The walk ended short: past hnsw.max_scan_tuples (20,000 by default) before `limit`
      // rows passed, as where the scope is a small share of the model's vectors (5,000 of
      // 500,000: about 200 of them seen). Exact then, however many the scope holds; a scope
      // with fewer than `limit` gives the same rows.
      BD_RETURN_IF_ERROR(c.Script("RESET enable_seqscan; RESET enable_sort"));
      PG_ROWS(all, c.ExecOnce(exact, params));
      hits = ReadScored(all);
    }
    BD_RETURN_IF_ERROR(tx.Commit());
    std::stable_sort(hits.begin(), hits.end(), [](const ScoredChunk& a, const ScoredChunk& b) { return a.score > b.score; });
    return hits;
  });
}

Result<std::vector<VectorRow>> VectorsByKey(Pool& pool, const VectorModel& model, const std::vector<int64_t>& keys) {
  return WithRetry(pool, [&](Connection& c) -> Result<std::vector<VectorRow>> {
    PG_ROWS(r, c.Exec("SELECT chunk_id, user_id, document_id, embedding FROM chunk_vectors "
                      "WHERE chunk_id = ANY($1::bigint[]) AND model = $2 AND dimension = $3",
                      Params().AddArray(keys).Add(model.id).Add(model.dimension)));
    std::vector<VectorRow> rows;
    for (int i = 0; i < r.size(); ++i) rows.push_back({r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), r.Vector(i, 3)});
    return rows;
  });
}

Status BuildVectorIndex(Pool& pool, const VectorModel& model) {
  const VectorShape shape = ShapeOf(model.dimension);
  if (shape.ops.empty()) return Status::Ok();  // searched exactly
  const std::string name = IndexName(model);
  auto lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  Connection& c = **lease;
  // One builder at a time (session lock: CREATE INDEX CONCURRENTLY runs outside a transaction);
  // an index left invalid by a build that died is dropped and built again.
  BD_RETURN_IF_ERROR(c.Exec("SELECT pg_advisory_lock(1650748, hashtext($1))", Params().Add(name)).status());
  auto build = [&]() -> Status {
    PG_ROWS(r, c.Exec("SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)", Params().Add(name)));
    if (!r.empty() && r.Bool(0, 0)) return Status::Ok();
    if (!r.empty()) BD_RETURN_IF_ERROR(c.Script("DROP INDEX CONCURRENTLY IF EXISTS " + name));
    BD_RETURN_IF_ERROR(c.Script("SET maintenance_work_mem = '512MB'"));
    Status built = c.Script("CREATE INDEX CONCURRENTLY " + name + " ON chunk_vectors USING hnsw ((embedding::" +
                            shape.type + ") " + shape.ops + ") WHERE " + ModelPredicate(model));
    BD_RETURN_IF_ERROR(c.Script("RESET maintenance_work_mem"));
    return built;
  };
  Status s = build();
  if (s.ok()) s = c.Script("DROP INDEX CONCURRENTLY IF EXISTS " + IndexName(model, /*legacy=*/true));
  Status unlocked = c.Exec("SELECT pg_advisory_unlock(1650748, hashtext($1))", Params().Add(name)).status();
  return s.ok() ? unlocked : s;
}

}  // namespace betterdev::store::pg
