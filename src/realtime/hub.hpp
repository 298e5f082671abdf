// The API process's event hub: tails the event log and hands each event to the subscribers of
// its user, keeping a bounded window of each user's recent events for clients that reconnect.
//
// A subscriber says what it saw last (an event id, or nothing): it is given the events after
// that from the window and then every new one, or, when that id is older than the window,
// told to re-read state (`resync`). A user's subscribers hear only that user's events.
// Delivering never blocks the hub: OnEvent must only queue (an HTTP stream's capped queue cuts
// off a client that stops reading). Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/log.hpp"
#include "realtime/event_log.hpp"

namespace betterdev::realtime {

class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // Called from the hub's thread (or, for the replay, from Subscribe's caller). Must not block.
  virtual void OnEvent(const Event& e) = 0;
  // Called at most once, from Subscribe, before any event: the events after the client's last
  // id are not all known here any more; it should re-read state.
  virtual void OnResync() {}
};

struct HubOptions {
  int poll_ms = 25;        // how often the log is read (the latency floor of a worker's event)
  size_t window = 256;     // recent events kept per user for reconnects
  size_t max_users = 100000;  // windows kept at most (the least recently active go first)
};

class EventHub {
 public:
  EventHub(EventLog& log, Logger& logger, HubOptions options = {});
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // Starts tailing the log from its current end (events from before the start are not
  // replayed: a restarted API tells reconnecting clients to re-read state).
  Status Start();
  void Stop();

  // Appends an event of this process (document.queued, document.deleted) to the log; it reaches
  // subscribers through the log like any other, so every API process sees the same order.
  void Publish(Event e);
  // Reads the log now instead of at the next poll: another process just appended to it (the
  // supervisor hears each of its workers' events).
  void Wake();

  struct Subscription {
    uint64_t id = 0;
    bool resync = false;  // the client's last id is older than the window: re-read state
  };
  // Registers `s` for `user_id`'s events. With `last_seen`, the window's events after it are
  // delivered first (in order, before any live event), or `resync` is set.
  Subscription Subscribe(const std::string& user_id, std::optional<uint64_t> last_seen, std::shared_ptr<Subscriber> s);
  void Unsubscribe(const std::string& user_id, uint64_t subscription_id);

  // Subscribers now (for metrics and limits), in all and of one user.
  size_t subscribers() const;
  size_t subscribers(const std::string& user_id) const;
  // The newest seq the hub has delivered (tests and benchmarks wait on it).
  uint64_t delivered() const { return last_seq_.load(); }

 private:
  struct User {
    std::deque<Event> window;
    uint64_t oldest_known = 0;  // the first seq this window may miss (events before it were dropped)
    std::map<uint64_t, std::shared_ptr<Subscriber>> subscribers;
    uint64_t last_active = 0;
  };
  void Run();
  void Deliver(std::vector<Event>& events);
  void Evict();  // mu_ held

  EventLog& log_;
  Logger& logger_;
  HubOptions options_;
  std::atomic<uint64_t> last_seq_{0};
  uint64_t start_seq_ = 0;

  mutable std::mutex mu_;
  std::unordered_map<std::string, User> users_;  // guarded by mu_
  uint64_t next_subscription_ = 1;               // guarded by mu_
  uint64_t tick_ = 0;                            // guarded by mu_
  size_t subscriber_count_ = 0;                  // guarded by mu_
  uint64_t evicted_upto_ = 0;                    // guarded by mu_

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;  // guarded by run_mu_
  bool wake_ = false;      // guarded by run_mu_
  std::thread thread_;
};

}  // namespace betterdev::realtime
