// Repository interfaces: the domain's view of persistence. No SQL here; implementations live
// in store/sqlite/ (embedded default) and, later, store/postgres/.
//
// Every method that reads or changes a user's resource takes the owner's user id and treats
// another user's resource exactly like a missing one (NotFound). All methods are thread-safe.
// Times are milliseconds since the Unix epoch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace betterdev::store {

struct User {
  std::string id;
  std::string email;  // stored as given; unique without regard to ASCII case
  std::string password_hash;
  int64_t created_at = 0;
};

struct AccessToken {
  std::string id;
  std::string user_id;
  std::string token_hash;  // SHA-256 of the secret; the secret itself is never stored
  int64_t created_at = 0;
  int64_t expires_at = 0;
  std::optional<int64_t> revoked_at;
};

struct ApiKey {
  std::string id;
  std::string user_id;
  std::string name;
  std::string prefix;    // first characters of the secret, to recognise it in lists
  std::string key_hash;  // SHA-256 of the secret
  int64_t created_at = 0;
  std::optional<int64_t> last_used_at;
};

// What a conversation's answers cost, summed over its messages.
struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  double cost_usd = 0;
};

struct Conversation {
  std::string id;
  std::string user_id;
  std::string title;
  std::vector<std::string> document_ids;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  Usage usage;  // read-only here: appending an assistant message adds to it
};

enum class MessageRole { kUser, kAssistant, kSystem };

// Whether an answer was written to its end.
enum class MessageStatus { kComplete, kIncomplete };

// A passage an answer cites as [n]: where it is, down to the page and character offsets.
struct Citation {
  int n = 0;
  std::string chunk_id;
  std::string document_id;
  std::string document_name;
  int page_start = 0;
  int page_end = 0;
  int64_t char_start = 0;
  int64_t char_end = 0;
  std::string section;  // the cited chunk's heading path
  bool operator==(const Citation&) const = default;
};

struct Message {
  std::string id;
  std::string conversation_id;
  MessageRole role = MessageRole::kUser;
  std::string content;
  int64_t created_at = 0;
  // Answers (assistant messages):
  MessageStatus status = MessageStatus::kComplete;
  std::string model;   // e.g. "gpt-4o-mini", "extractive-v1"
  std::vector<Citation> citations;
  int invalid_citations = 0;  // [n] markers removed because they named no passage
  Usage usage;
  std::string error;   // why an incomplete answer stopped
  int64_t retrieval_ms = -1;    // timings; -1 when not measured
  int64_t first_token_ms = -1;
  int64_t total_ms = -1;
  // Questions (user messages): the standalone question retrieval used, when it was rewritten.
  std::string rewritten_query;
};

enum class DocumentStatus { kQueued, kProcessing, kReady, kFailed };

struct Document {
  std::string id;
  std::string user_id;
  std::string filename;      // as the client named it; display only, never a path
  std::string content_type;  // detected from the bytes
  uint64_t size_bytes = 0;
  std::string sha256;  // hex; also the blob key
  DocumentStatus status = DocumentStatus::kQueued;
  std::string stage;  // while processing: "extracting", "chunking", "embedding", "indexing"
  int progress = 0;   // 0-100 over the whole processing
  int page = 0;       // page being read, and pages in all (0 when unknown)
  int pages = 0;
  int64_t chunk_count = 0;
  int64_t text_chars = 0;  // characters of extracted text
  int attempts = 0;        // processing attempts started
  std::string error;       // why it failed (or why the last attempt failed, while retrying)
  std::string job_id;      // the job that processes it now; results of any other job are discarded
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::optional<int64_t> finished_at;  // when it became ready or failed
  int64_t embedding_tokens = 0;        // tokens its chunks cost the embedder (cached texts cost none)
  double embedding_cost_usd = 0;       // estimated: tokens x the configured price (0 for the local embedder)
  std::string note;  // what a reader should know about the text ("OCR read it poorly ..."); cleared by a reprocess
};

struct DocumentProgress {
  std::string stage;
  int progress = 0;
  int page = 0;
  int pages = 0;
};

