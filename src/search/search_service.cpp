#include "search/search_service.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace betterdev::search {
namespace {

constexpr int kLoadPage = 4096;
constexpr size_t kBuildSlice = 4096;   // a build checks for shutdown between slices
constexpr int64_t kSaveEvery = 1000;   // new chunks after which a user's keyword index is saved
constexpr int64_t kSweepMs = 60'000;
constexpr int64_t kRetryBuildMs = 60'000;  // after a failed build
// Builds run below the job processes (nice 10): documents being read come first, since a
// user's searches are exact and complete meanwhile.
constexpr int kBuildNice = 15;

// Gives the heap's free pages back to the system (glibc keeps them after a build's copy or an
// idle user's indexes are freed; resident memory would otherwise stay at its peak).
void ReturnFreeMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Graph parameters for `vectors` (index::HnswOptionsFor) with room for them, in `encoding`.
index::HnswOptions GraphOptions(size_t vectors, index::VectorEncoding encoding, size_t dense_from) {
  index::HnswOptions o = index::HnswOptionsFor(vectors, dense_from);
  o.initial_capacity = std::max<size_t>(1024, vectors + vectors / 4);
  o.encoding = encoding;
  return o;
}

}  // namespace

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kHybrid: return "hybrid";
    case Mode::kVector: return "vector";
    case Mode::kKeyword: return "keyword";
  }
  return "hybrid";
}

SearchService::SearchService(store::Store& store, embed::Embedder& embedder, const SearchConfig& config,
                             embed::EmbedderFactory other_models, Logger* log)
    : store_(store), embedder_(embedder), config_(config),
      limits_{config.exact_below, static_cast<size_t>(config.dense_graph_from)},
      other_models_(std::move(other_models)),
      log_(log),
      files_(config.index_dir),
      encoding_(index::ParseEncoding(config.vector_encoding).value_or(index::VectorEncoding::kInt8)),
      tokenizer_(index::Tokenizer::Open()),
      build_threads_(static_cast<int>(std::max(1U, std::thread::hardware_concurrency()))),
      background_(1, kBuildNice) {}

SearchService::~SearchService() {
  {
    std::lock_guard lock(follow_mu_);
    stopping_ = true;
  }
  follow_cv_.notify_all();
  if (follower_.joinable()) follower_.join();
}

void SearchService::Warn(std::string_view message, const std::string& user_id, const std::string& detail) {
  if (log_ != nullptr) log_->Warn(message, {{"user_id", user_id}, {"detail", detail}});
}

Result<SearchService::QueryModel> SearchService::SyncModel() {
  Result<std::optional<store::VectorModel>> active = store_.search().ActiveModel();
  if (!active.ok()) return active.status();
  const embed::EmbeddingModel model =
      *active ? embed::EmbeddingModel{(*active)->id, (*active)->dimension} : embedder_.model();
  std::lock_guard lock(model_mu_);
  QueryModel& q = query_model_;
  if (model == q.model && (q.embedder || !q.error.ok())) return q;
  q = {model, nullptr, Status::Ok()};
  if (model == embedder_.model()) {
    q.embedder = std::shared_ptr<embed::Embedder>(&embedder_, [](embed::Embedder*) {});
  } else if (!other_models_) {
    q.error = Status::Unavailable("search uses " + model.id + " until re-embedding finishes");
  } else if (Result<std::unique_ptr<embed::Embedder>> e = other_models_(model); e.ok()) {
    q.embedder = std::move(*e);
  } else {
    q.error = Status::Unavailable("search uses " + model.id + " until re-embedding finishes and cannot embed "
                                  "with it: " + e.status().message());
  }
  return q;
}

Status SearchService::Preload() {
  files_.RemoveLeftovers();
  BD_RETURN_IF_ERROR(store_.Ping());
  if (config_.follow_ms > 0 && !follower_.joinable()) {
    Result<int64_t> last = store_.search().LastChunkKey();
    if (!last.ok()) return last.status();
    followed_through_ = *last;
    follower_ = std::thread([this] { FollowLoop(); });
  }
  return SyncModel().status();
}

