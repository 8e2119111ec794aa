#pragma once
// The process's own numbers in the names every Prometheus client library uses (process_*).

#include <vector>

#include "gatherd/sdk/telemetry.hpp"

namespace gatherd::core {

/// Appends process_cpu_seconds, process_resident_memory_bytes, process_virtual_memory_bytes,
/// process_open_fds, process_max_fds, process_start_time_seconds and gatherd_process_threads,
/// read from /proc/self and getrusage (a few small reads; no allocation beyond the families).
void collectProcessMetrics(std::vector<sdk::MetricFamily>& families);

/// The resident set size in bytes (field 24 of /proc/self/stat), 0 if it cannot be read.
double residentBytes();

}  // namespace gatherd::core
