// The betterdev side of bench/bullmq_bench.sh: no-op jobs through the Redis queue (BullMQ's
// layout and scripts) with `concurrency` lanes in one process, as betterdev's workers take them
// (Lease, Complete). The jobs are added by the driver with BullMQ's own Queue, data {"t": ms}.
//   redis_queue_bench drain   REDIS_URL CONCURRENCY JOBS   → {"jobs":N,"seconds":S}
//   redis_queue_bench latency REDIS_URL CONCURRENCY JOBS   → {"waits_ms":[...]} (add → start,
//                               lanes idle on BullMQ's marker while the driver adds)
#include <atomic>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/time.hpp"
#include "queue/redis/redis_queue.hpp"

using namespace betterdev;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: redis_queue_bench drain|latency REDIS_URL CONCURRENCY JOBS\n");
    return 2;
  }
  const std::string mode = argv[1];
  const int concurrency = std::atoi(argv[3]);
  const int jobs = std::atoi(argv[4]);
  auto url = redis::ParseRedisUrl(argv[2]);
  if (!url.ok()) return 2;
  SystemClock clock;
  queue::RedisQueueOptions o;
  o.url = *url;
  o.bullmq_dir = BETTERDEV_BULLMQ_DIR;
  auto q = queue::OpenRedisQueue(o, clock);
  if (!q.ok()) {
    std::fprintf(stderr, "%s\n", q.status().ToString().c_str());
    return 1;
  }
  std::atomic<int> done{0};
  std::mutex mu;
  std::vector<int64_t> waits;
  std::vector<std::thread> lanes;
  const int64_t start = clock.NowMillis();
  for (int i = 0; i < concurrency; ++i) {
    lanes.emplace_back([&, i] {
      const std::string id = "bench-" + std::to_string(i);
      while (done.load() < jobs) {
        auto job = (*q)->Lease(id, 30000, queue::LeaseFilter::kAny);
        if (!job.ok()) continue;
        if (!job->has_value()) {
          (*q)->WaitForWork(id, 200);
          continue;
        }
        if (mode == "latency") {
          const int64_t started = clock.NowMillis();
          const auto data = nlohmann::json::parse((*job)->payload, nullptr, false);
          std::lock_guard lock(mu);
          waits.push_back(started - data.value("t", started));
        }
        if ((*q)->Complete(**job, "null").ok()) done.fetch_add(1);
      }
    });
  }
  for (auto& t : lanes) t.join();
  const double seconds = static_cast<double>(clock.NowMillis() - start) / 1000;
  nlohmann::json out{{"jobs", done.load()}, {"seconds", seconds}};
  if (mode == "latency") out["waits_ms"] = waits;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
