// SQLite implementations of the repository interfaces (store/store.hpp).
#pragma once

#include "store/sqlite/db.hpp"
#include "store/store.hpp"

namespace betterdev::store::sqlite {

// Ids are ASCII: "~" sorts after every id and "" before, so a missing cursor on a newest-first
// list means "from the start".
inline constexpr std::string_view kAfterAll = "~";

// Steps `q`, which selects at most limit + 1 rows, into a page of at most `limit` items read by
// `read(q)`; the extra row only tells that more follow.
template <typename T, typename Read>
Result<Page<T>> ReadPage(Statement& q, int limit, Read read) {
  Page<T> out;
  for (;;) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (static_cast<int>(out.items.size()) == limit) {
      out.has_more = true;
      break;
    }
    out.items.push_back(read(q));
  }
  return out;
}

class SqliteUsers final : public UserRepository {
 public:
  explicit SqliteUsers(Pool& pool) : pool_(pool) {}
  Status Create(const User& user) override;
  Result<User> FindByEmail(const std::string& email) override;
  Result<User> FindById(const std::string& id) override;

 private:
  Pool& pool_;
};

class SqliteTokens final : public TokenRepository {
 public:
  explicit SqliteTokens(Pool& pool) : pool_(pool) {}
  Status Create(const AccessToken& token) override;
  Result<AccessToken> FindByHash(const std::string& token_hash) override;
  Status Revoke(const std::string& user_id, const std::string& token_id, int64_t now) override;
  Result<int64_t> DeleteExpired(int64_t now) override;

 private:
  Pool& pool_;
};

class SqliteApiKeys final : public ApiKeyRepository {
 public:
  explicit SqliteApiKeys(Pool& pool) : pool_(pool) {}
  Status Create(const ApiKey& key) override;
  Result<Page<ApiKey>> List(const std::string& user_id, const PageRequest& page) override;
  Result<ApiKey> FindByHash(const std::string& key_hash) override;
  Status Delete(const std::string& user_id, const std::string& id) override;
  Status TouchLastUsed(const std::string& id, int64_t now) override;

 private:
  Pool& pool_;
};

class SqliteConversations final : public ConversationRepository {
 public:
  explicit SqliteConversations(Pool& pool) : pool_(pool) {}
  Status Create(const Conversation& c) override;
  Result<Conversation> Get(const std::string& user_id, const std::string& id) override;
  Result<Page<Conversation>> List(const std::string& user_id, const PageRequest& page) override;
  Result<Conversation> Update(const std::string& user_id, const std::string& id, const ConversationPatch& patch,
                              int64_t now) override;
  Status Delete(const std::string& user_id, const std::string& id) override;

 private:
  Pool& pool_;
};

class SqliteMessages final : public MessageRepository {
 public:
  explicit SqliteMessages(Pool& pool) : pool_(pool) {}
  Status Append(const std::string& user_id, const Message& m) override;
  Result<Page<Message>> List(const std::string& user_id, const std::string& conversation_id,
                             const PageRequest& page) override;
  Result<std::vector<Message>> Recent(const std::string& user_id, const std::string& conversation_id,
                                      int limit) override;

 private:
  Pool& pool_;
};

class SqliteDocuments final : public DocumentRepository {
 public:
  explicit SqliteDocuments(Pool& pool) : pool_(pool) {}
  Status Create(const Document& d) override;
  Result<Document> Get(const std::string& user_id, const std::string& id) override;
  Result<Document> GetById(const std::string& id) override;
  Result<Document> FindBySha(const std::string& user_id, const std::string& sha256) override;
  Result<Page<Document>> List(const std::string& user_id, const PageRequest& page,
                              std::optional<DocumentStatus> status) override;
  Status Requeue(const std::string& user_id, const std::string& id, const std::string& job_id, bool mirror_delete,
                 int64_t now) override;
  Status MarkProcessing(const std::string& id, const std::string& job_id, int attempt, int64_t now) override;
  Status UpdateProgress(const std::string& id, const std::string& job_id, int attempt, const DocumentProgress& p,
                        int64_t now) override;
  Status MarkAttemptFailed(const std::string& id, const std::string& job_id, int attempt, const std::string& reason,
                           bool final, int64_t now) override;
  Status CompleteWithChunks(const std::string& id, const std::string& job_id, int attempt, int pages,
                            int64_t text_chars, const std::vector<StoredChunk>& chunks, const VectorModel& model,
                            int64_t now) override;
  Status AddEmbeddingUsage(const std::string& id, const std::string& job_id, int64_t tokens, double cost_usd) override;
  Result<Document> Delete(const std::string& user_id, const std::string& id, bool mirror_delete,
                          int64_t now_ms) override;
  Result<std::string> PinBlob(const std::string& sha256, int64_t now_ms, int64_t until_ms) override;
  Status UnpinBlob(const std::string& pin_id) override;
  Result<bool> CollectBlob(const std::string& sha256, int64_t now_ms, const std::function<Status()>& remove) override;
  Result<std::vector<std::string>> BlobGarbage(int limit) override;
  Result<std::vector<Document>> ListQueuedBefore(int64_t updated_before, int limit) override;
  Status SetNote(const std::string& id, const std::string& job_id, const std::string& note) override;
  Result<StoredChunk> GetChunk(const std::string& user_id, const std::string& document_id, int ordinal) override;
  Result<Page<StoredChunk>> ListChunks(const std::string& user_id, const std::string& document_id,
                                       const PageRequest& page) override;

 private:
  Pool& pool_;
};

class SqliteSearch final : public SearchRepository {
 public:
  explicit SqliteSearch(Pool& pool) : pool_(pool) {}
  Result<std::vector<StoredChunk>> ChunksByKey(const std::vector<int64_t>& keys) override;
  Result<std::vector<int64_t>> KeysOfChunks(const std::string& user_id, const std::vector<ChunkAt>& chunks) override;
  Result<std::vector<VectorRow>> VectorsByKey(const VectorModel& model, const std::vector<int64_t>& keys) override;
  Result<std::vector<VectorRow>> VectorsAfter(const VectorModel& model, const std::string& user_id, int64_t after_key,
                                              int limit) override;
  Result<std::vector<TextRow>> TextsAfter(const std::string& user_id, int64_t after_key, int limit) override;
  Result<std::vector<ChunkRef>> ChunkRefs(const std::string& user_id) override;
  Result<int64_t> LastChunkKey() override;
  Result<ChunkOwners> ChunkOwnersAfter(int64_t after_key) override;
  Result<std::optional<VectorModel>> ActiveModel() override;
  Status SetActiveModel(const VectorModel& model, int64_t now) override;
  Result<std::vector<TextRow>> ChunksWithoutVectors(const VectorModel& model, int64_t after_key, int limit) override;
  Status PutVectors(const VectorModel& model, const std::vector<int64_t>& keys,
                    const std::vector<std::vector<float>>& vectors) override;
  Result<int64_t> LastVectorKey(const VectorModel& model) override;
  Status DropVectorsExcept(const VectorModel& model) override;
  Status AddMirrorDelete(const MirrorDelete& d, int64_t now_ms) override;
  Result<std::vector<MirrorDelete>> MirrorDeletes(int limit) override;
  Status RemoveMirrorDelete(const MirrorDelete& d) override;
  Result<std::vector<std::vector<float>>> Cached(const VectorModel& model,
                                                const std::vector<std::string>& text_sha256) override;
  Status Cache(const VectorModel& model, const std::vector<std::string>& text_sha256,
               const std::vector<std::vector<float>>& vectors, int64_t now) override;

 private:
  Pool& pool_;
};

}  // namespace betterdev::store::sqlite
