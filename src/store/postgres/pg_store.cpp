#include "store/postgres/pg_store.hpp"

#include "store/postgres/pg.hpp"
#include "store/postgres/pg_repositories.hpp"

namespace betterdev::store {
namespace {

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(std::unique_ptr<pg::Pool> pool)
      : pool_(std::move(pool)),
        users_(pg::NewUsers(*pool_)),
        tokens_(pg::NewTokens(*pool_)),
        api_keys_(pg::NewApiKeys(*pool_)),
        conversations_(pg::NewConversations(*pool_)),
        messages_(pg::NewMessages(*pool_)),
        documents_(pg::NewDocuments(*pool_)),
        search_(pg::NewSearch(*pool_)) {}

  UserRepository& users() override { return *users_; }
  TokenRepository& tokens() override { return *tokens_; }
  ApiKeyRepository& api_keys() override { return *api_keys_; }
  ConversationRepository& conversations() override { return *conversations_; }
  MessageRepository& messages() override { return *messages_; }
  DocumentRepository& documents() override { return *documents_; }
  SearchRepository& search() override { return *search_; }

  Status Ping() override {
    auto lease = pool_->Acquire();
    if (!lease.ok()) return Status::Unavailable(lease.status().message());
    auto r = (*lease)->Exec("SELECT 1");
    return r.ok() ? Status::Ok() : Status::Unavailable(r.status().message());
  }

 private:
  std::unique_ptr<pg::Pool> pool_;
  std::unique_ptr<UserRepository> users_;
  std::unique_ptr<TokenRepository> tokens_;
  std::unique_ptr<ApiKeyRepository> api_keys_;
  std::unique_ptr<ConversationRepository> conversations_;
  std::unique_ptr<MessageRepository> messages_;
  std::unique_ptr<DocumentRepository> documents_;
  std::unique_ptr<SearchRepository> search_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options) {
  auto migrated = MigratePostgres(options.url);
  if (!migrated.ok()) return migrated.status();
  auto pool = std::make_unique<pg::Pool>(options.url, options.pool_size, options.connect_timeout_seconds);
  return std::unique_ptr<Store>(std::make_unique<PostgresStore>(std::move(pool)));
}

}  // namespace betterdev::store
