// Starts N worker processes, restarts one that dies, stops them on shutdown, and forwards the
// events they write to one pipe (see events.hpp).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/log.hpp"
#include "core/status.hpp"
#include "ingest/events.hpp"

namespace betterdev::ingest {

class Supervisor {
 public:
  using EventHandler = std::function<void(const IngestEvent&)>;

  // Each worker runs `argv` plus "--events-fd N" (the pipe's write end), `nice` steps below
  // this process's CPU priority (so request latency wins over document throughput).
  Supervisor(std::vector<std::string> argv, int count, int nice, EventHandler on_event, Logger& log);
  ~Supervisor();

  Status Start();
  // SIGTERM to every worker, SIGKILL to those still running after `grace_seconds`.
  void Stop(int grace_seconds);

  // Wakes one idle worker (a job was enqueued). Never blocks; thread-safe.
  void Wake();

  int running() const { return running_.load(); }
  int64_t restarts() const { return restarts_.load(); }

 private:
  struct Slot {
    pid_t pid = -1;
    int64_t started_ms = 0;
    int64_t restart_at_ms = 0;
    int backoff_ms = 1000;
  };
  Status Spawn(Slot& slot, int index);
  void Watch();
  void ReadEvents();
  void Reap(int64_t now_ms);
  void TerminateAll();

  std::vector<std::string> argv_;
  int nice_;
  EventHandler on_event_;
  Logger& log_;
  std::vector<Slot> slots_;  // guarded by mu_
  std::mutex mu_;
  int events_read_ = -1;
  int events_write_ = -1;
  int wake_read_ = -1;   // shared by the workers: one byte wakes one of them
  int wake_write_ = -1;
  std::string partial_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> grace_seconds_{0};
  std::atomic<int> running_{0};
  std::atomic<int64_t> restarts_{0};
  std::thread watcher_;
};

}  // namespace betterdev::ingest
