#include "store/store.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace betterdev::store {

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) {
    if (!out.empty()) out.push_back(',');
    out += id;
  }
  return out;
}

std::vector<std::string> SplitIds(std::string_view joined) {
  std::vector<std::string> out;
  while (!joined.empty()) {
    size_t comma = joined.find(',');
    out.emplace_back(joined.substr(0, comma));
    joined = comma == std::string_view::npos ? std::string_view{} : joined.substr(comma + 1);
  }
  return out;
}

int64_t OrdinalAfter(const std::optional<std::string>& after_id) {
  if (!after_id) return -1;
  size_t us = after_id->rfind('_');
  int64_t v = -1;
  if (us == std::string::npos) return v;
  std::from_chars(after_id->data() + us + 1, after_id->data() + after_id->size(), v);
  return std::min<int64_t>(v, INT32_MAX);
}

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

std::string TitledContext(std::string_view filename, const std::string& section, const std::string& context) {
  std::string out = TitleOfFile(filename);
  for (const std::string* part : {&section, &context}) {
    if (part->empty()) continue;
    if (!out.empty()) out.push_back('\n');
    out += *part;
  }
  return out;
}

namespace {
Status InProcessOnly() { return Status::Internal("this store is searched by in-process indexes, not inside the database"); }
}  // namespace

Result<std::vector<std::string>> SearchRepository::QueryWords(const std::string&) { return InProcessOnly(); }
Result<std::vector<ScoredChunk>> SearchRepository::SearchKeywords(const SearchScope&, const std::vector<std::string>&,
                                                                   const std::vector<double>&, int) {
  return InProcessOnly();
}
Result<std::vector<std::pair<int64_t, std::vector<std::string>>>> SearchRepository::IndexedWords(
    const std::vector<int64_t>&) {
  return InProcessOnly();
}
Result<std::pair<std::vector<int64_t>, int64_t>> SearchRepository::WordFrequencies(const std::string&,
                                                                                   const std::vector<std::string>&,
                                                                                   int64_t, double) {
  return InProcessOnly();
}
Result<std::vector<ScoredChunk>> SearchRepository::SearchVectors(const VectorModel&, const SearchScope&,
                                                                  const std::vector<float>&, int, int, int) {
  return InProcessOnly();
}
Status SearchRepository::BuildVectorIndex(const VectorModel&) { return InProcessOnly(); }

std::string ChunkId(const std::string& document_id, int ordinal) {
  return document_id + "_" + std::to_string(ordinal);
}

}  // namespace betterdev::store
