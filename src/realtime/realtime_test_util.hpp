// Shared by the real-time tests: an event as a worker makes it, and a subscriber that records.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "realtime/event.hpp"
#include "realtime/hub.hpp"

namespace betterdev::realtime {

inline Event Ev(EventType type, std::string user, std::string doc, int progress = 0) {
  Event e;
  e.type = type;
  e.user_id = std::move(user);
  e.document_id = std::move(doc);
  e.at_ms = SystemClock().NowMillis();
  e.progress = progress;
  e.stage = progress > 0 ? "extracting" : "";
  return e;
}

class Recorder final : public Subscriber {
 public:
  void OnEvent(const Event& e) override {
    std::lock_guard lock(mu_);
    events_.push_back(e);
    cv_.notify_all();
  }
  std::vector<Event> WaitFor(size_t n, std::chrono::milliseconds t = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, t, [&] { return events_.size() >= n; });
    return events_;
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return events_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

}  // namespace betterdev::realtime
