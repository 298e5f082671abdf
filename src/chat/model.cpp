#include "chat/model.hpp"

namespace betterdev::chat {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kSystem: return "system";
    case Role::kUser: return "user";
    case Role::kAssistant: return "assistant";
  }
  return "user";
}

}  // namespace betterdev::chat
