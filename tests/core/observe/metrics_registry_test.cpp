#include "core/observe/metrics_registry.hpp"

#include <catch2/catch.hpp>

#include "core/observe/process_metrics.hpp"

namespace gatherd::core {
namespace {

const sdk::MetricFamily* find(const std::vector<sdk::MetricFamily>& families,
                              const std::string& name) {
  for (const auto& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("labelled counters, gauges and histograms come out with their description") {
  MetricsRegistry registry;
  registry.describe("gatherd_windows", sdk::MetricType::kCounter, "Windows");
  registry.describe("gatherd_lag_seconds", sdk::MetricType::kHistogram, "Lag", "seconds",
                    {1, 0.1, 0.01});
  registry.add("gatherd_windows", {{"source", "a"}, {"outcome", "ok"}});
  registry.add("gatherd_windows", {{"source", "a"}, {"outcome", "ok"}}, 2);
  registry.set("gatherd_queue", {{"sink", "db"}}, 7);
  for (double value : {0.005, 0.01, 0.05, 0.5, 3.0})
    registry.observe("gatherd_lag_seconds", {}, value);
  CHECK(registry.labelledValue("gatherd_windows", {{"source", "a"}, {"outcome", "ok"}}) == 3);
  CHECK(registry.labelledValue("gatherd_queue", {{"sink", "db"}}) == 7);

  std::vector<sdk::MetricFamily> families;
  registry.collect(families);
  const auto* windows = find(families, "gatherd_windows");
  REQUIRE(windows != nullptr);
  CHECK(windows->type == sdk::MetricType::kCounter);
  CHECK(windows->help == "Windows");
  REQUIRE(windows->samples.size() == 1);
  CHECK(windows->samples[0].value == 3);
  const auto* lag = find(families, "gatherd_lag_seconds");
  REQUIRE(lag != nullptr);
  CHECK(lag->unit == "seconds");
  CHECK(lag->bounds == std::vector<double>{0.01, 0.1, 1});
  REQUIRE(lag->samples.size() == 1);
  // le is inclusive: 0.01 falls into the 0.01 bucket; 3.0 only into +Inf.
  CHECK(lag->samples[0].bucket_counts == std::vector<std::uint64_t>{2, 3, 4});
  CHECK(lag->samples[0].count == 5);
  CHECK(lag->samples[0].sum == Approx(3.565));
  const auto* queue = find(families, "gatherd_queue");
  REQUIRE(queue != nullptr);
  CHECK(queue->type == sdk::MetricType::kGauge);
}

TEST_CASE("refreshers move their counts in before every read, until they say they are done") {
  MetricsRegistry registry;
  registry.describe("gatherd_test_requests", sdk::MetricType::kCounter, "Requests");
  int pending = 0;  // what a component counted on its own since the last read
  int calls = 0;
  bool owner_alive = true;
  registry.addRefresher([&] {
    ++calls;
    if (!owner_alive) return false;
    if (pending > 0) registry.add("gatherd_test_requests", {}, pending);
    pending = 0;
    return true;
  });
  pending = 3;
  REQUIRE(registry.labelledValue("gatherd_test_requests", {}) == 3);
  pending = 2;
  std::vector<sdk::MetricFamily> families;
  registry.collect(families);
  const auto* requests = find(families, "gatherd_test_requests");
  REQUIRE(requests != nullptr);
  REQUIRE(requests->samples.size() == 1);
  REQUIRE(requests->samples[0].value == 5);
  REQUIRE(calls == 2);
  // Gone: asked once more, then never again.
  owner_alive = false;
  pending = 7;
  REQUIRE(registry.labelledValue("gatherd_test_requests", {}) == 5);
  REQUIRE(registry.labelledValue("gatherd_test_requests", {}) == 5);
  REQUIRE(calls == 3);
}

TEST_CASE("a family keeps a bounded number of series and the refused ones are counted") {
  MetricsRegistry registry;
  registry.describe("gatherd_things", sdk::MetricType::kCounter, "Things");
  for (std::size_t i = 0; i < MetricsRegistry::kMaxSeriesPerFamily + 500; ++i) {
    registry.add("gatherd_things", {{"id", std::to_string(i)}});
  }
  std::vector<sdk::MetricFamily> families;
  registry.collect(families);
  CHECK(find(families, "gatherd_things")->samples.size() == MetricsRegistry::kMaxSeriesPerFamily);
  const auto* refused = find(families, "gatherd_metric_series_refused");
  REQUIRE(refused != nullptr);
  CHECK(refused->samples.at(0).value == 500);
}

TEST_CASE("a series used with another type than its family's is ignored") {
  MetricsRegistry registry;
  registry.describe("gatherd_x", sdk::MetricType::kCounter, "X");
  registry.set("gatherd_x", {}, 5);
  registry.observe("gatherd_x", {}, 5);
  CHECK(registry.labelledValue("gatherd_x", {}) == 0);
}

TEST_CASE("plugin instances' series become gatherd_plugin_* with a plugin_instance label") {
  MetricsRegistry registry;
  InstanceMetrics source(registry, "acct");
  InstanceMetrics events(registry, "events");
  source.increment("records_emitted", 4);
  source.increment("Odd-Name", 1);
  events.setGauge("sse_clients", 3);
  registry.increment("plugin_errors", "acct");
  std::vector<sdk::MetricFamily> families;
  registry.collect(families);
  const auto* emitted = find(families, "gatherd_plugin_records_emitted");
  REQUIRE(emitted != nullptr);
  CHECK(emitted->type == sdk::MetricType::kCounter);
  CHECK(emitted->samples.at(0).labels == sdk::MetricLabels{{"plugin_instance", "acct"}});
  CHECK(emitted->samples.at(0).value == 4);
  const auto* clients = find(families, "gatherd_plugin_sse_clients");
  REQUIRE(clients != nullptr);
  CHECK(clients->type == sdk::MetricType::kGauge);
  CHECK(find(families, "gatherd_plugin_odd_name") != nullptr);
  CHECK(find(families, "gatherd_plugin_errors") != nullptr);
  CHECK(registry.value("records_emitted", "acct") == 4);
}

TEST_CASE("process metrics read this process") {
  std::vector<sdk::MetricFamily> families;
  collectProcessMetrics(families);
  const auto* rss = find(families, "process_resident_memory_bytes");
  REQUIRE(rss != nullptr);
  CHECK(rss->samples.at(0).value > 1'000'000);
  const auto* fds = find(families, "process_open_fds");
  REQUIRE(fds != nullptr);
  CHECK(fds->samples.at(0).value >= 3);
  const auto* start = find(families, "process_start_time_seconds");
  REQUIRE(start != nullptr);
  CHECK(start->samples.at(0).value > 1.7e9);
  const auto* cpu = find(families, "process_cpu_seconds");
  REQUIRE(cpu != nullptr);
  CHECK(cpu->type == sdk::MetricType::kCounter);
  CHECK(find(families, "gatherd_process_threads")->samples.at(0).value >= 1);
}

}  // namespace gatherd::core
