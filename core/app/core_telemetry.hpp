#pragma once
// The sdk::Telemetry the core gives plugins: its labelled metrics, the sources' state, the
// scheduler's and the pipeline's live numbers, process metrics and build info.

#include <atomic>
#include <string>
#include <vector>

#include "core/observe/metrics_registry.hpp"
#include "core/observe/source_status.hpp"
#include "gatherd/sdk/telemetry.hpp"

namespace gatherd::core {

class Pipeline;
class Scheduler;

/// Names of the core's metric families (documented in docs/metrics.md).
namespace metric {
inline constexpr const char* kWindows = "gatherd_windows";
inline constexpr const char* kRecordsSeen = "gatherd_records_seen";
inline constexpr const char* kRecordsEmitted = "gatherd_records_emitted";
inline constexpr const char* kRecordsRejected = "gatherd_records_rejected";
inline constexpr const char* kGaps = "gatherd_gaps_suspected";
inline constexpr const char* kClockJumps = "gatherd_window_clock_jumps";
inline constexpr const char* kWindowStartLag = "gatherd_window_start_lag_seconds";
inline constexpr const char* kPollDuration = "gatherd_poll_duration_seconds";
inline constexpr const char* kSinkWriteDuration = "gatherd_sink_write_duration_seconds";
inline constexpr const char* kSinkWrites = "gatherd_sink_writes";
}  // namespace metric

/// Thread-safe. Describes the core's families in `registry` at construction. The scheduler and
/// pipeline are attached once they exist (they are read, never owned).
class CoreTelemetry final : public sdk::Telemetry {
 public:
  CoreTelemetry(MetricsRegistry& registry, SourceStatusRegistry& sources, std::string version);

  void attach(const Scheduler* scheduler, const Pipeline* pipeline);
  void collect(std::vector<sdk::MetricFamily>& families) const override;
  std::vector<std::string> sourceNames() const override;

 private:
  /// Each sink's health, its queue and its spool (from the status registry's live snapshot).
  void collectSinkHealth(std::vector<sdk::MetricFamily>& families) const;

  MetricsRegistry& registry_;
  SourceStatusRegistry& sources_;
  std::string version_;
  std::atomic<const Scheduler*> scheduler_{nullptr};
  std::atomic<const Pipeline*> pipeline_{nullptr};
};

}  // namespace gatherd::core
