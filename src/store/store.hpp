// Repository interfaces: the domain's view of persistence. No SQL here; implementations live
// in store/sqlite/ (embedded default) and, later, store/postgres/.
//
// Every method that reads or changes a user's resource takes the owner's user id and treats
// another user's resource exactly like a missing one (NotFound). All methods are thread-safe.
// Times are milliseconds since the Unix epoch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace betterdev::store {

struct User {
  std::string id;
  std::string email;  // stored as given; unique without regard to ASCII case
  std::string password_hash;
  int64_t created_at = 0;
};

struct AccessToken {
  std::string id;
  std::string user_id;
  std::string token_hash;  // SHA-256 of the secret; the secret itself is never stored
  int64_t created_at = 0;
  int64_t expires_at = 0;
  std::optional<int64_t> revoked_at;
};

struct ApiKey {
  std::string id;
  std::string user_id;
  std::string name;
  std::string prefix;    // first characters of the secret, to recognise it in lists
  std::string key_hash;  // SHA-256 of the secret
  int64_t created_at = 0;
  std::optional<int64_t> last_used_at;
};

struct Conversation {
  std::string id;
  std::string user_id;
  std::string title;
  std::vector<std::string> document_ids;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

enum class MessageRole { kUser, kAssistant, kSystem };

struct Message {
  std::string id;
  std::string conversation_id;
  MessageRole role = MessageRole::kUser;
  std::string content;
  int64_t created_at = 0;
};

// Keyset pagination: items strictly after `after_id` in the list's order.
struct PageRequest {
  int limit = 50;
  std::optional<std::string> after_id;
};

template <typename T>
struct Page {
  std::vector<T> items;
  bool has_more = false;  // more items follow the last one
};

class UserRepository {
 public:
  virtual ~UserRepository() = default;
  // Conflict when the e-mail is taken (ASCII case-insensitively).
  virtual Status Create(const User& user) = 0;
  virtual Result<User> FindByEmail(const std::string& email) = 0;
  virtual Result<User> FindById(const std::string& id) = 0;
};

class TokenRepository {
 public:
  virtual ~TokenRepository() = default;
  virtual Status Create(const AccessToken& token) = 0;
  // NotFound when no token has this hash (revoked and expired ones are returned; callers check).
  virtual Result<AccessToken> FindByHash(const std::string& token_hash) = 0;
  virtual Status Revoke(const std::string& user_id, const std::string& token_id, int64_t now) = 0;
  // Removes tokens that expired before `now`; returns how many.
  virtual Result<int64_t> DeleteExpired(int64_t now) = 0;
};

class ApiKeyRepository {
 public:
  virtual ~ApiKeyRepository() = default;
  virtual Status Create(const ApiKey& key) = 0;
  // Newest first.
  virtual Result<Page<ApiKey>> List(const std::string& user_id, const PageRequest& page) = 0;
  virtual Result<ApiKey> FindByHash(const std::string& key_hash) = 0;
  virtual Status Delete(const std::string& user_id, const std::string& id) = 0;
  virtual Status TouchLastUsed(const std::string& id, int64_t now) = 0;
};

struct ConversationPatch {
  std::optional<std::string> title;
  std::optional<std::vector<std::string>> document_ids;
};

class ConversationRepository {
 public:
  virtual ~ConversationRepository() = default;
  virtual Status Create(const Conversation& c) = 0;
  virtual Result<Conversation> Get(const std::string& user_id, const std::string& id) = 0;
  // Newest first.
  virtual Result<Page<Conversation>> List(const std::string& user_id, const PageRequest& page) = 0;
  // Returns the updated conversation.
  virtual Result<Conversation> Update(const std::string& user_id, const std::string& id,
                                      const ConversationPatch& patch, int64_t now) = 0;
  // Removes the conversation and its messages.
  virtual Status Delete(const std::string& user_id, const std::string& id) = 0;
};

class MessageRepository {
 public:
  virtual ~MessageRepository() = default;
  // NotFound when the conversation does not exist or is not the user's.
  virtual Status Append(const std::string& user_id, const Message& m) = 0;
  // Oldest first (chat order). NotFound when the conversation is not the user's.
  virtual Result<Page<Message>> List(const std::string& user_id, const std::string& conversation_id,
                                     const PageRequest& page) = 0;
};

// One store = one database. Implementations own their connections.
class Store {
 public:
  virtual ~Store() = default;
  virtual UserRepository& users() = 0;
  virtual TokenRepository& tokens() = 0;
  virtual ApiKeyRepository& api_keys() = 0;
  virtual ConversationRepository& conversations() = 0;
  virtual MessageRepository& messages() = 0;
  // Unavailable when the database cannot answer a trivial query.
  virtual Status Ping() = 0;
};

std::string_view MessageRoleName(MessageRole role);
std::optional<MessageRole> ParseMessageRole(std::string_view name);

}  // namespace betterdev::store
