#pragma once
// Counters, gauges and histograms of the core (labelled families) and of every plugin instance
// (labelled by instance), read as a snapshot by the telemetry that /metrics exposes.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/telemetry.hpp"

namespace gatherd::core {

/// Thread-safe. Two kinds of series:
/// - labelled families of the core: describe() once, then add() / set() / observe(); each
///   family keeps at most kMaxSeriesPerFamily label sets (the rest is counted, not kept);
/// - plugin instances' series through sdk::Metrics, identified by (name, instance) and exposed
///   as gatherd_plugin_<name>{plugin_instance="..."} (Prometheus keeps `instance` for the target).
class MetricsRegistry {
 public:
  struct Sample {
    std::string name;
    std::string instance;
    double value = 0;
    bool counter = true;
  };
  /// Label sets beyond this many per family are refused (counted in
  /// gatherd_metric_series_refused_total): a bug that puts an unbounded value into a label
  /// costs a counter, not the process's memory.
  static constexpr std::size_t kMaxSeriesPerFamily = 2'000;

  MetricsRegistry();

  // Plugin instances' series.
  void increment(std::string_view name, std::string_view instance, std::int64_t by = 1);
  void setGauge(std::string_view name, std::string_view instance, double value);
  /// 0 when the series does not exist.
  double value(std::string_view name, std::string_view instance) const;
  std::vector<Sample> snapshot() const;

  // Labelled families.
  /// Declares a family; a second declaration of the same name is ignored. Histogram bounds
  /// ascending (seconds, bytes: base units).
  void describe(const std::string& name, sdk::MetricType type, std::string help,
                std::string unit = {}, std::vector<double> bounds = {});
  /// Adds to a counter (a family used before describe() becomes an undocumented counter).
  void add(std::string_view family, const sdk::MetricLabels& labels, double by = 1);
  /// Sets a gauge.
  void set(std::string_view family, const sdk::MetricLabels& labels, double value);
  /// Records one observation into a histogram.
  void observe(std::string_view family, const sdk::MetricLabels& labels, double value);
  /// A counter's or gauge's value, a histogram's count (0 when missing).
  double labelledValue(std::string_view family, const sdk::MetricLabels& labels) const;

  /// Appends every family: the labelled ones and the plugin instances' series.
  void collect(std::vector<sdk::MetricFamily>& families) const;

  /// `refresh` runs before each read of the labelled families (collect(), labelledValue()), on
  /// the reader's thread and without the registry's lock held, so that a component counting in
  /// its own atomics moves them in only when someone looks (instead of a timer waking it every
  /// second). It returns false once it has nothing left to refresh (its owner is gone); it is
  /// then dropped.
  void addRefresher(std::function<bool()> refresh);

 private:
  struct Series {
    double value = 0;
    std::vector<std::uint64_t> buckets;  // per bound, not cumulative
    double sum = 0;
    std::uint64_t count = 0;
  };
  struct Family {
    sdk::MetricType type = sdk::MetricType::kCounter;
    std::string help;
    std::string unit;
    std::vector<double> bounds;
    std::map<sdk::MetricLabels, Series> series;
  };
  Series* findSeries(std::string_view family, const sdk::MetricLabels& labels,
                     sdk::MetricType type);

  void refresh() const;

  mutable std::mutex refreshers_mutex_;  ///< taken before mutex_, never after
  mutable std::vector<std::function<bool()>> refreshers_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Sample, std::less<>> series_;
  std::map<std::string, Family, std::less<>> families_;
};

/// The sdk::Metrics view that one plugin instance gets: every series labelled with it.
class InstanceMetrics final : public sdk::Metrics {
 public:
  InstanceMetrics(MetricsRegistry& registry, std::string instance)
      : registry_(registry), instance_(std::move(instance)) {}
  void increment(std::string_view name, std::int64_t by) override {
    registry_.increment(name, instance_, by);
  }
  void setGauge(std::string_view name, double value) override {
    registry_.setGauge(name, instance_, value);
  }

 private:
  MetricsRegistry& registry_;
  std::string instance_;
};

}  // namespace gatherd::core
