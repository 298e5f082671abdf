#include "index/tokenizer.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <climits>

#include "core/stopwords.hpp"

namespace betterdev::index {
namespace {

constexpr size_t kMaxCachedStems = 1 << 18;
constexpr size_t kMaxQueryTerms = 64;

bool IsAsciiStopword(const std::string& word) {
  return std::all_of(word.begin(), word.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }) &&
         IsEnglishStopword(word);
}

}  // namespace

// Two tokenizer objects from one in-memory SQLite connection: unicode61 splits and folds,
// porter (wrapping its own unicode61) stems one folded word at a time.
struct Tokenizer::Impl {
  sqlite3* db = nullptr;
  fts5_tokenizer split_api{}, stem_api{};
  Fts5Tokenizer* split = nullptr;
  Fts5Tokenizer* stem = nullptr;

  ~Impl() {
    if (split != nullptr) split_api.xDelete(split);
    if (stem != nullptr) stem_api.xDelete(stem);
    if (db != nullptr) sqlite3_close(db);
  }
};

Result<std::unique_ptr<Tokenizer>> Tokenizer::Open() {
  auto impl = std::make_unique<Impl>();
  if (sqlite3_open_v2(":memory:", &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    return Status::Internal("tokenizer: cannot open SQLite");
  }
  fts5_api* api = nullptr;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(impl->db, "SELECT fts5(?1)", -1, &stmt, nullptr) != SQLITE_OK) {
    return Status::Internal("tokenizer: this SQLite has no FTS5");
  }
  sqlite3_bind_pointer(stmt, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
  sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (api == nullptr) return Status::Internal("tokenizer: this SQLite has no FTS5");
  void* split_ctx = nullptr;
  void* stem_ctx = nullptr;
  const char* split_args[] = {"remove_diacritics", "2"};
  const char* stem_args[] = {"unicode61", "remove_diacritics", "2"};
  if (api->xFindTokenizer(api, "unicode61", &split_ctx, &impl->split_api) != SQLITE_OK ||
      impl->split_api.xCreate(split_ctx, split_args, 2, &impl->split) != SQLITE_OK ||
      api->xFindTokenizer(api, "porter", &stem_ctx, &impl->stem_api) != SQLITE_OK ||
      impl->stem_api.xCreate(stem_ctx, stem_args, 3, &impl->stem) != SQLITE_OK) {
    return Status::Internal("tokenizer: SQLite's porter/unicode61 tokenizers are missing");
  }
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

void Tokenizer::Words(std::string_view text, std::vector<std::string>& words) const {
  // SQLite takes an int length: feed very large texts in pieces cut at a space.
  while (!text.empty()) {
    size_t n = std::min<size_t>(text.size(), INT_MAX / 2);
    if (n < text.size()) {
      const size_t space = text.rfind(' ', n);
      if (space != std::string_view::npos && space > 0) n = space;
    }
    impl_->split_api.xTokenize(
        impl_->split, &words, FTS5_TOKENIZE_DOCUMENT, text.data(), static_cast<int>(n),
        [](void* ctx, int /*flags*/, const char* token, int size, int /*start*/, int /*end*/) {
          static_cast<std::vector<std::string>*>(ctx)->emplace_back(token, static_cast<size_t>(size));
          return SQLITE_OK;
        });
    text.remove_prefix(n);
  }
}

const std::string& Tokenizer::Stem(const std::string& word) const {
  auto it = stems_.find(word);
  if (it != stems_.end()) return it->second;
  if (stems_.size() >= kMaxCachedStems) stems_.clear();
  std::string stem;
  impl_->stem_api.xTokenize(impl_->stem, &stem, FTS5_TOKENIZE_DOCUMENT, word.data(), static_cast<int>(word.size()),
                            [](void* ctx, int /*flags*/, const char* token, int size, int /*start*/, int /*end*/) {
                              static_cast<std::string*>(ctx)->assign(token, static_cast<size_t>(size));
                              return SQLITE_OK;
                            });
  return stems_.emplace(word, std::move(stem)).first->second;
}

Terms Tokenizer::Document(std::string_view text) const {
  Terms out;
  std::vector<std::string> words;
  std::lock_guard lock(mu_);
  Words(text, words);
  out.length = words.size();
  for (const std::string& w : words) {
    if (!IsAsciiStopword(w)) out.terms.push_back(Stem(w));
  }
  return out;
}

std::vector<std::string> Tokenizer::Query(std::string_view text) const {
  std::vector<std::string> terms, words;
  std::lock_guard lock(mu_);
  Words(text, words);
  for (const std::string& w : words) {
    if (IsAsciiStopword(w)) continue;
    const std::string& stem = Stem(w);
    if (std::find(terms.begin(), terms.end(), stem) == terms.end()) terms.push_back(stem);
    if (terms.size() == kMaxQueryTerms) break;
  }
  return terms;
}

}  // namespace betterdev::index
