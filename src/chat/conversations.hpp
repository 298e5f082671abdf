// Conversations: a user's chats, each scoped to a set of the user's own documents, and their
// messages (answering is chat_service.hpp). Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/random.hpp"
#include "core/status.hpp"
#include "core/time.hpp"
#include "store/store.hpp"

namespace betterdev::chat {

inline constexpr std::string_view kDefaultTitle = "New conversation";
inline constexpr size_t kMaxTitleChars = 200;
inline constexpr size_t kMaxDocuments = 100;

class ConversationService {
 public:
  ConversationService(store::Store& store, const Clock& clock, IdGenerator& ids)
      : store_(store), clock_(clock), ids_(ids) {}

  // InvalidArgument for an empty or over-long title, or a bad document id list; NotFound when a
  // document id is not one of the user's existing documents (exactly like a missing one).
  Result<store::Conversation> Create(const std::string& user_id, std::optional<std::string> title,
                                     std::vector<std::string> document_ids);
  Result<store::Conversation> Get(const std::string& user_id, const std::string& id);
  Result<store::Page<store::Conversation>> List(const std::string& user_id, const store::PageRequest& page);
  Result<store::Conversation> Update(const std::string& user_id, const std::string& id,
                                     const store::ConversationPatch& patch);
  Status Delete(const std::string& user_id, const std::string& id);
  Result<store::Page<store::Message>> Messages(const std::string& user_id, const std::string& id,
                                               const store::PageRequest& page);

  static Status ValidateTitle(const std::string& title);
  // NotFound naming the first id that is not one of the user's documents.
  Status CheckOwnDocuments(const std::string& user_id, const std::vector<std::string>& ids);
  static Status ValidateDocumentIds(const std::vector<std::string>& ids);

 private:
  store::Store& store_;
  const Clock& clock_;
  IdGenerator& ids_;
};

}  // namespace betterdev::chat