void SearchService::FollowLoop() {
  std::unique_lock lock(follow_mu_);
  while (!follow_cv_.wait_for(lock, std::chrono::milliseconds(config_.follow_ms), [this] { return stopping_.load(); })) {
    lock.unlock();
    try {
      Follow();
    } catch (const std::exception& e) {  // (out of memory): the process goes on, and so does the follower
      Warn("search: following the store failed", "", e.what());
    }
    lock.lock();
  }
}

void SearchService::Follow() {
  DropIdleUsers();
  Result<int64_t> last = store_.search().LastChunkKey();
  if (!last.ok() || *last <= followed_through_) return;  // (a store that is away: the next pass tries again)
  Result<std::vector<std::string>> owners = store_.search().ChunkOwnersAfter(followed_through_);
  if (!owners.ok()) return;
  followed_through_ = *last;
  Result<QueryModel> q = SyncModel();
  for (const std::string& user : *owners) {
    if (stopping_) return;
    std::shared_ptr<UserIndex> u = Acquire(user);  // an upload is activity: the idle clock restarts
    if (Status s = Refresh(*u, q.ok() ? &q->model : nullptr); !s.ok()) {
      Warn("search: cannot bring a user's indexes up to date", user, s.message());
      continue;
    }
    {
      std::lock_guard lock(u->refresh_mutex());
      ScheduleSave(u);
    }
    ScheduleBuild(u);
  }
}

embed::EmbeddingModel SearchService::model() {
  Result<QueryModel> q = SyncModel();
  if (q.ok()) return q->model;
  std::lock_guard lock(model_mu_);
  return query_model_.model;
}

std::shared_ptr<UserIndex> SearchService::Acquire(const std::string& user_id) {
  std::lock_guard lock(users_mu_);
  std::shared_ptr<UserIndex>& u = users_[user_id];
  if (!u) u = std::make_shared<UserIndex>(user_id, encoding_);
  u->last_used() = NowMs();  // under the lock: the idle sweep never takes a user being acquired
  return u;
}

Status SearchService::Begin(UserIndex& u) {
  UserIndex::Cursor& c = u.cursor();
  const int64_t started = NowMs();
  // The saved graph (the bigger file) is read on another thread meanwhile, for the first
  // vector refresh: a warm start costs the larger of the two reads, not their sum.
  std::future<Result<SavedGraph>> graph;
  int64_t graph_ms = 0;
  Result<QueryModel> model = SyncModel();
  if (files_.enabled() && model.ok()) {
    graph = std::async(std::launch::async, [this, &graph_ms, user = u.user_id(), m = model->model] {
      const int64_t t = NowMs();
      Result<SavedGraph> g = files_.LoadGraph(user, m, GraphOptions(0, encoding_, limits_.dense_from));
      graph_ms = NowMs() - t;
      return g;
    });
  }
  // The files first, then what is live: a chunk that becomes ready in between is newer than
  // the files, so it is taken by the refresh rather than dropped as gone.
  // The graph may be read after the live list (it is read meanwhile): keys given out after the
  // list (above `through`) are kept, not taken for gone. (Keys are given out in commit order:
  // SQLite has one writer.)
  Result<SavedKeywords> saved = LoadKeywords(u.user_id());
  const int64_t keywords_ms = NowMs() - started;
  const int64_t live_started = NowMs();
  Result<int64_t> through = store_.search().LastChunkKey();
  if (!through.ok()) return through.status();
  Result<std::vector<store::ChunkRef>> live = store_.search().ChunkRefs(u.user_id());
  if (!live.ok()) return live.status();
  const int64_t live_ms = NowMs() - live_started;
  if (graph.valid()) graph.wait();
  if (graph.valid()) {
    c.preloaded = graph.get();
    c.preloaded_model = model->model;
    c.live_at_start = *live;
    c.live_through = *through;
  }
  if (saved.ok()) {
    u.Start(*live, std::move(saved->index), saved->through_key);
    c.text_key = saved->through_key;
    u.saved_text_key() = saved->through_key;
  } else {
    if (saved.status().code() != StatusCode::kNotFound) {
      Warn("search: keyword index rebuilt from the store", u.user_id(), saved.status().message());
    }
    u.Start(*live, std::nullopt, 0);
  }
  c.started = true;
  if (log_ != nullptr) {
    log_->Info("search: user indexes loaded", {{"user_id", u.user_id()}, {"chunks", live->size()},
                                               {"keywords_saved", saved.ok()},
                                               {"graph_saved", c.preloaded && c.preloaded->ok()},
                                               {"keywords_ms", keywords_ms}, {"graph_ms", graph_ms},
                                               {"live_ms", live_ms}, {"ms", NowMs() - started}});
  }
  return Status::Ok();
}

