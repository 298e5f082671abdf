// PostgreSQL implementations of the repository interfaces (store/store.hpp), made by the
// store; and what they share. Internal to store/postgres/.
#pragma once

#include <chrono>
#include <memory>
#include <thread>
#include <type_traits>

#include "store/postgres/pg.hpp"
#include "store/store.hpp"

namespace betterdev::store::pg {

std::unique_ptr<UserRepository> NewUsers(Pool& pool);
std::unique_ptr<TokenRepository> NewTokens(Pool& pool);
std::unique_ptr<ApiKeyRepository> NewApiKeys(Pool& pool);
std::unique_ptr<ConversationRepository> NewConversations(Pool& pool);
std::unique_ptr<MessageRepository> NewMessages(Pool& pool);
std::unique_ptr<DocumentRepository> NewDocuments(Pool& pool);
std::unique_ptr<SearchRepository> NewSearch(Pool& pool);

// Search inside the database (pg_retrieval.cpp): SearchRepository's calls of the same names.
Result<std::vector<std::string>> QueryWords(Pool& pool, const std::string& query);
Result<std::vector<ScoredChunk>> SearchKeywords(Pool& pool, const SearchScope& scope,
                                                const std::vector<std::string>& words,
                                                const std::vector<double>& weights, int limit);
Result<std::vector<std::pair<int64_t, std::vector<std::string>>>> IndexedWords(Pool& pool,
                                                                              const std::vector<int64_t>& keys);
Result<std::pair<std::vector<int64_t>, int64_t>> WordFrequencies(Pool& pool, const std::string& user_id,
                                                                 const std::vector<std::string>& words, int64_t floor,
                                                                 double share);
Result<std::vector<ScoredChunk>> SearchVectors(Pool& pool, const VectorModel& model, const SearchScope& scope,
                                               const std::vector<float>& query, int limit, int ef_search,
                                               int exact_below);
Result<std::vector<VectorRow>> VectorsByKey(Pool& pool, const VectorModel& model, const std::vector<int64_t>& keys);
Status BuildVectorIndex(Pool& pool, const VectorModel& model);

inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

// Runs fn(connection) on a pooled connection; again (up to 3 times in all) only when the first
// try certainly applied nothing: no connection could be had, or the server rolled the
// transaction back (a serialization failure or a deadlock). A connection lost while a statement
// ran answers Unavailable at once: whether the server applied it is unknown, and a repeated
// write could count twice. (Connections the server closed while idle never get that far: the
// pool drops them before lending them.)
template <typename Fn>
auto WithRetry(Pool& pool, Fn&& fn) -> std::invoke_result_t<Fn&, Connection&> {
  using R = std::invoke_result_t<Fn&, Connection&>;
  for (int attempt = 1;; ++attempt) {
    auto lease = pool.Acquire();
    if (!lease.ok()) {
      if (attempt >= 3) return R(lease.status());
    } else {
      (*lease)->ClearRetrySafe();
      R r = fn(**lease);
      if (StatusOf(r).ok() || !(*lease)->retry_safe() || attempt >= 3) return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
  }
}

// Keyset pages: rows holds at most limit + 1 rows; the extra one only tells that more follow.
template <typename T, typename Read>
Page<T> ReadPage(const Rows& rows, int limit, Read read) {
  Page<T> out;
  for (int i = 0; i < rows.size(); ++i) {
    if (static_cast<int>(out.items.size()) == limit) {
      out.has_more = true;
      break;
    }
    out.items.push_back(read(rows, i));
  }
  return out;
}

// Assigns `expr`'s Rows to a new variable `var`, or returns its error.
#define PG_ROWS(var, expr)                         \
  auto var##_result = (expr);                      \
  if (!var##_result.ok()) return var##_result.status(); \
  pg::Rows& var = *var##_result

}  // namespace betterdev::store::pg
