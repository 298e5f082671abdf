#include "chat/conversations.hpp"

#include <set>

namespace betterdev::chat {
namespace {

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

bool IsBlank(std::string_view s) {
  for (unsigned char c : s)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  return true;
}

// Document ids are this server's opaque ids: 1–64 of [A-Za-z0-9_-].
bool IsIdText(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

}  // namespace

Status ConversationService::ValidateTitle(const std::string& title) {
  if (IsBlank(title)) return Status::InvalidArgument("title must not be empty");
  if (Utf8Length(title) > kMaxTitleChars) return Status::InvalidArgument("title must be at most 200 characters");
  return Status::Ok();
}

Status ConversationService::ValidateDocumentIds(const std::vector<std::string>& ids) {
  if (ids.size() > kMaxDocuments) return Status::InvalidArgument("document_ids may hold at most 100 ids");
  std::set<std::string_view> seen;
  for (const std::string& id : ids) {
    if (!IsIdText(id)) return Status::InvalidArgument("document_ids holds an invalid id: " + id.substr(0, 64));
    if (!seen.insert(id).second) return Status::InvalidArgument("document_ids holds " + id + " twice");
  }
  return Status::Ok();
}

Status ConversationService::CheckOwnDocuments(const std::string& user_id, const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    auto d = store_.documents().Get(user_id, id);
    if (d.ok()) continue;
    if (d.status().code() == StatusCode::kNotFound) return Status::NotFound("no such document: " + id);
    return d.status();
  }
  return Status::Ok();
}

Result<store::Conversation> ConversationService::Create(const std::string& user_id, std::optional<std::string> title,
                                                        std::vector<std::string> document_ids) {
  if (title) BD_RETURN_IF_ERROR(ValidateTitle(*title));
  BD_RETURN_IF_ERROR(ValidateDocumentIds(document_ids));
  BD_RETURN_IF_ERROR(CheckOwnDocuments(user_id, document_ids));
  int64_t now = clock_.NowMillis();
  store::Conversation c{ids_.New("conv"), user_id, title.value_or(std::string(kDefaultTitle)),
                        std::move(document_ids), now, now};
  BD_RETURN_IF_ERROR(store_.conversations().Create(c));
  return c;
}

Result<store::Conversation> ConversationService::Get(const std::string& user_id, const std::string& id) {
  return store_.conversations().Get(user_id, id);
}

Result<store::Page<store::Conversation>> ConversationService::List(const std::string& user_id,
                                                                   const store::PageRequest& page) {
  return store_.conversations().List(user_id, page);
}

Result<store::Conversation> ConversationService::Update(const std::string& user_id, const std::string& id,
                                                        const store::ConversationPatch& patch) {
  if (patch.title) BD_RETURN_IF_ERROR(ValidateTitle(*patch.title));
  if (patch.document_ids) {
    BD_RETURN_IF_ERROR(ValidateDocumentIds(*patch.document_ids));
    // The conversation first: another user's conversation answers 404 whatever the documents.
    auto existing = store_.conversations().Get(user_id, id);
    if (!existing.ok()) return existing.status();
    BD_RETURN_IF_ERROR(CheckOwnDocuments(user_id, *patch.document_ids));
  }
  return store_.conversations().Update(user_id, id, patch, clock_.NowMillis());
}

Status ConversationService::Delete(const std::string& user_id, const std::string& id) {
  return store_.conversations().Delete(user_id, id);
}

Result<store::Page<store::Message>> ConversationService::Messages(const std::string& user_id, const std::string& id,
                                                                  const store::PageRequest& page) {
  return store_.messages().List(user_id, id, page);
}

}  // namespace betterdev::chat
