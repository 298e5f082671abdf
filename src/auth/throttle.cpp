#include "auth/throttle.hpp"

#include <algorithm>

namespace betterdev::auth {

int Throttle::RetryAfterSeconds(const std::string& key) {
  int64_t now = clock_.NowMillis();
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.locked_until_ms <= now) return 0;
  return static_cast<int>((it->second.locked_until_ms - now + 999) / 1000);
}

void Throttle::RecordFailure(const std::string& key) {
  int64_t now = clock_.NowMillis();
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    EvictIfFull(now);
    it = entries_.emplace(key, Entry{}).first;
  }
  Entry& e = it->second;
  if (e.failures == 0 || now - e.first_failure_ms > policy_.window_ms) {
    e.failures = 0;
    e.first_failure_ms = now;
  }
  ++e.failures;
  e.last_seen_ms = now;
  int excess = e.failures - policy_.max_failures;
  if (excess >= 0) {
    int64_t lock_ms = policy_.lockout_base_ms << std::min(excess, 30);
    e.locked_until_ms = now + std::min(lock_ms, policy_.lockout_max_ms);
  }
}

void Throttle::RecordSuccess(const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(key);
}

void Throttle::EvictIfFull(int64_t now) {
  if (entries_.size() < policy_.max_entries) return;
  // First drop everything that no longer matters; if still full, drop the stalest entry.
  std::erase_if(entries_, [&](const auto& kv) {
    return kv.second.locked_until_ms <= now && now - kv.second.first_failure_ms > policy_.window_ms;
  });
  if (entries_.size() < policy_.max_entries) return;
  auto stalest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
    return a.second.last_seen_ms < b.second.last_seen_ms;
  });
  entries_.erase(stalest);
}

}  // namespace betterdev::auth
