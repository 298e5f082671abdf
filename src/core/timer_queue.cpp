#include "core/timer_queue.hpp"

namespace betterdev {

TimerQueue::TimerQueue() : thread_([this] { Run(); }) {}

TimerQueue::~TimerQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

TimerQueue::Id TimerQueue::After(std::chrono::milliseconds delay, std::function<void()> fn) {
  const Clock::time_point at = Clock::now() + delay;
  Id id;
  bool earliest;
  {
    std::lock_guard lock(mu_);
    id = next_++;
    earliest = due_.empty() || at < due_.begin()->first;
    due_.emplace(at, std::make_pair(id, std::move(fn)));
    when_.emplace(id, at);
  }
  if (earliest) cv_.notify_all();
  return id;
}

void TimerQueue::Cancel(Id id) {
  std::function<void()> dropped;  // destroyed outside the lock: it may own anything
  std::lock_guard lock(mu_);
  auto w = when_.find(id);
  if (w == when_.end()) return;
  auto [first, last] = due_.equal_range(w->second);
  for (auto it = first; it != last; ++it) {
    if (it->second.first == id) {
      dropped = std::move(it->second.second);
      due_.erase(it);
      break;
    }
  }
  when_.erase(w);
}

size_t TimerQueue::pending() const {
  std::lock_guard lock(mu_);
  return due_.size();
}

void TimerQueue::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (due_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = due_.begin();
    const Clock::time_point at = first->first;  // a copy: Cancel may erase the node while we wait
    if (Clock::now() < at) {
      cv_.wait_until(lock, at);
      continue;
    }
    std::function<void()> fn = std::move(first->second.second);
    when_.erase(first->second.first);
    due_.erase(first);
    lock.unlock();
    fn();
    fn = nullptr;
    lock.lock();
  }
  // Dropped timers are destroyed outside the lock (their captures may reach back here).
  auto rest = std::move(due_);
  lock.unlock();
}

}  // namespace betterdev