Status SearchService::RefreshTexts(UserIndex& u) {
  if (!tokenizer_.ok()) return tokenizer_.status();
  UserIndex::Cursor& c = u.cursor();
  while (true) {
    Result<std::vector<store::TextRow>> rows = store_.search().TextsAfter(u.user_id(), c.text_key, kLoadPage);
    if (!rows.ok()) return rows.status();
    std::vector<PreparedText> prepared;
    prepared.reserve(rows->size());
    for (store::TextRow& r : *rows) {  // tokenized with no lock held
      prepared.push_back({r.chunk_key, std::move(r.document_id), r.ordinal, (*tokenizer_)->Document(r.text),
                          (*tokenizer_)->Document(store::TitledContext(r.document_name, r.context))});
    }
    if (!prepared.empty()) c.text_key = prepared.back().key;
    c.unsaved_texts += static_cast<int64_t>(prepared.size());
    u.AddTexts(prepared);
    if (rows->size() < static_cast<size_t>(kLoadPage)) return Status::Ok();
  }
}

Status SearchService::RefreshVectors(UserIndex& u, const embed::EmbeddingModel& model) {
  UserIndex::Cursor& c = u.cursor();
  if (!(c.model == model)) {  // first load, or the active model changed: a saved graph if sound
    const bool preloaded = c.preloaded && c.preloaded_model == model;
    Result<SavedGraph> saved =
        preloaded ? std::move(*c.preloaded)
                  : files_.LoadGraph(u.user_id(), model, GraphOptions(0, encoding_, limits_.dense_from));
    if (saved.ok()) {
      if (Status s = CheckCoverage(saved->through_key); !s.ok()) saved = s;
    }
    Result<std::vector<store::ChunkRef>> live =
        !saved.ok()  ? Result<std::vector<store::ChunkRef>>(std::vector<store::ChunkRef>{})
        : preloaded ? Result<std::vector<store::ChunkRef>>(std::move(c.live_at_start))
                    : store_.search().ChunkRefs(u.user_id());
    const int64_t live_through = preloaded ? c.live_through : INT64_MAX;  // (else read after the graph)
    c.preloaded.reset();
    c.live_at_start = {};
    if (!live.ok()) return live.status();
    if (saved.ok()) {
      u.ResetVectors(model, std::move(saved->graph), saved->through_key, *live, live_through);
      c.vector_key = saved->through_key;
    } else {
      if (saved.status().code() != StatusCode::kNotFound) {
        Warn("search: vector index rebuilt from the store", u.user_id(), saved.status().message());
      }
      u.ResetVectors(model);
      c.vector_key = 0;
    }
    c.model = model;
  }
  const auto dim = static_cast<size_t>(model.dimension);
  while (true) {
    Result<std::vector<store::VectorRow>> rows =
        store_.search().VectorsAfter({model.id, model.dimension}, u.user_id(), c.vector_key, kLoadPage);
    if (!rows.ok()) return rows.status();
    std::vector<int64_t> keys;
    std::vector<float> values;
    std::vector<std::string> documents;
    for (store::VectorRow& r : *rows) {
      c.vector_key = std::max(c.vector_key, r.chunk_key);
      if (r.vector.size() != dim) continue;
      keys.push_back(r.chunk_key);
      values.insert(values.end(), r.vector.begin(), r.vector.end());
      documents.push_back(std::move(r.document_id));
    }
    u.AddVectors(keys, values, documents);
    if (rows->size() < static_cast<size_t>(kLoadPage)) return Status::Ok();
  }
}

