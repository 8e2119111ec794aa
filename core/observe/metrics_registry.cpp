#include "core/observe/metrics_registry.hpp"

#include <algorithm>

namespace gatherd::core {
namespace {

constexpr const char* kRefusedFamily = "gatherd_metric_series_refused";

// Plugin metric names become part of a Prometheus name: [a-z0-9_] only.
std::string pluginFamilyName(const std::string& name) {
  std::string out = name.rfind("plugin_", 0) == 0 ? "gatherd_" : "gatherd_plugin_";
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    out.push_back(ok ? c : (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : '_');
  }
  return out;
}

}  // namespace

MetricsRegistry::MetricsRegistry() {
  describe(kRefusedFamily, sdk::MetricType::kCounter,
           "Label sets refused because a family already had the maximum number of series");
}

void MetricsRegistry::increment(std::string_view name, std::string_view instance, std::int64_t by) {
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

void MetricsRegistry::describe(const std::string& name, sdk::MetricType type, std::string help,
                               std::string unit, std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  if (families_.count(name) != 0) return;
  Family family;
  family.type = type;
  family.help = std::move(help);
  family.unit = std::move(unit);
  std::sort(bounds.begin(), bounds.end());
  family.bounds = std::move(bounds);
  families_.emplace(name, std::move(family));
}

// Caller holds mutex_.
MetricsRegistry::Series* MetricsRegistry::findSeries(std::string_view name,
                                                     const sdk::MetricLabels& labels,
                                                     sdk::MetricType type) {
  auto family = families_.find(name);
  if (family == families_.end()) {
    Family undocumented;
    undocumented.type = type;
    family = families_.emplace(std::string(name), std::move(undocumented)).first;
  }
  if (family->second.type != type) return nullptr;
  auto& series = family->second.series;
  auto it = series.find(labels);
  if (it != series.end()) return &it->second;
  if (series.size() >= kMaxSeriesPerFamily) {
    families_.find(kRefusedFamily)->second.series[{{"family", std::string(name)}}].value += 1;
    return nullptr;
  }
  Series fresh;
  fresh.buckets.assign(family->second.bounds.size(), 0);
  return &series.emplace(labels, std::move(fresh)).first->second;
}

void MetricsRegistry::add(std::string_view family, const sdk::MetricLabels& labels, double by) {
  std::lock_guard lock(mutex_);
  if (Series* series = findSeries(family, labels, sdk::MetricType::kCounter)) series->value += by;
}

void MetricsRegistry::set(std::string_view family, const sdk::MetricLabels& labels, double value) {
  std::lock_guard lock(mutex_);
  if (Series* series = findSeries(family, labels, sdk::MetricType::kGauge)) series->value = value;
}

void MetricsRegistry::observe(std::string_view family, const sdk::MetricLabels& labels,
                              double value) {
  std::lock_guard lock(mutex_);
  Series* series = findSeries(family, labels, sdk::MetricType::kHistogram);
  if (series == nullptr) return;
  const auto& bounds = families_.find(family)->second.bounds;
  const auto bucket = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
  if (static_cast<std::size_t>(bucket) < series->buckets.size()) ++series->buckets[bucket];
  series->sum += value;
  ++series->count;
}

void MetricsRegistry::addRefresher(std::function<bool()> refresh) {
  std::lock_guard lock(refreshers_mutex_);
  refreshers_.push_back(std::move(refresh));
}

void MetricsRegistry::refresh() const {
  std::lock_guard lock(refreshers_mutex_);
  refreshers_.erase(std::remove_if(refreshers_.begin(), refreshers_.end(),
                                   [](const std::function<bool()>& refresh) { return !refresh(); }),
                    refreshers_.end());
}

double MetricsRegistry::labelledValue(std::string_view name,
                                      const sdk::MetricLabels& labels) const {
  refresh();
  std::lock_guard lock(mutex_);
  auto family = families_.find(name);
  if (family == families_.end()) return 0;
  auto it = family->second.series.find(labels);
  if (it == family->second.series.end()) return 0;
  return family->second.type == sdk::MetricType::kHistogram ? static_cast<double>(it->second.count)
                                                            : it->second.value;
}

void MetricsRegistry::collect(std::vector<sdk::MetricFamily>& out) const {
  refresh();
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) {
    if (family.series.empty()) continue;
    sdk::MetricFamily exported;
    exported.name = name;
    exported.type = family.type;
    exported.help = family.help;
    exported.unit = family.unit;
    exported.bounds = family.bounds;
    exported.samples.reserve(family.series.size());
    for (const auto& [labels, series] : family.series) {
      sdk::MetricSample sample;
      sample.labels = labels;
      sample.value = series.value;
      if (family.type == sdk::MetricType::kHistogram) {
        std::uint64_t cumulative = 0;
        sample.bucket_counts.reserve(series.buckets.size());
        for (std::uint64_t count : series.buckets) {
          cumulative += count;
          sample.bucket_counts.push_back(cumulative);
        }
        sample.sum = series.sum;
        sample.count = series.count;
      }
      exported.samples.push_back(std::move(sample));
    }
    out.push_back(std::move(exported));
  }
  // Plugin series, grouped by name (series_ is ordered by name, then instance).
  sdk::MetricFamily* current = nullptr;
  std::string current_name;
  for (const auto& [key, sample] : series_) {
    if (current == nullptr || key.first != current_name) {
      current_name = key.first;
      out.push_back({});
      current = &out.back();
      current->name = pluginFamilyName(key.first);
      current->type = sample.counter ? sdk::MetricType::kCounter : sdk::MetricType::kGauge;
      current->help = "Reported by the plugin instance as '" + key.first + "'";
    }
    const bool counter = current->type == sdk::MetricType::kCounter;
    if (sample.counter != counter) continue;
    sdk::MetricSample exported;
    exported.labels = {{"plugin_instance", sample.instance}};
    exported.value = sample.value;
    current->samples.push_back(std::move(exported));
  }
}

}  // namespace gatherd::core
