// Events per second the real-time hub delivers: events appended to the SQLite event log (as
// workers do), read by the hub and handed to subscribers (as the SSE / WebSocket / Socket.IO
// channels are). Not a test.
//   ./build/release/bench/hub_bench [events = 20000] [users = 100] [subscribers per user = 10]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>

#include "core/log.hpp"
#include "core/time.hpp"
#include "realtime/hub.hpp"
#include "realtime/event_log.hpp"

using namespace betterdev;
using namespace betterdev::realtime;

namespace {
std::string Name(const char* prefix, long n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

class Counter final : public Subscriber {
 public:
  explicit Counter(std::atomic<uint64_t>& n) : n_(n) {}
  void OnEvent(const Event&) override { n_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t>& n_;
};
}  // namespace

int main(int argc, char** argv) {
  const int events = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int users = argc > 2 ? std::atoi(argv[2]) : 100;
  const int per_user = argc > 3 ? std::atoi(argv[3]) : 10;
  const std::string dir = Name("/tmp/betterdev-hub-bench-", ::getpid());
  std::filesystem::create_directories(dir);
  auto api_log = OpenSqliteEventLog(dir + "/events.db");
  auto worker_log = OpenSqliteEventLog(dir + "/events.db");
  if (!api_log.ok() || !worker_log.ok()) return 1;
  Logger logger(stderr, LogLevel::kWarn);
  EventHub hub(**api_log, logger);
  if (!hub.Start().ok()) return 1;
  std::atomic<uint64_t> delivered{0};
  for (int u = 0; u < users; ++u)
    for (int s = 0; s < per_user; ++s) hub.Subscribe(Name("user", u), std::nullopt, std::make_shared<Counter>(delivered));

  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < events; ++i) {
    Event e;
    e.type = EventType::kProcessing;
    e.user_id = Name("user", i % users);
    e.document_id = Name("doc", i);
    e.at_ms = SystemClock().NowMillis();
    e.stage = "extracting";
    e.progress = 50;
    if (!(*worker_log)->Append(e).ok()) return 1;
  }
  const auto appended = std::chrono::steady_clock::now();
  const uint64_t want = static_cast<uint64_t>(events) * per_user;
  while (delivered.load() < want) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto done = std::chrono::steady_clock::now();
  const double append_s = std::chrono::duration<double>(appended - start).count();
  const double total_s = std::chrono::duration<double>(done - start).count();
  std::printf("events %d, users %d, subscribers %d\n", events, users, users * per_user);
  std::printf("appended by a worker's log handle: %.0f events/s\n", events / append_s);
  std::printf("delivered (append to the last subscriber): %.0f events/s, %.0f deliveries/s\n", events / total_s,
              static_cast<double>(want) / total_s);
  hub.Stop();
  std::filesystem::remove_all(dir);
  return 0;
}
