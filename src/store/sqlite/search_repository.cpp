// What the search indexes load (chunks, their vectors) and the embedding cache.
#include <cstring>
#include <string>

#include "store/sqlite/repositories.hpp"

namespace betterdev::store::sqlite {
namespace {

std::vector<float> FloatsOf(std::string_view blob) {
  std::vector<float> v(blob.size() / sizeof(float));
  std::memcpy(v.data(), blob.data(), v.size() * sizeof(float));
  return v;
}

// A ready chunk's text with its owner: the columns both text queries select, read back.
constexpr const char* kTextRowColumns =
    "SELECT c.id, d.user_id, c.document_id, c.ordinal, c.text, c.context, d.filename, c.section FROM chunks c "
    "JOIN documents d ON d.id = c.document_id WHERE c.id > ?1 AND d.status = 'ready' ";

Result<std::vector<TextRow>> ReadTextRows(Statement& q) {
  std::vector<TextRow> rows;
  while (true) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    rows.push_back({q.Int(0), q.Text(1), q.Text(2), static_cast<int>(q.Int(3)), q.Text(4), q.Text(5), q.Text(6),
                    q.Text(7)});
  }
  return rows;
}

}  // namespace

Result<std::vector<StoredChunk>> SqliteSearch::ChunksByKey(const std::vector<int64_t>& keys) {
  std::vector<StoredChunk> chunks;
  auto conn = pool_.Acquire();
  for (int64_t key : keys) {
    Statement q = conn->Prepare(
        "SELECT c.document_id, c.ordinal, c.page_start, c.page_end, c.char_start, c.char_end, c.text, c.context, "
        "d.filename, c.section FROM chunks c JOIN documents d ON d.user_id = c.user_id AND d.id = c.document_id "
        "WHERE c.id = ?");
    q.Bind(1, key);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) continue;
    chunks.push_back({q.Text(0), static_cast<int>(q.Int(1)), static_cast<int>(q.Int(2)), static_cast<int>(q.Int(3)),
                      q.Int(4), q.Int(5), q.Text(6), q.Text(7), key, q.Text(8)});
    chunks.back().section = q.Text(9);
  }
  return chunks;
}

Result<std::vector<int64_t>> SqliteSearch::KeysOfChunks(const std::string& user_id, const std::vector<ChunkAt>& chunks) {
  std::vector<int64_t> keys;
  auto conn = pool_.Acquire();
  for (const ChunkAt& at : chunks) {
    Statement q = conn->Prepare(
        "SELECT c.id FROM chunks c JOIN documents d ON d.user_id = c.user_id AND d.id = c.document_id "
        "WHERE c.user_id = ?1 AND c.document_id = ?2 AND c.ordinal = ?3 AND d.job_id = ?4 AND d.status = 'ready'");
    q.Bind(1, user_id).Bind(2, at.document_id).Bind(3, int64_t{at.ordinal}).Bind(4, at.job_id);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    keys.push_back(*row ? q.Int(0) : 0);
  }
  return keys;
}

Result<std::vector<VectorRow>> SqliteSearch::VectorsByKey(const VectorModel& model, const std::vector<int64_t>& keys) {
  std::vector<VectorRow> rows;
  auto conn = pool_.Acquire();
  for (int64_t key : keys) {
    Statement q = conn->Prepare(
        "SELECT c.user_id, c.document_id, v.vector FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id "
        "WHERE v.chunk_id = ?1 AND v.model = ?2 AND v.dimension = ?3");
    q.Bind(1, key).Bind(2, model.id).Bind(3, int64_t{model.dimension});
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (*row) rows.push_back({key, q.Text(0), q.Text(1), FloatsOf(q.Blob(2))});
  }
  return rows;
}

Result<std::vector<VectorRow>> SqliteSearch::VectorsAfter(const VectorModel& model, const std::string& user_id,
                                                          int64_t after_key, int limit) {
  std::vector<VectorRow> rows;
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare(
      "SELECT c.id, c.user_id, c.document_id, v.vector FROM chunks c "
      "JOIN documents d ON d.user_id = c.user_id AND d.id = c.document_id "
      "JOIN chunk_vectors v ON v.chunk_id = c.id AND v.model = ?1 AND v.dimension = ?2 "
      "WHERE c.user_id = ?3 AND c.id > ?4 AND d.status = 'ready' ORDER BY c.id LIMIT ?5");
  q.Bind(1, model.id).Bind(2, int64_t{model.dimension}).Bind(3, user_id).Bind(4, after_key).Bind(5, int64_t{limit});
  while (true) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    rows.push_back({q.Int(0), q.Text(1), q.Text(2), FloatsOf(q.Blob(3))});
  }
  return rows;
}

Result<std::vector<TextRow>> SqliteSearch::TextsAfter(const std::string& user_id, int64_t after_key, int limit) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare(
      "SELECT c.id, c.user_id, c.document_id, c.ordinal, c.text, c.context, d.filename, c.section FROM chunks c "
      "JOIN documents d ON d.user_id = c.user_id AND d.id = c.document_id "
      "WHERE c.user_id = ?1 AND c.id > ?2 AND d.status = 'ready' ORDER BY c.id LIMIT ?3");
  q.Bind(1, user_id).Bind(2, after_key).Bind(3, int64_t{limit});
  return ReadTextRows(q);
}

