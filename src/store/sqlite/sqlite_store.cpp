#include "store/sqlite/sqlite_store.hpp"

#include "core/time.hpp"
#include "store/sqlite/db.hpp"
#include "store/sqlite/repositories.hpp"

namespace betterdev::store {
namespace {

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<sqlite::Pool> pool)
      : pool_(std::move(pool)),
        users_(*pool_),
        tokens_(*pool_),
        api_keys_(*pool_),
        conversations_(*pool_),
        messages_(*pool_),
        documents_(*pool_),
        search_(*pool_) {}

  UserRepository& users() override { return users_; }
  TokenRepository& tokens() override { return tokens_; }
  ApiKeyRepository& api_keys() override { return api_keys_; }
  ConversationRepository& conversations() override { return conversations_; }
  MessageRepository& messages() override { return messages_; }
  DocumentRepository& documents() override { return documents_; }
  SearchRepository& search() override { return search_; }

  Status Ping() override {
    auto conn = pool_->Acquire();
    sqlite::Statement q = conn->Prepare("SELECT 1");
    Result<bool> r = q.Step();
    if (!r.ok()) return Status::Unavailable(r.status().message());
    return Status::Ok();
  }

 private:
  std::unique_ptr<sqlite::Pool> pool_;
  sqlite::SqliteUsers users_;
  sqlite::SqliteTokens tokens_;
  sqlite::SqliteApiKeys api_keys_;
  sqlite::SqliteConversations conversations_;
  sqlite::SqliteMessages messages_;
  sqlite::SqliteDocuments documents_;
  sqlite::SqliteSearch search_;
};

}  // namespace

Result<sqlite::MigrationReport> MigrateSqlite(const std::string& path) {
  auto conn = sqlite::Connection::Open(path, 5000);
  if (!conn.ok()) return conn.status();
  return sqlite::ApplyMigrations(**conn, SystemClock().NowMillis());
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  auto migrated = MigrateSqlite(options.path);
  if (!migrated.ok()) return migrated.status();
  auto pool = sqlite::Pool::Open(options.path, options.pool_size, options.busy_timeout_ms);
  if (!pool.ok()) return pool.status();
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(std::move(*pool)));
}

}  // namespace betterdev::store