Status SearchService::Refresh(UserIndex& u, const embed::EmbeddingModel* vectors) {
  std::lock_guard lock(u.refresh_mutex());  // this user's refreshes only
  if (!u.cursor().started) BD_RETURN_IF_ERROR(Begin(u));
  BD_RETURN_IF_ERROR(RefreshTexts(u));
  if (vectors != nullptr) BD_RETURN_IF_ERROR(RefreshVectors(u, *vectors));
  return Status::Ok();
}

void SearchService::ScheduleBuild(const std::shared_ptr<UserIndex>& u) {
  if (NowMs() < u->build_not_before() || !u->WantsBuild(limits_) || u->build_queued().exchange(true)) {
    return;
  }
  background_.Post([this, weak = std::weak_ptr<UserIndex>(u)] {
    std::shared_ptr<UserIndex> user = weak.lock();
    if (!user) return;
    user->build_queued() = false;
    if (stopping_) return;
    try {
      Build(user);
    } catch (const std::exception& e) {  // (out of memory, hnswlib's errors): the process goes on
      user->CancelBuild();
      user->build_not_before() = NowMs() + kRetryBuildMs;
      Warn("search: vector index build failed", user->user_id(), e.what());
    }
  });
}

void SearchService::Build(const std::shared_ptr<UserIndex>& u) {
  std::optional<BuildJob> job = u->StartBuild(limits_);
  if (!job) return;
  const int64_t started = NowMs();
  const size_t total = (job->base ? job->base->size() : 0) + job->keys.size();
  const index::HnswOptions wanted = GraphOptions(total, encoding_, limits_.dense_from);
  // A failed build is logged and retried later; one stopped by shutdown is just dropped.
  auto give_up = [&](std::string_view what, const std::string& detail) {
    u->CancelBuild();
    if (what.empty()) return;
    Warn(what, u->user_id(), detail);
    u->build_not_before() = NowMs() + kRetryBuildMs;
  };
  std::unique_ptr<index::VectorIndex> next;
  const auto dim = static_cast<size_t>(job->model.dimension);
  if (job->base && index::GraphLinks(*job->base) < wanted.m) {
    // Grown past the size its links were chosen for: a denser graph of the same vectors.
    next = index::NewHnswIndex(job->model.dimension, wanted);
    const std::unordered_set<int64_t> dead(job->dead.begin(), job->dead.end());
    std::vector<int64_t> keys;
    std::vector<float> values;
    Status copied = Status::Ok();
    auto flush = [&] {
      if (copied.ok() && !stopping_) copied = next->AddBatch(keys, values, build_threads_);
      keys.clear();
      values.clear();
    };
    job->base->ForEach([&](int64_t key, std::span<const float> v) {
      if (dead.count(key) != 0) return;
      keys.push_back(key);
      values.insert(values.end(), v.begin(), v.end());
      if (keys.size() == kBuildSlice) flush();
    });
    flush();
    if (!copied.ok()) return give_up("search: vector index build failed", copied.message());
  } else if (job->base) {
    Result<std::unique_ptr<index::VectorIndex>> copy =
        files_.Copy(u->user_id(), *job->base, GraphOptions(0, encoding_, limits_.dense_from));
    if (!copy.ok()) return give_up("search: cannot copy a vector index to extend it", copy.status().message());
    next = std::move(*copy);
    for (int64_t key : job->dead) next->Remove(key);
  } else {
    next = index::NewHnswIndex(job->model.dimension, wanted);
  }
  for (size_t at = 0; at < job->keys.size() && !stopping_; at += kBuildSlice) {
    const size_t n = std::min(kBuildSlice, job->keys.size() - at);
    Status s = next->AddBatch(std::span(job->keys).subspan(at, n), std::span(job->values).subspan(at * dim, n * dim),
                              build_threads_);
    if (!s.ok()) return give_up("search: vector index build failed", s.message());
  }
  if (stopping_) return give_up("", "");
  if (!u->Current(*job)) {  // the model changed meanwhile: nothing to save or swap in
    u->CancelBuild();
    return;
  }
  if (Status s = files_.SaveGraph(u->user_id(), *next, job->model, job->through_key); !s.ok()) {
    Warn("search: cannot save a vector index", u->user_id(), s.message());
  }
  const size_t vectors = next->size(), added = job->keys.size();
  const bool swapped = u->FinishBuild(*job, std::move(next));
  job.reset();  // the tail's copy
  ReturnFreeMemory();  // the old graph (unless a search still holds it) and the copy's buffers
  if (!swapped) return;  // the model changed meanwhile
  if (log_ != nullptr) {
    log_->Info("search: vector index built", {{"user_id", u->user_id()}, {"vectors", vectors},
                                              {"added", added}, {"ms", NowMs() - started}});
  }
  ScheduleBuild(u);  // more may have come meanwhile
}

