#include "realtime/event.hpp"

namespace betterdev::realtime {
namespace {

constexpr std::string_view kNames[] = {"document.queued", "document.processing", "document.ready",
                                       "document.failed", "document.retrying",   "document.deleted"};

}  // namespace

std::string_view EventTypeName(EventType type) { return kNames[static_cast<int>(type)]; }

std::optional<EventType> ParseEventType(std::string_view name) {
  for (int i = 0; i < static_cast<int>(std::size(kNames)); ++i)
    if (kNames[i] == name) return static_cast<EventType>(i);
  return std::nullopt;
}

}  // namespace betterdev::realtime
