// Short-lived, single-use tickets for browser connections: EventSource and WebSocket cannot set
// an Authorization header, and a long-lived token must never sit in a URL (or an access log).
// A client with a token asks for a ticket and puts it in the query string; the ticket works
// once, within its lifetime. Kept in this API process's memory (a ticket is redeemed where it
// was issued; the scale-out issue moves them to Redis). Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/time.hpp"

namespace betterdev::realtime {

class Tickets {
 public:
  explicit Tickets(const Clock& clock, int ttl_seconds = 60) : clock_(clock), ttl_ms_(int64_t{ttl_seconds} * 1000) {}
  int ttl_seconds() const { return static_cast<int>(ttl_ms_ / 1000); }
  // A new ticket for `user_id` (32 random bytes, base64url).
  std::string Issue(const std::string& user_id);
  // The ticket's user, once; nullopt when unknown, used or expired.
  std::optional<std::string> Redeem(const std::string& ticket);

 private:
  const Clock& clock_;
  int64_t ttl_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, std::pair<std::string, int64_t>> live_;  // ticket -> (user, expiry); guarded by mu_
};

}  // namespace betterdev::realtime