void SearchService::ScheduleSave(const std::shared_ptr<UserIndex>& u) {
  UserIndex::Cursor& c = u->cursor();  // refresh mutex held by the caller
  if (!files_.enabled() || c.unsaved_texts < kSaveEvery) return;
  c.unsaved_texts = 0;
  background_.Post([this, weak = std::weak_ptr<UserIndex>(u)] {
    std::shared_ptr<UserIndex> user = weak.lock();
    if (user && !stopping_) SaveKeywords(*user);
  });
}

void SearchService::SaveKeywords(UserIndex& u) {
  auto [bytes, through] = u.SerializeKeywords();
  if (Status s = files_.SaveKeywords(u.user_id(), bytes, through); !s.ok()) {
    Warn("search: cannot save a keyword index", u.user_id(), s.message());
    return;
  }
  u.saved_text_key() = through;
}

Result<SavedKeywords> SearchService::LoadKeywords(const std::string& user_id) {
  Result<SavedKeywords> saved = files_.LoadKeywords(user_id);
  if (!saved.ok()) return saved;
  if (Status s = CheckCoverage(saved->through_key); !s.ok()) return s;
  return saved;
}

Status SearchService::CheckCoverage(int64_t through_key) {
  // A file that claims chunks the database never gave out (a database restored from a backup,
  // or its last commits lost) would make the refresh skip the keys given out again.
  Result<int64_t> last = store_.search().LastChunkKey();
  if (!last.ok()) return last.status();
  if (through_key > *last) {
    return Status::Internal("saved index covers chunk keys up to " + std::to_string(through_key) +
                            ", beyond the database's last (" + std::to_string(*last) + ")");
  }
  return Status::Ok();
}

void SearchService::Flush() {
  std::vector<std::shared_ptr<UserIndex>> users;
  {
    std::lock_guard lock(users_mu_);
    for (auto& [id, u] : users_) users.push_back(u);
  }
  for (const auto& u : users) {
    std::lock_guard lock(u->refresh_mutex());
    if (u->cursor().started && u->cursor().text_key > u->saved_text_key()) SaveKeywords(*u);
  }
}

