#include "ingest/reembedder.hpp"

#include <map>
#include <unordered_map>

#include "ingest/embedding.hpp"

namespace betterdev::ingest {

Reembedder::Reembedder(store::Store& store, embed::Embedder& target, embed::EmbedderFactory old_models,
                       const Clock& clock, Logger& log, const ReembedOptions& options, store::VectorMirror* mirror)
    : store_(store), target_(target), old_models_(std::move(old_models)), clock_(clock), log_(log),
      options_(options), mirror_(mirror) {}

Reembedder::~Reembedder() { Stop(); }

// Embeds up to one batch of ready chunks lacking a vector of `model`, from `cursor` on.
Status Reembedder::Backfill(const store::VectorModel& model, embed::Embedder& embedder, int64_t& cursor,
                            bool& did_work) {
  Result<std::vector<store::TextRow>> rows = store_.search().ChunksWithoutVectors(model, cursor, options_.batch);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::Ok();
  std::vector<std::string> texts;
  std::vector<int64_t> keys;
  for (const store::TextRow& r : *rows) {
    texts.push_back(EmbeddingText(r.text, store::TitledContext(r.document_name, r.section, r.context)));
    keys.push_back(r.chunk_key);
  }
  int64_t tokens = 0;
  Result<std::vector<std::vector<float>>> vectors =
      EmbedWithCache(embedder, store_.search(), texts, clock_.NowMillis(), tokens);
  if (!vectors.ok()) return vectors.status();
  // The mirror first: once the store has them, these chunks are no longer asked for.
  if (mirror_ != nullptr) BD_RETURN_IF_ERROR(Mirror(model, *rows, *vectors));
  BD_RETURN_IF_ERROR(store_.search().PutVectors(model, keys, *vectors));
  if (tokens > 0) {  // shared out by text length
    size_t total = 0;
    std::unordered_map<std::string, size_t> bytes;
    for (size_t i = 0; i < rows->size(); ++i) {
      bytes[(*rows)[i].document_id] += texts[i].size();
      total += texts[i].size();
    }
    for (const auto& [document, n] : bytes) {
      const auto share = static_cast<int64_t>(static_cast<double>(tokens) * static_cast<double>(n) /
                                              static_cast<double>(std::max<size_t>(total, 1)));
      (void)store_.documents().AddEmbeddingUsage(document, "", share,
                                                 static_cast<double>(share) * options_.price_per_million / 1e6);
    }
  }
  cursor = rows->back().chunk_key;
  embedded_ += static_cast<int64_t>(rows->size());
  did_work = true;
  return Status::Ok();
}

Status Reembedder::Mirror(const store::VectorModel& model, const std::vector<store::TextRow>& rows,
                          const std::vector<std::vector<float>>& vectors) {
  // Each chunk is named by its document's job now; a chunk whose document was reprocessed
  // since it was read has another key under that name (or none), and is left out: its text
  // is not the new version's.
  std::unordered_map<std::string, std::string> job_of;  // document -> its current job
  std::map<std::string, std::vector<size_t>> by_user;   // rows to name, per owner
  for (size_t i = 0; i < rows.size() && i < vectors.size(); ++i) {
    const store::TextRow& r = rows[i];
    auto [it, fresh] = job_of.try_emplace(r.document_id);
    if (fresh) {
      Result<store::Document> d = store_.documents().Get(r.user_id, r.document_id);
      if (d.ok()) it->second = d->job_id;
      else if (d.status().code() != StatusCode::kNotFound) return d.status();
    }
    if (!it->second.empty()) by_user[r.user_id].push_back(i);  // (deleted meanwhile: none)
  }
  std::vector<store::MirroredVector> out;
  for (const auto& [user, at] : by_user) {
    std::vector<store::ChunkAt> names;
    for (size_t i : at) names.push_back({rows[i].document_id, job_of[rows[i].document_id], rows[i].ordinal});
    Result<std::vector<int64_t>> keys = store_.search().KeysOfChunks(user, names);
    if (!keys.ok()) return keys.status();
    for (size_t n = 0; n < at.size() && n < keys->size(); ++n) {
      if ((*keys)[n] == rows[at[n]].chunk_key) out.push_back({user, names[n], vectors[at[n]]});
    }
  }
  return mirror_->Put(model, out);
}

Result<bool> Reembedder::Step() {
  const store::VectorModel target{target_.model().id, target_.model().dimension};
  Result<std::optional<store::VectorModel>> active = store_.search().ActiveModel();
  if (!active.ok()) return active.status();
  if (!*active) {
    BD_RETURN_IF_ERROR(store_.search().SetActiveModel(target, clock_.NowMillis()));
    return false;
  }
  if (**active == target) return false;
  bool did_work = false;
  // Documents that became ready during the change: a vector of the old model too.
  if (!(old_model_ == **active)) {
    // Chunks made ready before now have the old vector; later ones come from the workers with
    // the configured model only.
    Result<int64_t> last = store_.search().LastVectorKey(**active);
    if (!last.ok()) return last.status();
    old_cursor_ = *last;
    old_model_ = **active;
    old_.reset();
    if (old_models_) {
      Result<std::unique_ptr<embed::Embedder>> e = old_models_({old_model_.id, old_model_.dimension});
      if (e.ok()) {
        old_ = std::move(*e);
      } else {
        log_.Warn("cannot embed with the model search still uses; new documents wait for the switch",
                  {{"model", old_model_.id}, {"error", e.status().message()}});
      }
    }
  }
  if (old_) {  // a failure here must not hold the change up: those documents wait for the switch
    if (Status s = Backfill(old_model_, *old_, old_cursor_, did_work); !s.ok()) {
      log_.Warn("cannot give new documents a vector of the model search still uses", {{"error", s.message()}});
    }
  }
  if (did_work) return true;
  BD_RETURN_IF_ERROR(Backfill(target, target_, target_cursor_, did_work));
  if (did_work) return true;
  if (target_cursor_ != 0) {  // the end of a pass: one more from the start finds nothing missed
    target_cursor_ = 0;
    return true;
  }
  BD_RETURN_IF_ERROR(store_.search().SetActiveModel(target, clock_.NowMillis()));
  BD_RETURN_IF_ERROR(store_.search().DropVectorsExcept(target));
  if (mirror_ != nullptr) {
    if (Status s = mirror_->DropModelsExcept(target); !s.ok()) {  // they are never asked for again
      log_.Warn("the vector store kept the old model's vectors", {{"error", s.message()}});
    }
  }
  log_.Info("search switched to the new embedding model",
            {{"model", target.id}, {"dimension", static_cast<int64_t>(target.dimension)},
             {"chunks_embedded", embedded_}});
  return false;
}

void Reembedder::Start() {
  thread_ = std::thread([this] {
    bool announced = false;
    while (true) {
      Result<bool> more = Step();
      std::unique_lock lock(mu_);
      if (stop_) return;
      if (more.ok() && !*more) return;
      if (more.ok() && !announced) {
        announced = true;
        log_.Info("re-embedding every chunk with the new embedding model; search uses the old one until done",
                  {{"model", target_.model().id}});
      }
      if (!more.ok()) {
        log_.Warn("re-embedding paused", {{"error", more.status().message()}});
        wake_.wait_for(lock, std::chrono::seconds(options_.retry_seconds), [this] { return stop_; });
        if (stop_) return;
      }
    }
  });
}

void Reembedder::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace betterdev::ingest
