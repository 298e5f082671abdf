// Keyword search over chunks with SQLite FTS5 (BM25), scoped to one user's ready documents.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <unordered_set>

#include "core/stopwords.hpp"
#include "store/sqlite/repositories.hpp"

namespace betterdev::store::sqlite {
namespace {

bool IsWordByte(char c) {
  const auto b = static_cast<unsigned char>(c);
  return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b >= 0x80;
}

// "what about vitamin-D?" -> "\"vitamin\" OR \"D\"": every word but stopwords as a quoted FTS5
// string, so nothing in the query acts as an operator. At most 64 words. (Measured on NFCorpus:
// dropping stopwords took nDCG@10 from 0.317 to 0.324 and queries from 15 to 5 ms.)
std::string MatchExpression(std::string_view query) {
  std::string match;
  int words = 0;
  for (size_t i = 0; i < query.size() && words < 64;) {
    while (i < query.size() && !IsWordByte(query[i])) ++i;
    const size_t start = i;
    while (i < query.size() && IsWordByte(query[i])) ++i;
    if (i == start) break;
    std::string lower(query.substr(start, i - start));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (IsEnglishStopword(lower)) continue;  // BM25 gives them little weight, and they cost time
    if (!match.empty()) match += " OR ";
    match += '"';
    match.append(query.substr(start, i - start));
    match += '"';
    ++words;
  }
  return match;
}

std::vector<float> FloatsOf(std::string_view blob) {
  std::vector<float> v(blob.size() / sizeof(float));
  std::memcpy(v.data(), blob.data(), v.size() * sizeof(float));
  return v;
}

}  // namespace

// Two steps: the best-ranked matches from the FTS index alone (a pool), then the owner and
// scope check for those few rows. Joining every match before ranking took 180 ms per query at
// 100k chunks (docs/benchmarks.md). When the pool holds fewer than `k` of the user's chunks
// but was full, a pool eight times larger is tried.
Result<std::vector<ChunkHit>> SqliteSearch::KeywordSearch(const std::string& user_id, std::string_view query,
                                                          const std::vector<std::string>& document_ids, int k) {
  std::vector<ChunkHit> hits;
  const std::string match = MatchExpression(query);
  if (match.empty() || k <= 0) return hits;
  const std::unordered_set<std::string> scope(document_ids.begin(), document_ids.end());
  auto conn = pool_.Acquire();
  for (int64_t pool = std::max<int64_t>(200, int64_t{k} * 20);; pool *= 8) {
    std::vector<std::pair<int64_t, double>> ranked;
    {
      Statement q = conn->Prepare(
          "SELECT rowid, -bm25(chunks_fts, 1.0, 2.0) FROM chunks_fts WHERE chunks_fts MATCH ?1 "
          "ORDER BY bm25(chunks_fts, 1.0, 2.0) LIMIT ?2");
      q.Bind(1, match).Bind(2, pool);
      while (true) {
        Result<bool> row = q.Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        ranked.emplace_back(q.Int(0), q.Double(1));
      }
    }
    hits.clear();
    for (const auto& [key, score] : ranked) {
      Statement q = conn->Prepare(
          "SELECT c.document_id FROM chunks c JOIN documents d ON d.id = c.document_id "
          "WHERE c.id = ?1 AND d.user_id = ?2 AND d.status = 'ready'");
      q.Bind(1, key).Bind(2, user_id);
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (!*row) continue;
      std::string document_id = q.Text(0);
      if (!scope.empty() && scope.count(document_id) == 0) continue;
      hits.push_back({key, std::move(document_id), score});
      if (hits.size() == static_cast<size_t>(k)) return hits;
    }
    if (static_cast<int64_t>(ranked.size()) < pool) return hits;  // every match was looked at
  }
}

Result<std::vector<StoredChunk>> SqliteSearch::ChunksByKey(const std::vector<int64_t>& keys) {
  std::vector<StoredChunk> chunks;
  auto conn = pool_.Acquire();
  for (int64_t key : keys) {
    Statement q = conn->Prepare(
        "SELECT document_id, ordinal, page_start, page_end, char_start, char_end, text, context FROM chunks "
        "WHERE id = ?");
    q.Bind(1, key);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) continue;
    chunks.push_back({q.Text(0), static_cast<int>(q.Int(1)), static_cast<int>(q.Int(2)), static_cast<int>(q.Int(3)),
                      q.Int(4), q.Int(5), q.Text(6), q.Text(7), key});
  }
  return chunks;
}

Result<std::vector<VectorRow>> SqliteSearch::VectorsAfter(const VectorModel& model, int64_t after_key, int limit) {
  std::vector<VectorRow> rows;
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare(
      "SELECT v.chunk_id, d.user_id, c.document_id, v.vector FROM chunk_vectors v "
      "JOIN chunks c ON c.id = v.chunk_id JOIN documents d ON d.id = c.document_id "
      "WHERE v.model = ?1 AND v.dimension = ?2 AND v.chunk_id > ?3 AND d.status = 'ready' "
      "ORDER BY v.chunk_id LIMIT ?4");
  q.Bind(1, model.id).Bind(2, int64_t{model.dimension}).Bind(3, after_key).Bind(4, int64_t{limit});
  while (true) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    rows.push_back({q.Int(0), q.Text(1), q.Text(2), FloatsOf(q.Blob(3))});
  }
  return rows;
}


Result<std::vector<std::vector<float>>> SqliteSearch::Cached(const VectorModel& model,
                                                            const std::vector<std::string>& text_sha256) {
  std::vector<std::vector<float>> out(text_sha256.size());
  auto conn = pool_.Acquire();
  for (size_t i = 0; i < text_sha256.size(); ++i) {
    Statement q = conn->Prepare(
        "SELECT vector FROM embedding_cache WHERE model = ? AND dimension = ? AND text_sha256 = ?");
    q.Bind(1, model.id).Bind(2, int64_t{model.dimension}).Bind(3, text_sha256[i]);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (*row) out[i] = FloatsOf(q.Blob(0));
  }
  return out;
}

Status SqliteSearch::Cache(const VectorModel& model, const std::vector<std::string>& text_sha256,
                           const std::vector<std::vector<float>>& vectors, int64_t now) {
  auto conn = pool_.Acquire();
  Transaction tx(*conn);
  BD_RETURN_IF_ERROR(tx.begin_status());
  for (size_t i = 0; i < text_sha256.size() && i < vectors.size(); ++i) {
    BD_RETURN_IF_ERROR(conn->Prepare("INSERT OR REPLACE INTO embedding_cache(model, dimension, text_sha256, vector, "
                                     "created_at) VALUES (?, ?, ?, ?, ?)")
                           .Bind(1, model.id)
                           .Bind(2, int64_t{model.dimension})
                           .Bind(3, text_sha256[i])
                           .BindBlob(4, vectors[i].data(), vectors[i].size() * sizeof(float))
                           .Bind(5, now)
                           .Run());
  }
  return tx.Commit();
}

}  // namespace betterdev::store::sqlite