void SearchService::DropIdleUsers() {
  const int64_t now = NowMs();
  std::vector<std::shared_ptr<UserIndex>> idle;
  {
    std::lock_guard lock(users_mu_);
    if (now - last_sweep_ms_ < std::min<int64_t>(kSweepMs, config_.idle_seconds * 1000LL)) return;
    last_sweep_ms_ = now;
    for (auto it = users_.begin(); it != users_.end();) {
      // (A user another thread holds is in use, whatever its clock says.)
      if (now - it->second->last_used() >= config_.idle_seconds * 1000LL && it->second.use_count() == 1) {
        idle.push_back(std::move(it->second));
        it = users_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& u : idle) {  // saved before they go, on the background thread
    if (!files_.enabled() || !u->cursor().started || u->cursor().text_key <= u->saved_text_key()) continue;
    background_.Post([this, u] { SaveKeywords(*u); });
  }
  if (!idle.empty()) background_.Post([] { ReturnFreeMemory(); });  // after the saves that hold them
}

void SearchService::WaitForBackgroundWork() {
  for (int round = 0; round < 100; ++round) {  // a build may schedule the next one
    std::promise<void> done;
    background_.Post([&done] { done.set_value(); });
    done.get_future().wait();
    if (background_.queued() == 0) return;
  }
}

size_t SearchService::users_in_memory() {
  std::lock_guard lock(users_mu_);
  return users_.size();
}

UserIndexStats SearchService::stats(const std::string& user_id) {
  std::shared_ptr<UserIndex> u;
  {
    std::lock_guard lock(users_mu_);
    auto it = users_.find(user_id);
    if (it == users_.end()) return {};
    u = it->second;
  }
  return u->stats();
}

void SearchService::ForgetDocument(const std::string& user_id, const std::string& document_id) {
  std::shared_ptr<UserIndex> u;
  {
    std::lock_guard lock(users_mu_);
    auto it = users_.find(user_id);
    if (it == users_.end()) return;
    u = it->second;
  }
  u->ForgetDocument(document_id);
}

Result<std::vector<index::Ranked>> SearchService::KeywordLeg(const std::shared_ptr<UserIndex>& u,
                                                             const Request& request, int depth) {
  if (!tokenizer_.ok()) return tokenizer_.status();
  const std::vector<std::string> terms = (*tokenizer_)->Query(request.query);
  if (terms.empty()) return std::vector<index::Ranked>{};
  {
    BD_RETURN_IF_ERROR(Refresh(*u, nullptr));  // not the vectors: their trouble must not stop keyword search
    std::lock_guard lock(u->refresh_mutex());
    ScheduleSave(u);
  }
  return u->SearchKeywords(terms, depth, request.document_ids);
}

Result<std::vector<index::Ranked>> SearchService::ExpandedKeywordLeg(UserIndex& u, const Request& request, int depth,
                                                                     std::span<const index::Ranked> first) {
  const std::vector<std::string> terms = (*tokenizer_)->Query(request.query);
  std::vector<int64_t> keys;
  for (const index::Ranked& r : first) keys.push_back(r.key);
  Result<std::vector<store::StoredChunk>> chunks = store_.search().ChunksByKey(keys);
  if (!chunks.ok()) return chunks.status();
  std::unordered_map<int64_t, const store::StoredChunk*> by_key;
  for (const store::StoredChunk& c : *chunks) by_key[c.key] = &c;
  std::vector<index::Terms> seeds;
  std::vector<double> scores;
  for (const index::Ranked& r : first) {  // best first, as the index ranked them
    auto c = by_key.find(r.key);
    if (c == by_key.end()) continue;  // gone since the index took it
    const store::StoredChunk& chunk = *c->second;
    // The words the index holds for it: the text, and the context with its document's title.
    index::Terms words = (*tokenizer_)->Document(chunk.text);
    index::Terms context = (*tokenizer_)->Document(store::TitledContext(chunk.title, chunk.context));
    words.terms.insert(words.terms.end(), context.terms.begin(), context.terms.end());
    seeds.push_back(std::move(words));
    scores.push_back(r.score);
  }
  return u.SearchKeywords(u.ExpandKeywords(terms, seeds, scores, config_.hybrid_expansion), depth,
                          request.document_ids);
}

Result<std::vector<index::Ranked>> SearchService::VectorLeg(const std::shared_ptr<UserIndex>& u,
                                                            const Request& request, int depth,
                                                            std::span<const index::Ranked> feedback) {
  Result<QueryModel> q = SyncModel();
  if (!q.ok()) return q.status();
  BD_RETURN_IF_ERROR(Refresh(*u, &q->model));
  {
    std::lock_guard lock(u->refresh_mutex());
    ScheduleSave(u);
  }
  ScheduleBuild(u);
  if (!q->embedder) return q->error;
  std::vector<std::string> one{request.query};
  Result<embed::Embeddings> e = q->embedder->Embed(one);  // no lock held: maybe a remote call
  if (!e.ok()) return Status::Unavailable("could not embed the query: " + e.status().message());
  std::optional<std::vector<float>> query =
      feedback.empty() ? std::vector<float>(e->Row(0).begin(), e->Row(0).end())
                       : u->FeedbackQuery(e->Row(0), feedback, q->model);
  std::optional<std::vector<index::Ranked>> hits =
      query ? u->SearchVectors(*query, depth, request.document_ids, q->model) : std::nullopt;
  if (!hits) return Status::Unavailable("the embedding model changed during the search; try again");
  return std::move(*hits);
}

Result<std::vector<Hit>> SearchService::Materialize(UserIndex& u, const Request& request,
                                                    const std::vector<index::Ranked>& ranked) {
  std::vector<Hit> hits;
  std::unordered_map<std::string, std::optional<store::Document>> documents;
  std::unordered_set<std::string> taken;  // group_by_document: documents already answered
  std::vector<int64_t> gone;
  for (const index::Ranked& r : ranked) {
    if (hits.size() == static_cast<size_t>(request.k)) break;
    if (request.group_by_document) {
      std::optional<std::string> document = u.DocumentOf(r.key);
      if (document && taken.count(*document) != 0) continue;  // a better chunk of it came first
    }
    Result<std::vector<store::StoredChunk>> chunk = store_.search().ChunksByKey({r.key});
    if (!chunk.ok()) return chunk.status();
    if (chunk->empty()) {  // deleted or replaced since the index took it
      gone.push_back(r.key);
      continue;
    }
    store::StoredChunk& c = chunk->front();
    auto [doc, fresh] = documents.try_emplace(c.document_id);
    if (fresh) {
      Result<store::Document> d = store_.documents().Get(request.user_id, c.document_id);
      if (d.ok() && d->status == store::DocumentStatus::kReady) doc->second = std::move(*d);
    }
    if (!doc->second) continue;  // not this user's, or being reprocessed
    if (request.group_by_document && !taken.insert(c.document_id).second) continue;
    hits.push_back({std::move(c), doc->second->filename, r.score});
  }
  if (!gone.empty()) u.Forget(gone);  // every candidate came from this user's index
  return hits;
}

Result<std::vector<Hit>> SearchService::Search(const Request& request) {
  if (request.query.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status::InvalidArgument("query must not be empty");
  }
  if (request.k < 1 || request.k > kMaxK) return Status::InvalidArgument("k must be between 1 and 1000");
  for (const std::string& id : request.document_ids) {
    Result<store::Document> d = store_.documents().Get(request.user_id, id);
    if (!d.ok()) return d.status().code() == StatusCode::kNotFound ? Status::NotFound("no such document: " + id) : d.status();
  }
  DropIdleUsers();
  std::shared_ptr<UserIndex> u = Acquire(request.user_id);
  u->last_used() = NowMs();
  // Each leg looks deeper than k: hits of deleted documents are dropped later, fusion needs
  // candidates the other leg ranks low, and documents need several chunks each.
  const int depth = request.group_by_document ? std::max(request.k * 10, 100) : std::max(request.k * 5, 50);
  std::vector<index::Ranked> keyword;
  if (request.mode != Mode::kVector) {
    Result<std::vector<index::Ranked>> leg = KeywordLeg(u, request, depth);
    if (!leg.ok()) return leg.status();
    keyword = std::move(*leg);
  }
  // Hybrid: both legs learn from the keyword leg's first answer (index/feedback.hpp).
  const std::vector<index::Ranked> first = request.mode == Mode::kHybrid ? keyword : std::vector<index::Ranked>{};
  if (!first.empty() && config_.hybrid_expansion > 0) {
    const size_t seeds = std::min(first.size(), static_cast<size_t>(index::kFeedbackChunks));
    Result<std::vector<index::Ranked>> leg = ExpandedKeywordLeg(*u, request, depth, std::span(first).first(seeds));
    if (!leg.ok()) return leg.status();
    keyword = std::move(*leg);
  }
  std::vector<index::Ranked> vector;
  if (request.mode != Mode::kKeyword) {
    const size_t seeds = std::min(first.size(), static_cast<size_t>(config_.hybrid_feedback));
    Result<std::vector<index::Ranked>> leg = VectorLeg(u, request, depth, std::span(first).first(seeds));
    if (leg.ok()) vector = std::move(*leg);
    else if (request.mode == Mode::kVector) return leg.status();  // hybrid goes on with keywords
  }
  switch (request.mode) {
    case Mode::kKeyword: return Materialize(*u, request, keyword);
    case Mode::kVector: return Materialize(*u, request, vector);
    case Mode::kHybrid: break;
  }
  return Materialize(*u, request, index::NormalizedScoreFusion({keyword, vector},
                                                               {config_.keyword_weight, config_.vector_weight}));
}

}  // namespace betterdev::search
