// Figures about this process, read from /proc (Linux).
#pragma once

#include <cstdint>

namespace betterdev {

struct ProcessMemory {
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
};

// Zeros when /proc is not readable.
ProcessMemory ReadProcessMemory();

// Registers betterdev_process_* gauges (memory, start time) with `registry`.
class MetricsRegistry;
void RegisterProcessMetrics(MetricsRegistry& registry);

}  // namespace betterdev
