#include "search/local_retriever.hpp"

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


LocalRetriever::LocalRetriever(store::Store& store, const SearchConfig& config, ModelSource model, Logger* log)
    : store_(store), config_(config),
      limits_{config.exact_below, static_cast<size_t>(config.dense_graph_from)},
      model_(std::move(model)),
      log_(log),
      files_(config.index_dir),
      encoding_(index::ParseEncoding(config.vector_encoding).value_or(index::VectorEncoding::kInt8)),
      tokenizer_(index::Tokenizer::Open()),
      build_threads_(static_cast<int>(std::max(1U, std::thread::hardware_concurrency()))),
      background_(1, kBuildNice) {}

LocalRetriever::~LocalRetriever() {
  {
    std::lock_guard lock(follow_mu_);
    stopping_ = true;
  }
  follow_cv_.notify_all();
  if (follower_.joinable()) follower_.join();
}

void LocalRetriever::Warn(std::string_view message, const std::string& user_id, const std::string& detail) {
  if (log_ != nullptr) log_->Warn(message, {{"user_id", user_id}, {"detail", detail}});
}

Status LocalRetriever::Preload() {
  files_.RemoveLeftovers();
  BD_RETURN_IF_ERROR(store_.Ping());
  if (config_.follow_ms > 0 && !follower_.joinable()) {
    Result<int64_t> last = store_.search().LastChunkKey();
    if (!last.ok()) return last.status();
    followed_through_ = *last;
    follower_ = std::thread([this] { FollowLoop(); });
  }
  return Status::Ok();
}

