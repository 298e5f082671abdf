// Renews the lease of the job a worker holds, from a thread of its own, for the whole life of
// the job: a parser, or an embedding provider that retries for minutes, cannot let it lapse.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "core/log.hpp"
#include "queue/queue.hpp"

namespace betterdev::ingest {

class LeaseKeeper {
 public:
  // Renews every lease_ms / 3 for lease_ms.
  LeaseKeeper(queue::JobQueue& queue, Logger& log, int64_t lease_ms);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Starts keeping `job`'s lease (renewing at once), until Drop.
  void Hold(const queue::Job& job);
  void Drop();
  // The queue answered that the lease is gone (the job was cancelled, its document deleted or
  // reprocessed, or another worker took it over): stop work on it and discard the results.
  bool lost() const { return lost_.load(std::memory_order_acquire); }

 private:
  void Loop();

  queue::JobQueue& queue_;
  Logger& log_;
  const int64_t lease_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<queue::Job> job_;  // guarded by mu_
  uint64_t generation_ = 0;        // guarded by mu_; changes with every Hold and Drop
  bool stop_ = false;              // guarded by mu_
  std::atomic<bool> lost_{false};
  std::thread thread_;
};

}  // namespace betterdev::ingest
