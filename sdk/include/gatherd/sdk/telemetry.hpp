#pragma once
// A read-only snapshot of the core's own numbers (windows, polls, pipeline, sources, process),
// for sinks that export them (prometheus), and the metric types they are described with.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gatherd::sdk {

enum class MetricType { kCounter, kGauge, kHistogram };

/// Label name -> value pairs, in the order they are written. Values are bounded sets (source
/// instance, model, outcome, ...), never a request id or an error text.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

/// One series of a family.
struct MetricSample {
  MetricLabels labels;
  double value = 0;  ///< counters and gauges
  /// Histograms: cumulative count of observations <= each bound of MetricFamily::bounds (same
  /// size); the +Inf bucket is `count`.
  std::vector<std::uint64_t> bucket_counts;
  double sum = 0;           ///< histograms: sum of every observation
  std::uint64_t count = 0;  ///< histograms: number of observations
};

/// A metric family: one name, one type, many labelled series.
struct MetricFamily {
  /// Full name in snake_case, e.g. "gatherd_windows" or "gatherd_poll_duration_seconds".
  /// Counters are named without the "_total" suffix: the exposition adds it.
  std::string name;
  MetricType type = MetricType::kGauge;
  std::string help;  ///< one line
  /// Base unit ("seconds", "bytes", "usd") or empty; when set, `name` ends with "_" + unit.
  std::string unit;
  std::vector<double> bounds;  ///< histograms: bucket upper bounds, ascending, without +Inf
  std::vector<MetricSample> samples;
};

/// What the core exposes about itself. Implemented by the core; obtained from Host::telemetry().
/// Thread-safe; lives as long as the Host.
class Telemetry {
 public:
  virtual ~Telemetry() = default;
  /// Appends every core metric family with its current values. Cheap: it reads counters and
  /// cached state, never the store, so it may be called on every scrape from any thread.
  virtual void collect(std::vector<MetricFamily>& families) const = 0;
  /// The configured source instance names (sorted).
  virtual std::vector<std::string> sourceNames() const = 0;
};

}  // namespace gatherd::sdk
