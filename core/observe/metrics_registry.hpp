#pragma once
// Counters and gauges of the core and of every plugin instance, labelled by instance.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gatherd/sdk/host.hpp"

namespace gatherd::core {

/// Thread-safe. Series are identified by (name, instance); values are read as a snapshot.
class MetricsRegistry {
 public:
  struct Sample {
    std::string name;
    std::string instance;
    double value = 0;
    bool counter = true;
  };

  void increment(std::string_view name, std::string_view instance, std::int64_t by = 1);
  void setGauge(std::string_view name, std::string_view instance, double value);
  /// 0 when the series does not exist.
  double value(std::string_view name, std::string_view instance) const;
  std::vector<Sample> snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Sample, std::less<>> series_;
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
