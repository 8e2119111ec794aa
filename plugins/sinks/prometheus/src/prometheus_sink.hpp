#pragma once
// A sink that serves GET /metrics for Prometheus: the core's telemetry and the data counters.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "data_metrics.hpp"
#include "exposition.hpp"
#include "gatherd/sdk/sink.hpp"

namespace gatherd::plugins::prometheus {

sdk::ConfigSchema prometheusSchema();

class PrometheusSink final : public sdk::Sink {
 public:
  sdk::Status init(const sdk::Config& config, sdk::Host& host) override;
  sdk::Status start() override;
  sdk::WriteResult write(const sdk::Batch& batch) override;
  void stop() override {}

  /// The whole exposition a scrape gets (exposed for tests and the benchmark).
  std::string render(Format format) const;
  const DataMetrics& data() const { return *data_; }

 private:
  void handle(sdk::HttpExchange& exchange) const;
  void seedOnce();

  sdk::Host* host_ = nullptr;
  std::unique_ptr<DataMetrics> data_;
  bool core_ = true;
  std::once_flag seeded_;
};

}  // namespace gatherd::plugins::prometheus
