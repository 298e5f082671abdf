#include "queue/queue.hpp"

#include <limits>

namespace betterdev::queue {

std::string_view JobStateName(JobState state) {
  switch (state) {
    case JobState::kWaiting: return "waiting";
    case JobState::kDelayed: return "delayed";
    case JobState::kActive: return "active";
    case JobState::kCompleted: return "completed";
    case JobState::kFailed: return "failed";
  }
  return "unknown";
}

int64_t RetryDelayMs(int64_t backoff_ms, int retry) {
  // The cap keeps now + delay far from overflow; it is ~73 million years, so never a real limit.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 4;
  if (backoff_ms <= 0) return 0;
  int shift = retry <= 1 ? 0 : retry - 1;
  if (shift >= 62 || backoff_ms > (kMax >> shift)) return kMax;
  return backoff_ms << shift;
}

}  // namespace betterdev::queue
