// One thread that runs short callbacks at given times (protocol heartbeats and timeouts), so
// code without an event loop of its own can wait for nothing while holding no thread.
//
// Callbacks run on the queue's thread, one at a time, in deadline order: they must be short and
// must not block (queue work elsewhere). Thread-safe. The destructor drops what has not fired
// and waits for a running callback.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

namespace betterdev {

class TimerQueue {
 public:
  using Id = uint64_t;  // 0 is never a timer
  using Clock = std::chrono::steady_clock;

  TimerQueue();
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Runs `fn` once, `delay` from now.
  Id After(std::chrono::milliseconds delay, std::function<void()> fn);
  // Forgets a timer that has not fired; a no-op for one that fired, is running, or never was.
  void Cancel(Id id);
  // Timers waiting now.
  size_t pending() const;

 private:
  void Run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, std::pair<Id, std::function<void()>>> due_;  // guarded by mu_
  std::unordered_map<Id, Clock::time_point> when_;                              // guarded by mu_
  Id next_ = 1;                                                                 // guarded by mu_
  bool stopping_ = false;                                                       // guarded by mu_
  std::thread thread_;
};

}  // namespace betterdev