struct StoredChunk {
  std::string document_id;
  int ordinal = 0;
  int page_start = 0;
  int page_end = 0;
  int64_t char_start = 0;
  int64_t char_end = 0;
  std::string text;
  std::string context;  // the table header row a split table's chunk carries (chunk::Chunk::context)
  int64_t key = 0;      // the store's integer key (set when read; ignored when written)
  std::string title;    // its document's title, the file name (set by ChunksByKey; ignored when written)
  std::vector<float> vector;  // its embedding, written with the chunk when not empty
  std::string section;        // the heading path above it (chunk::Chunk::section)
};

// Vectors a vector mirror must drop (SearchRepository::AddMirrorDelete).
struct MirrorDelete {
  std::string user_id;
  std::string document_id;
  std::string job_id;  // empty: every job's
};

// Which embedding model vectors belong to.
struct VectorModel {
  std::string id;
  int dimension = 0;
  bool operator==(const VectorModel&) const = default;
};

// A stored chunk vector with what scoping needs.
struct VectorRow {
  int64_t chunk_key = 0;
  std::string user_id;
  std::string document_id;
  std::vector<float> vector;
};

// A chunk a search inside the database found (higher scores are better).
struct ScoredChunk {
  int64_t chunk_key = 0;
  std::string document_id;
  double score = 0;
};

// What a search inside the database looks among: one user's chunks of ready documents, only
// those of `document_ids` when it is not empty.
struct SearchScope {
  std::string user_id;
  std::vector<std::string> document_ids;
};

// Who owns chunks above a key, and the largest of those keys.
struct ChunkOwners {
  std::vector<std::string> user_ids;  // ascending
  int64_t through_key = 0;
};

// Which document a chunk key belongs to.
struct ChunkRef {
  int64_t chunk_key = 0;
  std::string document_id;
};

// A chunk's words with what scoping needs (for the keyword index).
struct TextRow {
  int64_t chunk_key = 0;
  std::string user_id;
  std::string document_id;
  int ordinal = 0;  // 0 starts a document's chunks (again, after reprocessing)
  std::string text;
  std::string context;
  std::string document_name;  // the uploaded file's name (its title, see TitleOfFile)
  std::string section;        // the heading path above it
};

// Where a chunk sits in one version of a document (the job that made that version): how a
// vector store outside the database names chunks (vector_mirror.hpp).
struct ChunkAt {
  std::string document_id;
  std::string job_id;
  int ordinal = 0;
};

// A chunk's public id: "<document id>_<ordinal>".
std::string ChunkId(const std::string& document_id, int ordinal);

// What search takes for a document's title, from its file name: the name without its
// extension, with '_', '-' and '.' read as spaces ("Q3_2023-apple.10q.pdf" → "Q3 2023 apple
// 10q").
std::string TitleOfFile(std::string_view filename);
// What a chunk is indexed and embedded with as its context: its document's title (from the
// file name), the heading path above it, then its own context (a table's header row), one per
// line, each left out when empty.
std::string TitledContext(std::string_view filename, const std::string& section, const std::string& context);

// A conversation's document ids as stored (in order, joined by ','; ids never hold one), and back.
std::string JoinIds(const std::vector<std::string>& ids);
std::vector<std::string> SplitIds(std::string_view joined);
// The ordinal after which a page of a document's chunks starts, from a chunk id cursor
// "<document id>_<ordinal>" (-1: from the first; at most INT32_MAX, past every ordinal).
int64_t OrdinalAfter(const std::optional<std::string>& after_id);

// Keyset pagination: items strictly after `after_id` in the list's order.
struct PageRequest {
  int limit = 50;
  std::optional<std::string> after_id;
};

template <typename T>
struct Page {
  std::vector<T> items;
  bool has_more = false;  // more items follow the last one
};

class UserRepository {
 public:
  virtual ~UserRepository() = default;
  // Conflict when the e-mail is taken (ASCII case-insensitively).
  virtual Status Create(const User& user) = 0;
  virtual Result<User> FindByEmail(const std::string& email) = 0;
  virtual Result<User> FindById(const std::string& id) = 0;
};