Result<std::vector<ChunkRef>> SqliteSearch::ChunkRefs(const std::string& user_id) {
  std::vector<ChunkRef> keys;
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare(
      "SELECT c.id, c.document_id FROM chunks c JOIN documents d ON d.user_id = c.user_id AND d.id = c.document_id "
      "WHERE c.user_id = ?1 AND d.status = 'ready' ORDER BY c.id");
  q.Bind(1, user_id);
  while (true) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    keys.push_back({q.Int(0), q.Text(1)});
  }
  return keys;
}

Result<ChunkOwners> SqliteSearch::ChunkOwnersAfter(int64_t after_key) {
  ChunkOwners owners{{}, after_key};
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare("SELECT user_id, max(id) FROM chunks WHERE id > ?1 GROUP BY user_id ORDER BY user_id");
  q.Bind(1, after_key);
  while (true) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    owners.user_ids.push_back(q.Text(0));
    owners.through_key = std::max(owners.through_key, q.Int(1));
  }
  return owners;
}

Result<int64_t> SqliteSearch::LastChunkKey() {
  auto conn = pool_.Acquire();
  // AUTOINCREMENT's high-water mark: it survives deletes, unlike max(id).
  Statement q = conn->Prepare("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'chunks'), 0)");
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  return *row ? q.Int(0) : int64_t{0};
}

Result<std::optional<VectorModel>> SqliteSearch::ActiveModel() {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare("SELECT model, dimension FROM search_model WHERE id = 1");
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<VectorModel>{};
  return std::optional<VectorModel>{VectorModel{q.Text(0), static_cast<int>(q.Int(1))}};
}

Status SqliteSearch::SetActiveModel(const VectorModel& model, int64_t now) {
  auto conn = pool_.Acquire();
  return conn->Prepare("INSERT OR REPLACE INTO search_model(id, model, dimension, switched_at) VALUES (1, ?, ?, ?)")
      .Bind(1, model.id)
      .Bind(2, int64_t{model.dimension})
      .Bind(3, now)
      .Run();
}

Result<std::vector<TextRow>> SqliteSearch::ChunksWithoutVectors(const VectorModel& model, int64_t after_key,
                                                                int limit) {
  auto conn = pool_.Acquire();
  static const std::string sql = std::string(kTextRowColumns) +
                                 "AND NOT EXISTS (SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id AND v.model = ?2 "
                                 "AND v.dimension = ?3) ORDER BY c.id LIMIT ?4";
  Statement q = conn->Prepare(sql.c_str());  // connections cache statements by this pointer
  q.Bind(1, after_key).Bind(2, model.id).Bind(3, int64_t{model.dimension}).Bind(4, int64_t{limit});
  return ReadTextRows(q);
}

Status SqliteSearch::PutVectors(const VectorModel& model, const std::vector<int64_t>& keys,
                                const std::vector<std::vector<float>>& vectors) {
  auto conn = pool_.Acquire();
  Transaction tx(*conn);
  BD_RETURN_IF_ERROR(tx.begin_status());
  for (size_t i = 0; i < keys.size() && i < vectors.size(); ++i) {
    BD_RETURN_IF_ERROR(conn->Prepare("INSERT OR REPLACE INTO chunk_vectors(chunk_id, model, dimension, vector) "
                                     "SELECT id, ?2, ?3, ?4 FROM chunks WHERE id = ?1")
                           .Bind(1, keys[i])
                           .Bind(2, model.id)
                           .Bind(3, int64_t{model.dimension})
                           .BindBlob(4, vectors[i].data(), vectors[i].size() * sizeof(float))
                           .Run());
  }
  return tx.Commit();
}

Result<int64_t> SqliteSearch::LastVectorKey(const VectorModel& model) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare("SELECT coalesce(max(chunk_id), 0) FROM chunk_vectors WHERE model = ? AND dimension = ?");
  q.Bind(1, model.id).Bind(2, int64_t{model.dimension});
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  return *row ? q.Int(0) : int64_t{0};
}

Status SqliteSearch::DropVectorsExcept(const VectorModel& model) {
  auto conn = pool_.Acquire();
  return conn->Prepare("DELETE FROM chunk_vectors WHERE model <> ?1 OR dimension <> ?2")
      .Bind(1, model.id)
      .Bind(2, int64_t{model.dimension})
      .Run();
}

Status SqliteSearch::AddMirrorDelete(const MirrorDelete& d, int64_t now_ms) {
  auto conn = pool_.Acquire();
  return conn->Prepare("INSERT OR IGNORE INTO mirror_deletes(user_id, document_id, job_id, since_ms) VALUES (?, ?, ?, ?)")
      .Bind(1, d.user_id)
      .Bind(2, d.document_id)
      .Bind(3, d.job_id)
      .Bind(4, now_ms)
      .Run();
}

Result<std::vector<MirrorDelete>> SqliteSearch::MirrorDeletes(int limit) {
  auto conn = pool_.Acquire();
  Statement q = conn->Prepare(
      "SELECT user_id, document_id, job_id FROM mirror_deletes ORDER BY since_ms, user_id, document_id, job_id LIMIT ?");
  q.Bind(1, int64_t{limit});
  std::vector<MirrorDelete> out;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    out.push_back({q.Text(0), q.Text(1), q.Text(2)});
  }
  return out;
}

Status SqliteSearch::RemoveMirrorDelete(const MirrorDelete& d) {
  auto conn = pool_.Acquire();
  return conn->Prepare("DELETE FROM mirror_deletes WHERE user_id = ? AND document_id = ? AND job_id = ?")
      .Bind(1, d.user_id)
      .Bind(2, d.document_id)
      .Bind(3, d.job_id)
      .Run();
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
