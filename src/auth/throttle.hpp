// Slows repeated failed logins, per account and per client address.
//
// Up to `max_failures` failures inside `window` are free; each failure past that locks the
// key for base·2^(n−max) seconds (capped). While locked, every attempt — even with the right
// password — is refused with the seconds to wait. A success clears the account's record.
// Memory is bounded: at most `max_entries` keys, the stalest evicted first. Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/time.hpp"

namespace betterdev::auth {

struct ThrottlePolicy {
  int max_failures = 5;
  int64_t window_ms = 15 * 60 * 1000;
  int64_t lockout_base_ms = 2000;
  int64_t lockout_max_ms = 15 * 60 * 1000;
  size_t max_entries = 100000;
};

class Throttle {
 public:
  Throttle(ThrottlePolicy policy, const Clock& clock) : policy_(policy), clock_(clock) {}
  // 0 when `key` may try now, else whole seconds to wait (at least 1).
  int RetryAfterSeconds(const std::string& key);
  void RecordFailure(const std::string& key);
  void RecordSuccess(const std::string& key);

 private:
  struct Entry {
    int failures = 0;
    int64_t first_failure_ms = 0;
    int64_t locked_until_ms = 0;
    int64_t last_seen_ms = 0;
  };
  void EvictIfFull(int64_t now);  // requires mu_

  ThrottlePolicy policy_;
  const Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace betterdev::auth