class TokenRepository {
 public:
  virtual ~TokenRepository() = default;
  virtual Status Create(const AccessToken& token) = 0;
  // NotFound when no token has this hash (revoked and expired ones are returned; callers check).
  virtual Result<AccessToken> FindByHash(const std::string& token_hash) = 0;
  virtual Status Revoke(const std::string& user_id, const std::string& token_id, int64_t now) = 0;
  // Removes tokens that expired before `now`; returns how many.
  virtual Result<int64_t> DeleteExpired(int64_t now) = 0;
};

class ApiKeyRepository {
 public:
  virtual ~ApiKeyRepository() = default;
  virtual Status Create(const ApiKey& key) = 0;
  // Newest first.
  virtual Result<Page<ApiKey>> List(const std::string& user_id, const PageRequest& page) = 0;
  virtual Result<ApiKey> FindByHash(const std::string& key_hash) = 0;
  virtual Status Delete(const std::string& user_id, const std::string& id) = 0;
  virtual Status TouchLastUsed(const std::string& id, int64_t now) = 0;
};

struct ConversationPatch {
  std::optional<std::string> title;
  std::optional<std::vector<std::string>> document_ids;
};

class ConversationRepository {
 public:
  virtual ~ConversationRepository() = default;
  virtual Status Create(const Conversation& c) = 0;
  virtual Result<Conversation> Get(const std::string& user_id, const std::string& id) = 0;
  // Newest first.
  virtual Result<Page<Conversation>> List(const std::string& user_id, const PageRequest& page) = 0;
  // Returns the updated conversation.
  virtual Result<Conversation> Update(const std::string& user_id, const std::string& id,
                                      const ConversationPatch& patch, int64_t now) = 0;
  // Removes the conversation and its messages.
  virtual Status Delete(const std::string& user_id, const std::string& id) = 0;
};

class MessageRepository {
 public:
  virtual ~MessageRepository() = default;
  // Stores the message with its citations and adds its usage to the conversation's, in one
  // transaction. NotFound when the conversation does not exist or is not the user's.
  virtual Status Append(const std::string& user_id, const Message& m) = 0;
  // Oldest first (chat order). NotFound when the conversation is not the user's.
  virtual Result<Page<Message>> List(const std::string& user_id, const std::string& conversation_id,
                                     const PageRequest& page) = 0;
  // The newest `limit` messages, oldest first (a prompt's history).
  virtual Result<std::vector<Message>> Recent(const std::string& user_id, const std::string& conversation_id,
                                              int limit) = 0;
};

class DocumentRepository {
 public:
  virtual ~DocumentRepository() = default;
  // Conflict when the user already has a document with the same sha256.
  virtual Status Create(const Document& d) = 0;
  virtual Result<Document> Get(const std::string& user_id, const std::string& id) = 0;
  // For workers, which act for whichever user owns the job's document.
  virtual Result<Document> GetById(const std::string& id) = 0;
  virtual Result<Document> FindBySha(const std::string& user_id, const std::string& sha256) = 0;
  // Newest first; only documents in `status` when given.
  virtual Result<Page<Document>> List(const std::string& user_id, const PageRequest& page,
                                      std::optional<DocumentStatus> status) = 0;
  // Starts over with a new job: queued, progress and error cleared, chunks kept until replaced.
  // With `mirror_delete` (a vector mirror holds its vectors), the same transaction records the
  // job it replaces for SearchRepository::MirrorDeletes.
  virtual Status Requeue(const std::string& user_id, const std::string& id, const std::string& job_id,
                         bool mirror_delete, int64_t now) = 0;

