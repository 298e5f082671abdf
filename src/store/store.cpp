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

std::string TitleOfFile(std::string_view filename) {
  if (const size_t slash = filename.find_last_of("/\\"); slash != std::string_view::npos) {
    filename.remove_prefix(slash + 1);
  }
  if (const size_t dot = filename.rfind('.'); dot != std::string_view::npos && dot > 0 && filename.size() - dot <= 6) {
    filename = filename.substr(0, dot);
  }
  std::string title;
  for (char c : filename) {
    const char t = c == '_' || c == '-' || c == '.' ? ' ' : c;
    if (t == ' ' && (title.empty() || title.back() == ' ')) continue;
    title.push_back(t);
  }
  while (!title.empty() && title.back() == ' ') title.pop_back();
  return title;
}

std::string TitledContext(std::string_view filename, const std::string& context) {
  std::string title = TitleOfFile(filename);
  if (title.empty()) return context;
  if (context.empty()) return title;
  return title + "\n" + context;
}

std::string ChunkId(const std::string& document_id, int ordinal) {
  return document_id + "_" + std::to_string(ordinal);
}

}  // namespace betterdev::store
