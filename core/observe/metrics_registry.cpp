#include "core/observe/metrics_registry.hpp"

namespace gatherd::core {

void MetricsRegistry::increment(std::string_view name, std::string_view instance,
                                std::int64_t by) {
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(std::string(name), std::string(instance));
  auto& sample = series_[key];
  sample.name = key.first;
  sample.instance = key.second;
  sample.counter = true;
  sample.value += static_cast<double>(by);
}

void MetricsRegistry::setGauge(std::string_view name, std::string_view instance, double value) {
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(std::string(name), std::string(instance));
  auto& sample = series_[key];
  sample.name = key.first;
  sample.instance = key.second;
  sample.counter = false;
  sample.value = value;
}

double MetricsRegistry::value(std::string_view name, std::string_view instance) const {
  std::lock_guard lock(mutex_);
  auto it = series_.find(std::make_pair(std::string(name), std::string(instance)));
  return it == series_.end() ? 0 : it->second.value;
}

std::vector<MetricsRegistry::Sample> MetricsRegistry::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<Sample> samples;
  samples.reserve(series_.size());
  for (const auto& [key, sample] : series_) samples.push_back(sample);
  return samples;
}

}  // namespace gatherd::core