  // Worker-side changes, made by attempt `attempt` (1, 2, ...) of job `job_id`. Status only
  // moves forward within an attempt: queued -> processing -> ready | failed, or back to queued
  // for a retry. Each answers NotFound when the document is gone, belongs to another job (it
  // was reprocessed), is already ready or failed, or a later attempt has started: a stale
  // worker's results are discarded and never overwrite a newer state.
  // processing, from queued or from an earlier attempt's processing (a lease that expired).
  virtual Status MarkProcessing(const std::string& id, const std::string& job_id, int attempt, int64_t now) = 0;
  // Only while this attempt is processing.
  virtual Status UpdateProgress(const std::string& id, const std::string& job_id, int attempt,
                                const DocumentProgress& p, int64_t now) = 0;
  // A failed attempt: `final` ends it failed; otherwise it is queued again with `reason` kept.
  virtual Status MarkAttemptFailed(const std::string& id, const std::string& job_id, int attempt,
                                   const std::string& reason, bool final, int64_t now) = 0;
  // Replaces the document's chunks (and their vectors, of `model`, where a chunk has one) and
  // marks it ready, in one transaction.
  virtual Status CompleteWithChunks(const std::string& id, const std::string& job_id, int attempt, int pages,
                                    int64_t text_chars, const std::vector<StoredChunk>& chunks,
                                    const VectorModel& model, int64_t now) = 0;

  // Records what embedding the chunks of job `job_id` cost (adds to what earlier jobs cost); an
  // empty job_id adds whatever job the document is on (re-embedding after a model change).
  virtual Status AddEmbeddingUsage(const std::string& id, const std::string& job_id, int64_t tokens,
                                   double cost_usd) = 0;

  // Removes the document and its chunks; returns the removed row (its job to cancel). When no
  // other document (of any user) names its bytes, their digest becomes blob garbage. With
  // `mirror_delete` (a vector mirror holds its vectors), the same transaction records the
  // document for SearchRepository::MirrorDeletes (since `now_ms`), so a process that stops
  // right after the delete cannot leave its vectors behind.
  virtual Result<Document> Delete(const std::string& user_id, const std::string& id, bool mirror_delete,
                                  int64_t now_ms) = 0;

  // Blob lifetimes. Every process of a deployment shares the blob store, so whether a blob may
  // go is decided here, in write transactions, never by a lock inside one process:
  //  - an uploader pins the digest until `until_ms` before it commits the blob, creates its
  //    document within that time, then unpins (each pin is its own: uploads of the same bytes
  //    by several users hold one each);
  //  - Delete records the digest as garbage when no other document names it;
  //  - CollectBlob removes a garbage blob by calling `remove` inside the write transaction that
  //    found no document naming it and no live pin, so a pin (and the commit after it) cannot
  //    slip between the decision and the removal. It answers true when removed; false when the
  //    digest is not garbage or still in use (then it is no longer garbage). A failing `remove`
  //    leaves the digest garbage, for the next try.
  // Answers the pin's id, for UnpinBlob (Ok when already gone).
  virtual Result<std::string> PinBlob(const std::string& sha256, int64_t now_ms, int64_t until_ms) = 0;
  virtual Status UnpinBlob(const std::string& pin_id) = 0;
  virtual Result<bool> CollectBlob(const std::string& sha256, int64_t now_ms,
                                   const std::function<Status()>& remove) = 0;
  // Garbage digests, oldest first, at most `limit`: housekeeping collects what a crash, a failed
  // removal or a pin left behind.
  virtual Result<std::vector<std::string>> BlobGarbage(int limit) = 0;
  // Queued documents of every user last changed before `updated_before`, oldest first, at most
  // `limit`: for the check that each one's job exists (a process that died between writing the
  // document and enqueueing its job leaves one without).
  virtual Result<std::vector<Document>> ListQueuedBefore(int64_t updated_before, int limit) = 0;
  // Sets the document's note while it belongs to job `job_id` (NotFound otherwise).
  virtual Status SetNote(const std::string& id, const std::string& job_id, const std::string& note) = 0;
  // One chunk of a user's document by ordinal. NotFound when either is missing or not the user's.
  virtual Result<StoredChunk> GetChunk(const std::string& user_id, const std::string& document_id, int ordinal) = 0;
  // In ordinal order. NotFound when the document is not the user's.
  virtual Result<Page<StoredChunk>> ListChunks(const std::string& user_id, const std::string& document_id,
                                               const PageRequest& page) = 0;
};

