// What the search indexes load (chunks, their vectors) and the embedding cache, on PostgreSQL.
// Chunk keys commit in order (pg_documents.cpp), so the "after key" feeds skip nothing.
#include <unordered_map>

#include "store/postgres/pg_repositories.hpp"

namespace betterdev::store::pg {
namespace {

std::vector<TextRow> ReadTextRows(const Rows& r) {
  std::vector<TextRow> rows;
  for (int i = 0; i < r.size(); ++i)
    rows.push_back({r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), static_cast<int>(r.Int(i, 3)), r.Text(i, 4), r.Text(i, 5),
                    r.Text(i, 6), r.Text(i, 7)});
  return rows;
}

class Search final : public SearchRepository {
 public:
  explicit Search(Pool& pool) : pool_(pool) {}

  Result<std::vector<StoredChunk>> ChunksByKey(const std::vector<int64_t>& keys) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<std::vector<StoredChunk>> {
      PG_ROWS(r, c.Exec("SELECT c.document_id, c.ordinal, c.page_start, c.page_end, c.char_start, c.char_end, c.text, "
                        "c.context, c.id, d.filename, c.section FROM chunks c JOIN documents d ON d.user_id = c.user_id AND "
                        "d.id = c.document_id WHERE c.id = ANY($1::bigint[])",
                        Params().AddArray(keys)));
      std::vector<StoredChunk> chunks;
      for (int i = 0; i < r.size(); ++i) {
        chunks.push_back({r.Text(i, 0), static_cast<int>(r.Int(i, 1)), static_cast<int>(r.Int(i, 2)),
                          static_cast<int>(r.Int(i, 3)), r.Int(i, 4), r.Int(i, 5), r.Text(i, 6), r.Text(i, 7), r.Int(i, 8),
                          r.Text(i, 9)});
        chunks.back().section = r.Text(i, 10);
      }
      return chunks;
    });
  }

  Result<std::vector<VectorRow>> VectorsAfter(const VectorModel& model, const std::string& user_id, int64_t after_key,
                                              int limit) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<std::vector<VectorRow>> {
      PG_ROWS(r, c.Exec("SELECT c.id, c.user_id, c.document_id, v.embedding FROM chunks c "
                        "JOIN documents d ON d.user_id = c.user_id AND d.id = c.document_id "
                        "JOIN chunk_vectors v ON v.chunk_id = c.id AND v.model = $1 AND v.dimension = $2 "
                        "WHERE c.user_id = $3 AND c.id > $4 AND d.status = 'ready' ORDER BY c.id LIMIT $5",
                        Params().Add(model.id).Add(model.dimension).Add(user_id).Add(after_key).Add(limit)));
      std::vector<VectorRow> rows;
      for (int i = 0; i < r.size(); ++i) rows.push_back({r.Int(i, 0), r.Text(i, 1), r.Text(i, 2), r.Vector(i, 3)});
      return rows;
    });
  }

  Result<std::vector<TextRow>> TextsAfter(const std::string& user_id, int64_t after_key, int limit) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<std::vector<TextRow>> {
      PG_ROWS(r, c.Exec("SELECT c.id, c.user_id, c.document_id, c.ordinal, c.text, c.context, d.filename, c.section FROM chunks c "
                        "JOIN documents d ON d.user_id = c.user_id AND d.id = c.document_id "
                        "WHERE c.user_id = $1 AND c.id > $2 AND d.status = 'ready' ORDER BY c.id LIMIT $3",
                        Params().Add(user_id).Add(after_key).Add(limit)));
      return ReadTextRows(r);
    });
  }

  Result<std::vector<ChunkRef>> ChunkRefs(const std::string& user_id) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<std::vector<ChunkRef>> {
      PG_ROWS(r, c.Exec("SELECT c.id, c.document_id FROM chunks c JOIN documents d ON d.user_id = c.user_id AND "
                        "d.id = c.document_id WHERE c.user_id = $1 AND d.status = 'ready' ORDER BY c.id",
                        Params().Add(user_id)));
      std::vector<ChunkRef> keys;
      for (int i = 0; i < r.size(); ++i) keys.push_back({r.Int(i, 0), r.Text(i, 1)});
      return keys;
    });
  }

  Result<int64_t> LastChunkKey() override {
    return WithRetry(pool_, [&](Connection& c) -> Result<int64_t> {
      // The sequence's high-water mark: it survives deletes, unlike max(id).
      PG_ROWS(r, c.Exec("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM chunk_keys"));
      return r.empty() ? int64_t{0} : r.Int(0, 0);
    });
  }

  Result<ChunkOwners> ChunkOwnersAfter(int64_t after_key) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<ChunkOwners> {
      PG_ROWS(r, c.Exec("SELECT user_id, max(id) FROM chunks WHERE id > $1 GROUP BY user_id ORDER BY user_id",
                        Params().Add(after_key)));
      ChunkOwners owners{{}, after_key};
      for (int i = 0; i < r.size(); ++i) {
        owners.user_ids.push_back(r.Text(i, 0));
        owners.through_key = std::max(owners.through_key, r.Int(i, 1));
      }
      return owners;
    });
  }

  Result<std::vector<int64_t>> KeysOfChunks(const std::string& user_id, const std::vector<ChunkAt>& chunks) override {
    std::vector<std::string> documents, jobs;
    std::vector<int64_t> ordinals;
    for (const ChunkAt& at : chunks) {
      documents.push_back(at.document_id);
      jobs.push_back(at.job_id);
      ordinals.push_back(at.ordinal);
    }
    return WithRetry(pool_, [&](Connection& c) -> Result<std::vector<int64_t>> {
      PG_ROWS(r, c.Exec("SELECT coalesce((SELECT c.id FROM chunks c JOIN documents d ON d.user_id = c.user_id "
                        "  AND d.id = c.document_id WHERE c.user_id = $1 AND c.document_id = t.doc AND c.ordinal = t.ord "
                        "  AND d.job_id = t.job AND d.status = 'ready'), 0) "
                        "FROM unnest($2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS t(doc, job, ord, i) ORDER BY i",
                        Params().Add(user_id).AddArray(documents).AddArray(jobs).AddArray(ordinals)));
      std::vector<int64_t> keys;
      for (int i = 0; i < r.size(); ++i) keys.push_back(r.Int(i, 0));
      return keys;
    });
  }

  bool searches_inside() const override { return true; }

  Result<std::optional<VectorModel>> ActiveModel() override {
    return WithRetry(pool_, [&](Connection& c) -> Result<std::optional<VectorModel>> {
      PG_ROWS(r, c.Exec("SELECT model, dimension FROM search_model WHERE id = 1"));
      if (r.empty()) return std::optional<VectorModel>{};
      return std::optional<VectorModel>{VectorModel{r.Text(0, 0), static_cast<int>(r.Int(0, 1))}};
    });
  }

  Status SetActiveModel(const VectorModel& model, int64_t now) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      return c.Exec("INSERT INTO search_model(id, model, dimension, switched_at) VALUES (1, $1, $2, $3) "
                    "ON CONFLICT (id) DO UPDATE SET model = excluded.model, dimension = excluded.dimension, "
                    "switched_at = excluded.switched_at",
                    Params().Add(model.id).Add(model.dimension).Add(now))
          .status();
    });
  }

  Result<std::vector<TextRow>> ChunksWithoutVectors(const VectorModel& model, int64_t after_key, int limit) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<std::vector<TextRow>> {
      PG_ROWS(r, c.Exec("SELECT c.id, d.user_id, c.document_id, c.ordinal, c.text, c.context, d.filename, c.section FROM chunks c "
                        "JOIN documents d ON d.id = c.document_id WHERE c.id > $1 AND d.status = 'ready' "
                        "AND NOT EXISTS (SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id AND v.model = $2 "
                        "AND v.dimension = $3) ORDER BY c.id LIMIT $4",
                        Params().Add(after_key).Add(model.id).Add(model.dimension).Add(limit)));
      return ReadTextRows(r);
    });
  }

  Status PutVectors(const VectorModel& model, const std::vector<int64_t>& keys,
                    const std::vector<std::vector<float>>& vectors) override {
    // One row per key (the last vector given wins): a statement may not touch a row twice.
    std::unordered_map<int64_t, size_t> last;
    for (size_t i = 0; i < keys.size() && i < vectors.size(); ++i) last[keys[i]] = i;
    std::vector<int64_t> batch_keys;
    std::vector<std::string> batch_vectors;
    for (size_t i = 0; i < keys.size() && i < vectors.size(); ++i) {
      if (last[keys[i]] != i) continue;
      batch_keys.push_back(keys[i]);
      batch_vectors.push_back(Params::VectorText(vectors[i]));
    }
    return WithRetry(pool_, [&](Connection& c) -> Status {
      // FOR KEY SHARE: a chunk deleted meanwhile (a reprocess) yields no row and is skipped, as
      // the contract says, instead of failing the batch on the foreign key.
      return c.Exec("INSERT INTO chunk_vectors(chunk_id, model, dimension, embedding, user_id, document_id) "
                    "SELECT c.id, $2, $3, t.e::vector, c.user_id, c.document_id "
                    "FROM unnest($1::bigint[], $4::text[]) AS t(k, e) JOIN chunks c ON c.id = t.k FOR KEY SHARE OF c "
                    "ON CONFLICT (chunk_id, model, dimension) DO UPDATE SET embedding = excluded.embedding",
                    Params().AddArray(batch_keys).Add(model.id).Add(model.dimension).AddArray(batch_vectors))
          .status();
    });
  }

  Result<int64_t> LastVectorKey(const VectorModel& model) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<int64_t> {
      PG_ROWS(r, c.Exec("SELECT coalesce(max(chunk_id), 0) FROM chunk_vectors WHERE model = $1 AND dimension = $2",
                        Params().Add(model.id).Add(model.dimension)));
      return r.Int(0, 0);
    });
  }

  Status DropVectorsExcept(const VectorModel& model) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      return c.Exec("DELETE FROM chunk_vectors WHERE model <> $1 OR dimension <> $2",
                    Params().Add(model.id).Add(model.dimension))
          .status();
    });
  }

  Status AddMirrorDelete(const MirrorDelete& d, int64_t now_ms) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      return c.Exec("INSERT INTO mirror_deletes(user_id, document_id, job_id, since_ms) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (user_id, document_id, job_id) DO NOTHING",
                    Params().Add(d.user_id).Add(d.document_id).Add(d.job_id).Add(now_ms))
          .status();
    });
  }

  Result<std::vector<MirrorDelete>> MirrorDeletes(int limit) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<std::vector<MirrorDelete>> {
      PG_ROWS(r, c.Exec("SELECT user_id, document_id, job_id FROM mirror_deletes "
                        "ORDER BY since_ms, user_id, document_id, job_id LIMIT $1",
                        Params().Add(limit)));
      std::vector<MirrorDelete> out;
      for (int i = 0; i < r.size(); ++i) out.push_back({r.Text(i, 0), r.Text(i, 1), r.Text(i, 2)});
      return out;
    });
  }

  Status RemoveMirrorDelete(const MirrorDelete& d) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      return c.Exec("DELETE FROM mirror_deletes WHERE user_id = $1 AND document_id = $2 AND job_id = $3",
                    Params().Add(d.user_id).Add(d.document_id).Add(d.job_id))
          .status();
    });
  }

  Result<std::vector<std::vector<float>>> Cached(const VectorModel& model,
                                                const std::vector<std::string>& text_sha256) override {
    return WithRetry(pool_, [&](Connection& c) -> Result<std::vector<std::vector<float>>> {
      std::vector<std::vector<float>> out(text_sha256.size());
      for (size_t i = 0; i < text_sha256.size(); ++i) {
        PG_ROWS(r, c.Exec("SELECT embedding FROM embedding_cache WHERE model = $1 AND dimension = $2 AND text_sha256 = $3",
                          Params().Add(model.id).Add(model.dimension).Add(text_sha256[i])));
        if (!r.empty()) out[i] = r.Vector(0, 0);
      }
      return out;
    });
  }

  Status Cache(const VectorModel& model, const std::vector<std::string>& text_sha256,
               const std::vector<std::vector<float>>& vectors, int64_t now) override {
    return WithRetry(pool_, [&](Connection& c) -> Status {
      Transaction tx(c);
      BD_RETURN_IF_ERROR(tx.begin_status());
      for (size_t i = 0; i < text_sha256.size() && i < vectors.size(); ++i) {
        BD_RETURN_IF_ERROR(c.Exec("INSERT INTO embedding_cache(model, dimension, text_sha256, embedding, created_at) "
                                  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model, dimension, text_sha256) "
                                  "DO UPDATE SET embedding = excluded.embedding, created_at = excluded.created_at",
                                  Params().Add(model.id).Add(model.dimension).Add(text_sha256[i]).AddVector(vectors[i]).Add(now))
                               .status());
      }
      return tx.Commit();
    });
  }

  Result<std::vector<std::string>> QueryWords(const std::string& query) override {
    return pg::QueryWords(pool_, query);
  }
  Result<std::vector<ScoredChunk>> SearchKeywords(const SearchScope& scope, const std::vector<std::string>& words,
                                                  const std::vector<double>& weights, int limit) override {
    return pg::SearchKeywords(pool_, scope, words, weights, limit);
  }
  Result<std::vector<std::pair<int64_t, std::vector<std::string>>>> IndexedWords(
      const std::vector<int64_t>& keys) override {
    return pg::IndexedWords(pool_, keys);
  }
  Result<std::pair<std::vector<int64_t>, int64_t>> WordFrequencies(const std::string& user_id,
                                                                   const std::vector<std::string>& words, int64_t floor,
                                                                   double share) override {
    return pg::WordFrequencies(pool_, user_id, words, floor, share);
  }
  Result<std::vector<ScoredChunk>> SearchVectors(const VectorModel& model, const SearchScope& scope,
                                                 const std::vector<float>& query, int limit, int ef_search,
                                                 int exact_below) override {
    return pg::SearchVectors(pool_, model, scope, query, limit, ef_search, exact_below);
  }
  Result<std::vector<VectorRow>> VectorsByKey(const VectorModel& model, const std::vector<int64_t>& keys) override {
    return pg::VectorsByKey(pool_, model, keys);
  }
  Status BuildVectorIndex(const VectorModel& model) override { return pg::BuildVectorIndex(pool_, model); }

 private:
  Pool& pool_;
};

}  // namespace

std::unique_ptr<SearchRepository> NewSearch(Pool& pool) { return std::make_unique<Search>(pool); }

}  // namespace betterdev::store::pg
