#include "realtime/hub.hpp"

#include <algorithm>

#include "core/time.hpp"

namespace betterdev::realtime {

EventHub::EventHub(EventLog& log, Logger& logger, HubOptions options)
    : log_(log), logger_(logger), options_(options) {}

EventHub::~EventHub() { Stop(); }

Status EventHub::Start() {
  auto last = log_.LastSeq();
  if (!last.ok()) return last.status();
  start_seq_ = *last;
  last_seq_ = *last;
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void EventHub::Stop() {
  {
    std::lock_guard lock(run_mu_);
    stopping_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventHub::Publish(Event e) {
  if (e.at_ms == 0) e.at_ms = SystemClock().NowMillis();
  if (Status s = log_.Append(e); !s.ok()) {
    logger_.Warn("event not published", {{"type", EventTypeName(e.type)}, {"error", s.message()}});
  }
  Wake();  // read it now rather than at the next poll
}

void EventHub::Wake() {
  {
    std::lock_guard lock(run_mu_);
    wake_ = true;
  }
  run_cv_.notify_all();
}

void EventHub::Run() {
  for (;;) {
    {
      std::unique_lock lock(run_mu_);
      if (stopping_) return;
    }
    for (;;) {  // drain what is there
      auto events = log_.ReadAfter(last_seq_.load(), 1000);
      if (!events.ok()) {
        logger_.Warn("cannot read the event log", {{"error", events.status().message()}});
        break;
      }
      if (events->empty()) break;
      Deliver(*events);
      if (events->size() < 1000) break;
    }
    std::unique_lock lock(run_mu_);
    if (stopping_) return;
    run_cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms), [this] { return stopping_ || wake_; });
    wake_ = false;
  }
}

void EventHub::Deliver(std::vector<Event>& events) {
  std::lock_guard lock(mu_);
  for (Event& e : events) {
    last_seq_ = e.seq;  // before subscribers hear it: whoever heard it sees delivered() >= its seq
    User& u = users_[e.user_id];
    u.last_active = ++tick_;
    if (u.window.empty() && u.oldest_known == 0) u.oldest_known = std::max(start_seq_, evicted_upto_);
    for (auto& [id, s] : u.subscribers) s->OnEvent(e);
    u.window.push_back(std::move(e));
    if (u.window.size() > options_.window) {
      u.oldest_known = u.window.front().seq;
      u.window.pop_front();
    }
  }
  if (users_.size() > options_.max_users) Evict();
}

void EventHub::Evict() {
  std::vector<std::pair<uint64_t, std::string>> idle;
  for (const auto& [id, u] : users_)
    if (u.subscribers.empty()) idle.emplace_back(u.last_active, id);
  std::sort(idle.begin(), idle.end());
  const size_t drop = std::min(idle.size(), users_.size() - options_.max_users * 9 / 10);
  for (size_t i = 0; i < drop; ++i) users_.erase(idle[i].second);
  evicted_upto_ = last_seq_.load();  // a forgotten user's events up to here are unknown now
}

EventHub::Subscription EventHub::Subscribe(const std::string& user_id, std::optional<uint64_t> last_seen,
                                           std::shared_ptr<Subscriber> s) {
  std::lock_guard lock(mu_);
  Subscription sub;
  sub.id = next_subscription_++;
  auto it = users_.find(user_id);
  if (last_seen) {
    // Events of this user after last_seen may have been dropped from the window, or have come
    // before this process started: then only re-reading state is safe.
    const uint64_t missing_upto =
        it == users_.end() ? std::max(start_seq_, evicted_upto_) : std::max(it->second.oldest_known, start_seq_);
    if (*last_seen < missing_upto || *last_seen > last_seq_.load()) {
      sub.resync = true;
      s->OnResync();
    } else if (it != users_.end()) {
      for (const Event& e : it->second.window)
        if (e.seq > *last_seen) s->OnEvent(e);
    }
  }
  User& u = users_[user_id];
  if (u.window.empty() && u.oldest_known == 0) u.oldest_known = std::max(start_seq_, evicted_upto_);
  u.subscribers.emplace(sub.id, std::move(s));
  u.last_active = ++tick_;
  ++subscriber_count_;
  return sub;
}

void EventHub::Unsubscribe(const std::string& user_id, uint64_t subscription_id) {
  std::lock_guard lock(mu_);
  auto it = users_.find(user_id);
  if (it == users_.end()) return;
  subscriber_count_ -= it->second.subscribers.erase(subscription_id);
}

size_t EventHub::subscribers() const {
  std::lock_guard lock(mu_);
  return subscriber_count_;
}

size_t EventHub::subscribers(const std::string& user_id) const {
  std::lock_guard lock(mu_);
  auto it = users_.find(user_id);
  return it == users_.end() ? 0 : it->second.subscribers.size();
}

}  // namespace betterdev::realtime