// Search over chunks. Every query is scoped to one user's ready documents and optionally to
// some of their ids; a deleted document is never returned.
class SearchRepository {
 public:
  virtual ~SearchRepository() = default;
  // The chunks with these keys (missing ones left out), for showing hits.
  virtual Result<std::vector<StoredChunk>> ChunksByKey(const std::vector<int64_t>& keys) = 0;
  // One user's vectors of `model` of ready documents with chunk keys above `after_key`, in key
  // order, at most `limit` (a user's index loads them in pages, then takes what is new). In
  // time proportional to the rows returned, not to the user's or anyone's chunks.
  virtual Result<std::vector<VectorRow>> VectorsAfter(const VectorModel& model, const std::string& user_id,
                                                      int64_t after_key, int limit) = 0;
  // The same for chunk text and context (the keyword index, which lives in the searching
  // process like the vector index).
  virtual Result<std::vector<TextRow>> TextsAfter(const std::string& user_id, int64_t after_key, int limit) = 0;
  // The keys of one user's chunks of ready documents with their documents, ascending (to check
  // an index saved earlier against what exists now).
  virtual Result<std::vector<ChunkRef>> ChunkRefs(const std::string& user_id) = 0;
  // The largest chunk key ever given out (0 before the first chunk): an index saved earlier
  // that claims more was not saved from this database.
  virtual Result<int64_t> LastChunkKey() = 0;
  // The users who own a chunk with a key above `after_key` (whose indexes have news), and the
  // largest such key (`after_key` when there is none): a follower goes on from there, not from
  // LastChunkKey, which may name keys a writer has drawn and not yet committed.
  virtual Result<ChunkOwners> ChunkOwnersAfter(int64_t after_key) = 0;
  // The keys of these chunks of the user's ready documents, one per entry in order: 0 where
  // the document is gone, not the user's, not ready, or now holds another job's chunks.
  virtual Result<std::vector<int64_t>> KeysOfChunks(const std::string& user_id, const std::vector<ChunkAt>& chunks) = 0;
  // `model`'s vectors of these chunks, missing ones left out (the seeds of a moved query).
  virtual Result<std::vector<VectorRow>> VectorsByKey(const VectorModel& model, const std::vector<int64_t>& keys) = 0;

  // Changing the embedding model. The active model is the one whose vectors search uses
  // (nullopt before any was set). Chunks keep a vector per model until DropVectorsExcept.
  virtual Result<std::optional<VectorModel>> ActiveModel() = 0;
  virtual Status SetActiveModel(const VectorModel& model, int64_t now) = 0;
  // Ready chunks above `after_key` without a vector of `model`, in key order, at most `limit`.
  virtual Result<std::vector<TextRow>> ChunksWithoutVectors(const VectorModel& model, int64_t after_key,
                                                            int limit) = 0;
  // Stores (replacing) vectors of `model` for chunk keys; keys of chunks gone since are skipped.
  virtual Status PutVectors(const VectorModel& model, const std::vector<int64_t>& keys,
                            const std::vector<std::vector<float>>& vectors) = 0;
  // The largest chunk key with a vector of `model` (0 when none).
  virtual Result<int64_t> LastVectorKey(const VectorModel& model) = 0;
  // Deletes every vector of any other model.
  virtual Status DropVectorsExcept(const VectorModel& model) = 0;
  // Vectors a vector mirror (vector_mirror.hpp) must still drop: a deleted document's (job_id
  // empty) or one job's of a reprocessed document. Recorded before the mirror is asked (or for
  // the mirror's retries to do), removed once it answered, so a delete the mirror missed (away,
  // failing, or the process stopped first) is retried by any process running one. Recording
  // one already there keeps its first time; MirrorDeletes answers the oldest first.
  virtual Status AddMirrorDelete(const MirrorDelete& d, int64_t now_ms) = 0;
  virtual Result<std::vector<MirrorDelete>> MirrorDeletes(int limit) = 0;
  virtual Status RemoveMirrorDelete(const MirrorDelete& d) = 0;
  // The embedding cache: vectors of `model` by the SHA-256 (hex) of the text embedded. Cached
  // returns one entry per hash, empty where nothing is cached; Cache stores (replacing).
  virtual Result<std::vector<std::vector<float>>> Cached(const VectorModel& model,
                                                        const std::vector<std::string>& text_sha256) = 0;
  virtual Status Cache(const VectorModel& model, const std::vector<std::string>& text_sha256,
                       const std::vector<std::vector<float>>& vectors, int64_t now) = 0;

