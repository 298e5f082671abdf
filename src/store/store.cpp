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

std::optional<MessageRole> ParseMessageRole(std::string_view name) {
  if (name == "user") return MessageRole::kUser;
  if (name == "assistant") return MessageRole::kAssistant;
  if (name == "system") return MessageRole::kSystem;
  return std::nullopt;
}

}  // namespace betterdev::store
