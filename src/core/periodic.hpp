// One thread that runs a callback every `interval` until destroyed (housekeeping: purging
// expired tokens). The first run is one interval after construction. The destructor wakes the
// thread and waits for a running callback; it never waits out an interval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace betterdev {

class Periodic {
 public:
  Periodic(std::chrono::milliseconds interval, std::function<void()> fn);
  ~Periodic();
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

 private:
  void Run();

  const std::chrono::milliseconds interval_;
  const std::function<void()> fn_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace betterdev
