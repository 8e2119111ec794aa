#pragma once
// The process's own numbers in the names every Prometheus client library uses (process_*).

#include <vector>

#include "gatherd/sdk/telemetry.hpp"

namespace gatherd::core {

/// Appends process_cpu_seconds, process_resident_memory_bytes, process_virtual_memory_bytes,
/// process_open_fds, process_max_fds, process_start_time_seconds and gatherd_process_threads,
/// read from /proc/self and getrusage (a few small reads; no allocation beyond the families).
void collectProcessMetrics(std::vector<sdk::MetricFamily>& families);

}  // namespace gatherd::core
