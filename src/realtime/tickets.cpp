#include "realtime/tickets.hpp"

#include "core/random.hpp"

namespace betterdev::realtime {

std::string Tickets::Issue(const std::string& user_id) {
  uint8_t bytes[32];
  SecureRandomBytes(bytes, sizeof bytes);
  std::string ticket = "bd_tk_" + Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
  const int64_t now = clock_.NowMillis();
  std::lock_guard lock(mu_);
  // Expired tickets go when new ones come: the map holds only the last minute's worth.
  for (auto it = live_.begin(); it != live_.end();) it = it->second.second < now ? live_.erase(it) : std::next(it);
  live_[ticket] = {user_id, now + ttl_ms_};
  return ticket;
}

std::optional<std::string> Tickets::Redeem(const std::string& ticket) {
  std::lock_guard lock(mu_);
  auto it = live_.find(ticket);
  if (it == live_.end()) return std::nullopt;
  auto [user, expiry] = it->second;
  live_.erase(it);
  if (expiry < clock_.NowMillis()) return std::nullopt;
  return user;
}

}  // namespace betterdev::realtime
