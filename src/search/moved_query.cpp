#include "search/moved_query.hpp"

#include <unordered_map>

#include "index/feedback.hpp"

namespace betterdev::search {

Result<std::vector<float>> MovedQuery(store::SearchRepository& store, const store::VectorModel& model,
                                      std::span<const float> query, std::span<const index::Ranked> feedback) {
  std::vector<float> moved(query.begin(), query.end());
  if (feedback.empty()) return moved;
  std::vector<int64_t> keys;
  for (const index::Ranked& r : feedback) keys.push_back(r.key);
  Result<std::vector<store::VectorRow>> rows = store.VectorsByKey(model, keys);
  if (!rows.ok()) return rows.status();
  std::unordered_map<int64_t, const std::vector<float>*> vector_of;
  for (const store::VectorRow& r : *rows) vector_of[r.chunk_key] = &r.vector;
  std::vector<float> seeds;
  std::vector<double> scores;
  for (const index::Ranked& r : feedback) {  // best first
    auto it = vector_of.find(r.key);
    if (it == vector_of.end() || it->second->size() != query.size()) continue;
    seeds.insert(seeds.end(), it->second->begin(), it->second->end());
    scores.push_back(r.score);
  }
  if (!scores.empty()) moved = index::MoveQueryToward(query, seeds, scores);
  return moved;
}

}  // namespace betterdev::search
