// Changing the embedding model without a gap in search. Search uses the store's active model
// (store::SearchRepository::ActiveModel). When the configured model differs, the re-embedder
// gives every ready chunk a vector of the configured model, batch by batch, beside its old one;
// search keeps using the old vectors meanwhile. Documents that become ready during the change
// are embedded by the workers with the configured model, and here with the old one too (when
// an embedder for it can be built), so search finds them before the switch. Once no ready
// chunk lacks a vector of the configured model, the configured model becomes the active one and
// the other models' vectors are deleted; the search service notices at its next query.
// Several processes may run one each: the work is idempotent. With a vector store outside the
// database (store/vector_mirror.hpp), each new vector goes there first, then to the store, and
// the switch drops the other models' vectors there too.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "core/log.hpp"
#include "core/status.hpp"
#include "core/time.hpp"
#include "embed/embedder.hpp"
#include "store/store.hpp"
#include "store/vector_mirror.hpp"

namespace betterdev::ingest {

struct ReembedOptions {
  int batch = 64;
  double price_per_million = 0.02;  // USD per 1M tokens of a remote embedder (recorded per document)
  int retry_seconds = 5;            // after an error (provider down, database busy)
};

class Reembedder {
 public:
  // `target` is the configured embedder; `old_models` builds one for the active model.
  Reembedder(store::Store& store, embed::Embedder& target, embed::EmbedderFactory old_models, const Clock& clock,
             Logger& log, const ReembedOptions& options = {}, store::VectorMirror* mirror = nullptr);
  ~Reembedder();  // stops

  // One batch. True while there is more to do; false once search uses the configured model
  // (a store without an active model gets the configured one at once).
  Result<bool> Step();
  // Steps in a thread until done or Stop(); errors are logged and retried.
  void Start();
  void Stop();

 private:
  Status Backfill(const store::VectorModel& model, embed::Embedder& embedder, int64_t& cursor, bool& did_work);
  Status Mirror(const store::VectorModel& model, const std::vector<store::TextRow>& rows,
                const std::vector<std::vector<float>>& vectors);

  store::Store& store_;
  embed::Embedder& target_;
  embed::EmbedderFactory old_models_;
  const Clock& clock_;
  Logger& log_;
  ReembedOptions options_;
  store::VectorMirror* mirror_;
  std::unique_ptr<embed::Embedder> old_;  // for the active model, when it is not the target
  store::VectorModel old_model_;
  int64_t target_cursor_ = 0;  // chunk keys below it have a target vector (this pass)
  int64_t old_cursor_ = 0;
  int64_t embedded_ = 0;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace betterdev::ingest
