#pragma once
// Small helpers to build the metric families of telemetry.hpp.

#include <string>
#include <utility>

#include "gatherd/sdk/telemetry.hpp"

namespace gatherd::sdk {

/// A family without samples yet.
inline MetricFamily makeMetricFamily(std::string name, MetricType type, std::string help,
                                     std::string unit = {}) {
  MetricFamily family;
  family.name = std::move(name);
  family.type = type;
  family.help = std::move(help);
  family.unit = std::move(unit);
  return family;
}

/// Appends a counter or gauge sample.
inline void addMetricSample(MetricFamily& family, MetricLabels labels, double value) {
  MetricSample sample;
  sample.labels = std::move(labels);
  sample.value = value;
  family.samples.push_back(std::move(sample));
}

}  // namespace gatherd::sdk
