#include "core/periodic.hpp"

#include <utility>

namespace betterdev {

Periodic::Periodic(std::chrono::milliseconds interval, std::function<void()> fn)
    : interval_(interval), fn_(std::move(fn)), thread_([this] { Run(); }) {}

Periodic::~Periodic() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Periodic::Run() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    fn_();
    lock.lock();
  }
}

}  // namespace betterdev
