#include "ingest/lease_keeper.hpp"

#include <chrono>

namespace betterdev::ingest {

LeaseKeeper::LeaseKeeper(queue::JobQueue& queue, Logger& log, int64_t lease_ms)
    : queue_(queue), log_(log), lease_ms_(lease_ms), thread_([this] { Loop(); }) {}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void LeaseKeeper::Hold(const queue::Job& job) {
  {
    std::lock_guard lock(mu_);
    job_ = job;
    ++generation_;
    lost_.store(false, std::memory_order_release);
  }
  cv_.notify_all();
}

void LeaseKeeper::Drop() {
  std::lock_guard lock(mu_);
  job_.reset();
  ++generation_;
}

void LeaseKeeper::Loop() {
  const auto interval = std::chrono::milliseconds(lease_ms_ / 3);
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (!job_) {
      cv_.wait(lock, [&] { return stop_ || job_.has_value(); });
      continue;
    }
    // Renew outside the lock: Drop must not wait for the queue.
    const queue::Job job = *job_;
    const uint64_t generation = generation_;
    lock.unlock();
    const Status s = queue_.Extend(job, lease_ms_);
    lock.lock();
    if (generation != generation_) continue;  // dropped or replaced meanwhile
    if (s.code() == StatusCode::kNotFound) {
      lost_.store(true, std::memory_order_release);
      job_.reset();
      continue;
    }
    if (!s.ok()) log_.Warn("cannot extend the job lease", {{"job_id", job.id}, {"error", s.message()}});
    cv_.wait_for(lock, interval, [&] { return stop_ || generation != generation_; });
  }
}

}  // namespace betterdev::ingest
