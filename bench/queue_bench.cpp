// Throughput of no-op jobs through the SQLite queue (file on disk, WAL): each job is enqueued,
// leased and completed. Items/s in the output is jobs/s, against wall-clock time (much of a
// job's cost is I/O wait, which CPU time would hide).
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "queue/sqlite/sqlite_queue.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::queue {
namespace {

std::unique_ptr<JobQueue> OpenOrDie(const testutil::TempDir& dir, const Clock& clock, bool sync_full) {
  auto q = OpenSqliteQueue(dir.File("queue.db"), clock, {.synchronous_full = sync_full});
  if (!q.ok()) throw std::runtime_error(q.status().ToString());
  return std::move(*q);
}

// One thread does everything: enqueue, lease, complete, one job at a time.
// Arg: synchronous_full.
void BM_QueueRoundTrip(benchmark::State& state) {
  testutil::TempDir dir;
  SystemClock clock;
  auto q = OpenOrDie(dir, clock, state.range(0) != 0);
  for (auto _ : state) {
    auto id = q->Enqueue("NOOP", "{}", {});
    auto job = q->Lease("bench", 30000, LeaseFilter::kAny);
    if (!id.ok() || !job.ok() || !*job || !q->Complete(**job).ok()) state.SkipWithError("queue call failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QueueRoundTrip)->ArgName("sync_full")->Arg(0)->Arg(1)->UseRealTime();

// A producer enqueues a batch, then `consumers` threads lease and complete it. With
// separate_instances each consumer opens its own queue on the file, as worker processes would.
// Args: consumers, separate_instances.
void BM_QueueDrain(benchmark::State& state) {
  constexpr int kBatch = 1000;
  const int consumers = static_cast<int>(state.range(0));
  testutil::TempDir dir;
  SystemClock clock;
  auto producer = OpenOrDie(dir, clock, false);
  std::vector<std::unique_ptr<JobQueue>> own;
  for (int i = 0; state.range(1) != 0 && i < consumers; ++i) own.push_back(OpenOrDie(dir, clock, false));
  std::atomic<int> errors = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i)
      if (!producer->Enqueue("NOOP", "{}", {}).ok()) ++errors;
    std::vector<std::thread> threads;
    for (int c = 0; c < consumers; ++c) {
      JobQueue& q = own.empty() ? *producer : *own[static_cast<size_t>(c)];
      threads.emplace_back([&q, &errors] {
        for (;;) {
          auto job = q.Lease("bench", 30000, LeaseFilter::kAny);
          if (!job.ok()) ++errors;
          if (!job.ok() || !*job) return;
          if (!q.Complete(**job).ok()) ++errors;
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  if (errors > 0) state.SkipWithError("queue calls failed");
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_QueueDrain)
    ->ArgNames({"consumers", "separate_instances"})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({2, 1})
    ->Args({4, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
// Fair turns cost: 1,000 jobs of `groups` users (round-robin enqueue), one consumer drains them;
// each lease picks the group first (job_groups), then its job.
void BM_QueueDrainGroups(benchmark::State& state) {
  constexpr int kBatch = 1000;
  const int groups = static_cast<int>(state.range(0));
  testutil::TempDir dir;
  SystemClock clock;
  auto q = OpenOrDie(dir, clock, false);
  int errors = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i)
      if (!q->Enqueue("NOOP", "{}", {.group = "user-" + std::to_string(i % groups)}).ok()) ++errors;
    for (;;) {
      auto job = q->Lease("bench", 30000, LeaseFilter::kAny);
      if (!job.ok()) ++errors;
      if (!job.ok() || !*job) break;
      if (!q->Complete(**job).ok()) ++errors;
    }
  }
  if (errors > 0) state.SkipWithError("queue calls failed");
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_QueueDrainGroups)->ArgName("groups")->Arg(1)->Arg(100)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace betterdev::queue

BENCHMARK_MAIN();
