// The vector leg in a vector database outside the store (store/vector_mirror.hpp: Pinecone),
// the keyword leg from another retriever (the database's own when the store searches inside,
// else this process's keyword indexes, which then load no vectors). A mirror's hits name
// chunks by document, job and ordinal; they become chunk keys through the store, which drops
// those of deleted documents and of older versions of reprocessed ones. Hybrid's feedback
// moves the query toward the keyword leg's best chunks with their vectors from the store.
// Deleting a document here also asks the mirror to drop its vectors, in the background: the
// delete is recorded in the store first (by the store's delete itself when the ingest service
// knows of the mirror; again here, a no-op then) and the record removed once the mirror
// answered, so deletes it missed (away, failing, this process stopped) are asked again at
// Preload and every `retry_interval` by any process running a mirror; so are those others
// record (a reprocessed document's older version, by the ingest service).
// Thread-safe.
#pragma once

#include <chrono>
#include <memory>

#include "core/log.hpp"
#include "core/periodic.hpp"
#include "core/task_pool.hpp"
#include "search/retriever.hpp"
#include "store/store.hpp"
#include "store/vector_mirror.hpp"

namespace betterdev::search {

class MirrorRetriever final : public Retriever {
 public:
  MirrorRetriever(store::Store& store, store::VectorMirror& mirror, std::unique_ptr<Retriever> keywords, Logger* log,
                  std::chrono::milliseconds retry_interval);
  ~MirrorRetriever() override;

  std::string_view name() const override { return mirror_.name(); }
  Status Preload() override;
  Result<std::vector<index::Ranked>> Keywords(const Request& request, int depth) override {
    return keywords_->Keywords(request, depth);
  }
  Result<std::vector<index::Ranked>> ExpandedKeywords(const Request& request, int depth,
                                                      std::span<const index::Ranked> first,
                                                      int expansion_terms) override {
    return keywords_->ExpandedKeywords(request, depth, first, expansion_terms);
  }
  Result<std::vector<index::Ranked>> Vectors(const Request& request, const embed::EmbeddingModel& model,
                                             std::span<const float> query, int depth,
                                             std::span<const index::Ranked> feedback) override;
  std::optional<std::string> DocumentOf(const std::string& user_id, int64_t key) override {
    return keywords_->DocumentOf(user_id, key);
  }
  void Forget(const std::string& user_id, std::span<const int64_t> keys) override { keywords_->Forget(user_id, keys); }
  void ForgetDocument(const std::string& user_id, const std::string& document_id) override;
  void Flush() override { keywords_->Flush(); }
  void WaitForBackgroundWork() override;
  size_t users_in_memory() override { return keywords_->users_in_memory(); }
  UserIndexStats stats(const std::string& user_id) override { return keywords_->stats(user_id); }

 private:
  // Deletes the mirror missed, oldest first, until one fails again (background_ only).
  void RetryDeletes();
  // Asks the mirror to drop these vectors and, when it did, forgets the record.
  Status Drop(const store::MirrorDelete& d);

  store::Store& store_;
  store::VectorMirror& mirror_;
  std::unique_ptr<Retriever> keywords_;
  Logger* log_;
  const std::chrono::milliseconds retry_interval_;
  std::unique_ptr<Periodic> retries_;  // posts RetryDeletes; started by Preload
  TaskPool background_;  // the mirror's deletes; last member
};

}  // namespace betterdev::search
