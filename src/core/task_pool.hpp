// A fixed set of threads running posted tasks in order of posting. For short CPU work that
// must not run on an I/O thread (retrieval and bookkeeping of a chat answer); never for
// waiting (waiting belongs to event loops). Thread-safe. The destructor runs what was posted
// before it, then joins.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace betterdev {

class TaskPool {
 public:
  // `nice` > 0 lowers the threads' CPU priority (Linux: per thread), so that under contention
  // the work posted here yields to request handling instead of delaying it.
  explicit TaskPool(int threads, int nice = 0);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  void Post(std::function<void()> task);
  size_t queued() const;

 private:
  void Run();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace betterdev
