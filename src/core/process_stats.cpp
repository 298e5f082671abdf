#include "core/process_stats.hpp"

#include <unistd.h>

#include <cstdio>

#include "core/metrics.hpp"
#include "core/time.hpp"

namespace betterdev {

ProcessMemory ReadProcessMemory() {
  ProcessMemory m;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return m;
  unsigned long long pages_virtual = 0, pages_resident = 0;
  if (std::fscanf(f, "%llu %llu", &pages_virtual, &pages_resident) == 2) {
    auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    m.virtual_bytes = pages_virtual * page;
    m.resident_bytes = pages_resident * page;
  }
  std::fclose(f);
  return m;
}

void RegisterProcessMetrics(MetricsRegistry& registry) {
  registry.DeclareGauge("betterdev_process_resident_memory_bytes", "Resident set size of this process.");
  registry.DeclareGauge("betterdev_process_virtual_memory_bytes", "Virtual memory size of this process.");
  registry.DeclareGauge("betterdev_process_start_time_seconds", "Start time of the process since the Unix epoch.");
  double start = static_cast<double>(SystemClock().NowMillis()) / 1000.0;
  registry.AddCollector([start](MetricsRegistry& r) {
    ProcessMemory m = ReadProcessMemory();
    r.Set("betterdev_process_resident_memory_bytes", "", static_cast<double>(m.resident_bytes));
    r.Set("betterdev_process_virtual_memory_bytes", "", static_cast<double>(m.virtual_bytes));
    r.Set("betterdev_process_start_time_seconds", "", start);
  });
}

}  // namespace betterdev
