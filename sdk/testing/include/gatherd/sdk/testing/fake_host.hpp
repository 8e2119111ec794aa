#pragma once
// A Host for plugin unit tests: records logs, metrics, routes and auth reports.

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/store.hpp"
#include "gatherd/sdk/testing/manual_clock.hpp"

namespace gatherd::sdk::testing {

/// Records everything a plugin does with its host so tests can assert on it. Thread-safe.
class FakeHost final : public Host, public Logger, public Metrics {
 public:
  explicit FakeHost(std::string instance = "test", std::string data_dir = "/tmp")
      : instance_(std::move(instance)), data_dir_(std::move(data_dir)) {}

  struct LogLine {
    LogLevel level;
    std::string message;
  };
  struct AuthReport {
    AuthState state;
    std::string hint;
  };

  // Host
  const std::string& instanceName() const override { return instance_; }
  const std::string& version() const override { return version_; }
  const std::string& dataDir() const override { return data_dir_; }
  Logger& logger() override { return *this; }
  Metrics& metrics() override { return *this; }
  Clock& clock() override { return clock_; }
  Status registerRoute(const std::string& path, RouteHandler handler) override {
    return registerRoute(path, std::move(handler), RouteOptions{});
  }
  Status registerRoute(const std::string& path, RouteHandler handler,
                       const RouteOptions& options) override {
    std::lock_guard lock(mutex_);
    if (routes_.count(path) != 0) return Status::failure("route already registered: " + path);
    routes_[path] = std::move(handler);
    route_tokens_[path] = options.token;
    return Status::success();
  }
  const Telemetry* telemetry() const override { return telemetry_; }
  Status registerStreamRoute(const std::string& path, StreamRouteHandler handler) override {
    std::lock_guard lock(mutex_);
    if (stream_routes_.count(path) != 0)
      return Status::failure("route already registered: " + path);
    stream_routes_[path] = std::move(handler);
    return Status::success();
  }
  Store* store() override { return store_; }
  void reportAuthState(AuthState state, const std::string& hint) override {
    std::lock_guard lock(mutex_);
    auth_reports_.push_back({state, hint});
  }
  void addSecret(std::string_view secret) override {
    std::lock_guard lock(mutex_);
    added_secrets_.emplace_back(secret);
  }
  void requestSpool() override {
    std::lock_guard lock(mutex_);
    spool_requested_ = true;
  }
  void requestStreams(const std::vector<std::string>& streams) override {
    std::lock_guard lock(mutex_);
    requested_streams_ = streams;
  }
  void reportSinkHealth(SinkHealth health, const std::string& reason) override {
    std::lock_guard lock(mutex_);
    health_ = health;
    health_reason_ = reason;
  }

  // Logger
  void log(LogLevel level, std::string_view message) override {
    std::lock_guard lock(mutex_);
    logs_.push_back({level, std::string(message)});
  }
  bool enabled(LogLevel) const override { return true; }

  // Metrics
  void increment(std::string_view name, std::int64_t by) override {
    std::lock_guard lock(mutex_);
    counters_[std::string(name)] += by;
  }
  void setGauge(std::string_view name, double value) override {
    std::lock_guard lock(mutex_);
    gauges_[std::string(name)] = value;
  }

  // Test access
  ManualClock& manualClock() { return clock_; }
  void setStore(Store* store) { store_ = store; }
  void setTelemetry(const Telemetry* telemetry) { telemetry_ = telemetry; }
  /// The RouteOptions::token a route was registered with (empty: none).
  std::string routeToken(const std::string& path) const {
    std::lock_guard lock(mutex_);
    auto it = route_tokens_.find(path);
    return it == route_tokens_.end() ? std::string() : it->second;
  }
  std::vector<LogLine> logs() const {
    std::lock_guard lock(mutex_);
    return logs_;
  }
  /// Every log message joined with newlines: handy for "no secret anywhere" checks.
  std::string allLogText() const {
    std::lock_guard lock(mutex_);
    std::string text;
    for (const auto& line : logs_) text += line.message + "\n";
    return text;
  }
  std::int64_t counter(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = counters_.find(name);
    return it == counters_.end() ? 0 : it->second;
  }
  double gauge(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = gauges_.find(name);
    return it == gauges_.end() ? 0 : it->second;
  }
  bool spoolRequested() const {
    std::lock_guard lock(mutex_);
    return spool_requested_;
  }
  std::vector<std::string> requestedStreams() const {
    std::lock_guard lock(mutex_);
    return requested_streams_;
  }
  SinkHealth sinkHealth() const {
    std::lock_guard lock(mutex_);
    return health_;
  }
  std::string sinkHealthReason() const {
    std::lock_guard lock(mutex_);
    return health_reason_;
  }
  std::vector<AuthReport> authReports() const {
    std::lock_guard lock(mutex_);
    return auth_reports_;
  }
  /// What the plugin passed to addSecret(), in order.
  std::vector<std::string> addedSecrets() const {
    std::lock_guard lock(mutex_);
    return added_secrets_;
  }
  StreamRouteHandler streamRoute(const std::string& path) const {
    std::lock_guard lock(mutex_);
    auto it = stream_routes_.find(path);
    return it == stream_routes_.end() ? StreamRouteHandler{} : it->second;
  }
  RouteHandler route(const std::string& path) const {
    std::lock_guard lock(mutex_);
    auto it = routes_.find(path);
    return it == routes_.end() ? RouteHandler{} : it->second;
  }

 private:
  bool spool_requested_ = false;
  std::vector<std::string> requested_streams_;
  SinkHealth health_ = SinkHealth::kOk;
  std::string health_reason_;
  mutable std::mutex mutex_;
  std::string instance_;
  std::string data_dir_;
  std::string version_ = "0.0.0-test";
  ManualClock clock_;
  Store* store_ = nullptr;
  const Telemetry* telemetry_ = nullptr;
  std::vector<LogLine> logs_;
  std::map<std::string, std::int64_t> counters_;
  std::map<std::string, double> gauges_;
  std::vector<AuthReport> auth_reports_;
  std::vector<std::string> added_secrets_;
  std::map<std::string, RouteHandler> routes_;
  std::map<std::string, std::string> route_tokens_;
  std::map<std::string, StreamRouteHandler> stream_routes_;
};

}  // namespace gatherd::sdk::testing