  // Search inside the database, for stores that index there (PostgreSQL: full-text search and
  // pgvector; searches_inside() is true). The embedded store is searched by in-process indexes
  // instead (search/), and answers Internal. Both searches answer at most `limit` chunks of `scope`, best first.
  //
  // Keyword search works on the database's own words (PostgreSQL: lexemes of its `english`
  // configuration). QueryWords: a query's distinct words. SearchKeywords: BM25 (k1 1.2, b 0.75,
  // a word of the context counting twice, as the in-process index ranks) of `words`, each
  // weighed by weights[i] (empty: 1 each); N, document frequencies and the average length are
  // the user's own. IndexedWords: the words indexed for these chunks, one per occurrence
  // (context included; missing chunks left out). WordFrequencies: how many of the user's
  // chunks hold each of `words`, counted no further than one past max(floor, share × the
  // chunks the user has) (a caller that only asks "at most that many?" reads no more
  // postings than it needs; share 1: exact), and how many chunks the user has.
  virtual bool searches_inside() const { return false; }
  virtual Result<std::vector<std::string>> QueryWords(const std::string& query);
  virtual Result<std::vector<ScoredChunk>> SearchKeywords(const SearchScope& scope, const std::vector<std::string>& words,
                                                          const std::vector<double>& weights, int limit);
  virtual Result<std::vector<std::pair<int64_t, std::vector<std::string>>>> IndexedWords(
      const std::vector<int64_t>& keys);
  virtual Result<std::pair<std::vector<int64_t>, int64_t>> WordFrequencies(const std::string& user_id,
                                                                           const std::vector<std::string>& words,
                                                                           int64_t floor, double share);
  // Vector: cosine similarity (1 - cosine distance) to `query` among `model`'s vectors,
  // through the model's approximate index once BuildVectorIndex made one (looking at
  // `ef_search` candidates and further until `limit` pass the scope), exact before, and exact
  // too when the scope holds fewer than `exact_below` vectors (a filtered approximate search
  // loses recall where the scope is a small share of the index; an exact one is cheap there;
  // PostgreSQL bounds it further by the values an exact scan reads, and searches exactly after
  // an index walk that ended short of `limit`, see pg_retrieval.cpp).
  virtual Result<std::vector<ScoredChunk>> SearchVectors(const VectorModel& model, const SearchScope& scope,
                                                         const std::vector<float>& query, int limit, int ef_search,
                                                         int exact_below = 0);
  // Makes `model`'s approximate index when it has none (long for many vectors: writes go on
  // meanwhile). Safe when several processes ask at once.
  virtual Status BuildVectorIndex(const VectorModel& model);
};

// One store = one database. Implementations own their connections.
class Store {
 public:
  virtual ~Store() = default;
  virtual UserRepository& users() = 0;
  virtual TokenRepository& tokens() = 0;
  virtual ApiKeyRepository& api_keys() = 0;
  virtual ConversationRepository& conversations() = 0;
  virtual MessageRepository& messages() = 0;
  virtual DocumentRepository& documents() = 0;
  virtual SearchRepository& search() = 0;
  // Unavailable when the database cannot answer a trivial query.
  virtual Status Ping() = 0;
};

std::string_view MessageRoleName(MessageRole role);
std::string_view MessageStatusName(MessageStatus status);  // "complete", "incomplete"
std::string_view DocumentStatusName(DocumentStatus status);  // "queued", "processing", "ready", "failed"
std::optional<DocumentStatus> ParseDocumentStatus(std::string_view name);
std::optional<MessageRole> ParseMessageRole(std::string_view name);

}  // namespace betterdev::store
