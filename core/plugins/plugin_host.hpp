#pragma once
// The sdk::Host each plugin instance gets, and the services behind it.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/observe/logging.hpp"
#include "core/observe/metrics_registry.hpp"
#include "core/observe/source_status.hpp"
#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/store.hpp"

namespace gatherd::core {

/// What the core shares with every plugin host. Owned by the app; outlives every host.
struct HostServices {
  Logging& logging;
  MetricsRegistry& metrics;
  sdk::Clock& clock;
  SourceStatusRegistry& sources;
  std::string data_dir;
  std::string version;
  /// Registers a plugin route with the HTTP server (fails when there is no server).
  std::function<sdk::Status(const std::string&, sdk::RouteHandler, const sdk::RouteOptions&)>
      register_route;
  /// The configured store, or nullptr.
  std::function<sdk::Store*()> store;
  /// The core's metrics for plugins that export them; nullptr when there are none.
  const sdk::Telemetry* telemetry = nullptr;
  /// Registers a plugin streaming route with the HTTP server (fails when there is no server).
  std::function<sdk::Status(const std::string&, sdk::StreamRouteHandler)> register_stream_route;
};

class PluginHost final : public sdk::Host {
 public:
  /// `logger_name` is e.g. "source.xychatai".
  PluginHost(HostServices& services, std::string instance, const std::string& logger_name);

  const std::string& instanceName() const override { return instance_; }
  const std::string& version() const override { return services_.version; }
  const std::string& dataDir() const override { return services_.data_dir; }
  sdk::Logger& logger() override { return logger_; }
  sdk::Metrics& metrics() override { return metrics_; }
  sdk::Clock& clock() override { return services_.clock; }
  sdk::Status registerRoute(const std::string& path, sdk::RouteHandler handler) override;
  sdk::Status registerRoute(const std::string& path, sdk::RouteHandler handler,
                            const sdk::RouteOptions& options) override;
  const sdk::Telemetry* telemetry() const override { return services_.telemetry; }
  sdk::Status registerStreamRoute(const std::string& path,
                                  sdk::StreamRouteHandler handler) override;
  sdk::Store* store() override;
  void reportAuthState(sdk::AuthState state, const std::string& hint) override;
  void addSecret(std::string_view secret) override;
  void requestSpool() override { spool_requested_ = true; }
  void requestStreams(const std::vector<std::string>& streams) override { streams_ = streams; }
  void reportSinkHealth(sdk::SinkHealth health, const std::string& reason) override;
  /// Whether the sink asked for the durable spool during init().
  bool spoolRequested() const { return spool_requested_; }
  /// The streams the sink asked for during init(); empty: every record.
  const std::vector<std::string>& requestedStreams() const { return streams_; }

 private:
  HostServices& services_;
  std::string instance_;
  std::shared_ptr<spdlog::logger> spdlog_;
  PluginLogger logger_;
  InstanceMetrics metrics_;
  bool spool_requested_ = false;
  std::vector<std::string> streams_;
};

}  // namespace gatherd::core