void LocalRetriever::FollowLoop() {
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

void LocalRetriever::Follow() {
  DropIdleUsers();
  Result<int64_t> last = store_.search().LastChunkKey();
  if (!last.ok() || *last <= followed_through_) return;  // (a store that is away: the next pass tries again)
  // Through the largest key read, not `last`: keys a writer drew and has yet to commit come
  // in a later pass (they commit in key order).
  Result<store::ChunkOwners> owners = store_.search().ChunkOwnersAfter(followed_through_);
  if (!owners.ok()) return;
  followed_through_ = owners->through_key;
  Result<embed::EmbeddingModel> q = model_();
  for (const std::string& user : owners->user_ids) {
    if (stopping_) return;
    std::shared_ptr<UserIndex> u = Acquire(user);  // an upload is activity: the idle clock restarts
    if (Status s = Refresh(*u, q.ok() ? &*q : nullptr); !s.ok()) {
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

std::shared_ptr<UserIndex> LocalRetriever::Acquire(const std::string& user_id) {
  std::lock_guard lock(users_mu_);
  std::shared_ptr<UserIndex>& u = users_[user_id];
  if (!u) u = std::make_shared<UserIndex>(user_id, encoding_);
  u->last_used() = NowMs();  // under the lock: the idle sweep never takes a user being acquired
  return u;
}

Status LocalRetriever::Begin(UserIndex& u) {
  UserIndex::Cursor& c = u.cursor();
  const int64_t started = NowMs();
  // The saved graph (the bigger file) is read on another thread meanwhile, for the first
  // vector refresh: a warm start costs the larger of the two reads, not their sum.
  std::future<Result<SavedGraph>> graph;
  int64_t graph_ms = 0;
  Result<embed::EmbeddingModel> model = model_();
  if (files_.enabled() && model.ok()) {
    graph = std::async(std::launch::async, [this, &graph_ms, user = u.user_id(), m = *model] {
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
    c.preloaded_model = *model;
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

Status LocalRetriever::RefreshTexts(UserIndex& u) {
  if (!tokenizer_.ok()) return tokenizer_.status();
  UserIndex::Cursor& c = u.cursor();
  while (true) {
    Result<std::vector<store::TextRow>> rows = store_.search().TextsAfter(u.user_id(), c.text_key, kLoadPage);
    if (!rows.ok()) return rows.status();
    std::vector<PreparedText> prepared;
    prepared.reserve(rows->size());
    for (store::TextRow& r : *rows) {  // tokenized with no lock held
      prepared.push_back({r.chunk_key, std::move(r.document_id), r.ordinal, (*tokenizer_)->Document(r.text),
                          (*tokenizer_)->Document(store::TitledContext(r.document_name, r.section, r.context))});
    }
    if (!prepared.empty()) c.text_key = prepared.back().key;
    c.unsaved_texts += static_cast<int64_t>(prepared.size());
    u.AddTexts(prepared);
    if (rows->size() < static_cast<size_t>(kLoadPage)) return Status::Ok();
  }
}

Status LocalRetriever::RefreshVectors(UserIndex& u, const embed::EmbeddingModel& model) {
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

Status LocalRetriever::Refresh(UserIndex& u, const embed::EmbeddingModel* vectors) {
  std::lock_guard lock(u.refresh_mutex());  // this user's refreshes only
  if (!u.cursor().started) BD_RETURN_IF_ERROR(Begin(u));
  BD_RETURN_IF_ERROR(RefreshTexts(u));
  if (vectors != nullptr) BD_RETURN_IF_ERROR(RefreshVectors(u, *vectors));
  return Status::Ok();
}

void LocalRetriever::ScheduleBuild(const std::shared_ptr<UserIndex>& u) {
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

void LocalRetriever::Build(const std::shared_ptr<UserIndex>& u) {
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

void LocalRetriever::ScheduleSave(const std::shared_ptr<UserIndex>& u) {
  UserIndex::Cursor& c = u->cursor();  // refresh mutex held by the caller
  if (!files_.enabled() || c.unsaved_texts < kSaveEvery) return;
  c.unsaved_texts = 0;
  background_.Post([this, weak = std::weak_ptr<UserIndex>(u)] {
    std::shared_ptr<UserIndex> user = weak.lock();
    if (user && !stopping_) SaveKeywords(*user);
  });
}

void LocalRetriever::SaveKeywords(UserIndex& u) {
  auto [bytes, through] = u.SerializeKeywords();
  if (Status s = files_.SaveKeywords(u.user_id(), bytes, through); !s.ok()) {
    Warn("search: cannot save a keyword index", u.user_id(), s.message());
    return;
  }
  u.saved_text_key() = through;
}

Result<SavedKeywords> LocalRetriever::LoadKeywords(const std::string& user_id) {
  Result<SavedKeywords> saved = files_.LoadKeywords(user_id);
  if (!saved.ok()) return saved;
  if (Status s = CheckCoverage(saved->through_key); !s.ok()) return s;
  return saved;
}

Status LocalRetriever::CheckCoverage(int64_t through_key) {
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

void LocalRetriever::Flush() {
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

void LocalRetriever::DropIdleUsers() {
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

void LocalRetriever::WaitForBackgroundWork() {
  for (int round = 0; round < 100; ++round) {  // a build may schedule the next one
    std::promise<void> done;
    background_.Post([&done] { done.set_value(); });
    done.get_future().wait();
    if (background_.queued() == 0) return;
  }
}

size_t LocalRetriever::users_in_memory() {
  std::lock_guard lock(users_mu_);
  return users_.size();
}

UserIndexStats LocalRetriever::stats(const std::string& user_id) {
  std::shared_ptr<UserIndex> u = Find(user_id);
  return u ? u->stats() : UserIndexStats{};
}

std::shared_ptr<UserIndex> LocalRetriever::Find(const std::string& user_id) {
  std::lock_guard lock(users_mu_);
  auto it = users_.find(user_id);
  return it == users_.end() ? nullptr : it->second;
}

void LocalRetriever::ForgetDocument(const std::string& user_id, const std::string& document_id) {
  if (std::shared_ptr<UserIndex> u = Find(user_id)) u->ForgetDocument(document_id);
}

void LocalRetriever::Forget(const std::string& user_id, std::span<const int64_t> keys) {
  if (std::shared_ptr<UserIndex> u = Find(user_id)) u->Forget(keys);
}

std::optional<std::string> LocalRetriever::DocumentOf(const std::string& user_id, int64_t key) {
  std::shared_ptr<UserIndex> u = Find(user_id);
  return u ? u->DocumentOf(key) : std::nullopt;
}

Result<std::vector<index::Ranked>> LocalRetriever::Keywords(const Request& request, int depth) {
  if (!tokenizer_.ok()) return tokenizer_.status();
  DropIdleUsers();
  std::shared_ptr<UserIndex> u = Acquire(request.user_id);
  const std::vector<std::string> terms = (*tokenizer_)->Query(request.query);
  if (terms.empty()) return std::vector<index::Ranked>{};
  {
    BD_RETURN_IF_ERROR(Refresh(*u, nullptr));  // not the vectors: their trouble must not stop keyword search
    std::lock_guard lock(u->refresh_mutex());
    ScheduleSave(u);
  }
  return u->SearchKeywords(terms, depth, request.document_ids);
}

Result<std::vector<index::Ranked>> LocalRetriever::ExpandedKeywords(const Request& request, int depth,
                                                                    std::span<const index::Ranked> first,
                                                                    int expansion_terms) {
  if (!tokenizer_.ok()) return tokenizer_.status();
  std::shared_ptr<UserIndex> u = Acquire(request.user_id);
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
    index::Terms context = (*tokenizer_)->Document(store::TitledContext(chunk.title, chunk.section, chunk.context));
    words.terms.insert(words.terms.end(), context.terms.begin(), context.terms.end());
    seeds.push_back(std::move(words));
    scores.push_back(r.score);
  }
  return u->SearchKeywords(u->ExpandKeywords(terms, seeds, scores, expansion_terms), depth, request.document_ids);
}

Result<std::vector<index::Ranked>> LocalRetriever::Vectors(const Request& request, const embed::EmbeddingModel& model,
                                                           std::span<const float> query, int depth,
                                                           std::span<const index::Ranked> feedback) {
  DropIdleUsers();
  std::shared_ptr<UserIndex> u = Acquire(request.user_id);
  BD_RETURN_IF_ERROR(Refresh(*u, &model));
  {
    std::lock_guard lock(u->refresh_mutex());
    ScheduleSave(u);
  }
  ScheduleBuild(u);
  std::optional<std::vector<float>> moved =
      feedback.empty() ? std::vector<float>(query.begin(), query.end()) : u->FeedbackQuery(query, feedback, model);
  std::optional<std::vector<index::Ranked>> hits =
      moved ? u->SearchVectors(*moved, depth, request.document_ids, model) : std::nullopt;
  if (!hits) return Status::Unavailable("the embedding model changed during the search; try again");
  return std::move(*hits);
}

}  // namespace betterdev::search
