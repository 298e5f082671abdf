#include "ingest/embedding.hpp"

#include "core/random.hpp"

namespace betterdev::ingest {

std::string EmbeddingText(const std::string& text, const std::string& context) {
  return context.empty() ? text : context + "\n" + text;
}

Result<std::vector<std::vector<float>>> EmbedWithCache(embed::Embedder& embedder, store::SearchRepository& store,
                                                       const std::vector<std::string>& texts, int64_t now,
                                                       int64_t& tokens) {
  const embed::EmbeddingModel& m = embedder.model();
  const store::VectorModel model{m.id, m.dimension};
  std::vector<std::string> hashes;
  std::vector<std::vector<float>> vectors(texts.size());
  if (embedder.remote()) {
    for (const std::string& t : texts) hashes.push_back(Sha256Hex(t));
    if (auto hit = store.Cached(model, hashes); hit.ok()) vectors = std::move(*hit);
  }
  std::vector<std::string> missing;
  std::vector<size_t> missing_at;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (vectors[i].size() == static_cast<size_t>(m.dimension)) continue;
    missing.push_back(texts[i]);
    missing_at.push_back(i);
  }
  if (missing.empty()) return vectors;
  Result<embed::Embeddings> e = embedder.Embed(missing);
  if (!e.ok()) return e.status();
  tokens += e->tokens;
  std::vector<std::string> new_hashes;
  std::vector<std::vector<float>> new_vectors;
  for (size_t j = 0; j < missing.size(); ++j) {
    const std::span<const float> row = e->Row(j);
    vectors[missing_at[j]].assign(row.begin(), row.end());
    if (embedder.remote()) {
      new_hashes.push_back(hashes[missing_at[j]]);
      new_vectors.push_back(vectors[missing_at[j]]);
    }
  }
  if (!new_hashes.empty()) (void)store.Cache(model, new_hashes, new_vectors, now);
  return vectors;
}

}  // namespace betterdev::ingest
