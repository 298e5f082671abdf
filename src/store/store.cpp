#include "store/store.hpp"

namespace betterdev::store {

std::string_view MessageRoleName(MessageRole role) {
  switch (role) {
    case MessageRole::kUser: return "user";
    case MessageRole::kAssistant: return "assistant";
    case MessageRole::kSystem: return "system";
  }
  return "user";
}

std::string_view MessageStatusName(MessageStatus status) {
  return status == MessageStatus::kIncomplete ? "incomplete" : "complete";
}

std::optional<MessageRole> ParseMessageRole(std::string_view name) {
  if (name == "user") return MessageRole::kUser;
  if (name == "assistant") return MessageRole::kAssistant;
  if (name == "system") return MessageRole::kSystem;
  return std::nullopt;
}

std::string_view DocumentStatusName(DocumentStatus status) {
  switch (status) {
    case DocumentStatus::kQueued: return "queued";
    case DocumentStatus::kProcessing: return "processing";
    case DocumentStatus::kReady: return "ready";
    case DocumentStatus::kFailed: return "failed";
  }
  return "queued";
}

std::optional<DocumentStatus> ParseDocumentStatus(std::string_view name) {
  if (name == "queued") return DocumentStatus::kQueued;
  if (name == "processing") return DocumentStatus::kProcessing;
  if (name == "ready") return DocumentStatus::kReady;
  if (name == "failed") return DocumentStatus::kFailed;
  return std::nullopt;
}

std::string ChunkId(const std::string& document_id, int ordinal) {
  return document_id + "_" + std::to_string(ordinal);
}

}  // namespace betterdev::store
