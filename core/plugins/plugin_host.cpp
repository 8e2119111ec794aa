#include "core/plugins/plugin_host.hpp"

namespace gatherd::core {

PluginHost::PluginHost(HostServices& services, std::string instance, const std::string& logger_name)
    : services_(services),
      instance_(std::move(instance)),
      spdlog_(services.logging.get(logger_name)),
      logger_(spdlog_),
      metrics_(services.metrics, instance_) {}

sdk::Status PluginHost::registerRoute(const std::string& path, sdk::RouteHandler handler) {
  return registerRoute(path, std::move(handler), sdk::RouteOptions{});
}

sdk::Status PluginHost::registerRoute(const std::string& path, sdk::RouteHandler handler,
                                      const sdk::RouteOptions& options) {
  if (!services_.register_route) {
    return sdk::Status::failure("no HTTP server is running, so route " + path +
                                " cannot be served");
  }
  return services_.register_route(path, std::move(handler), options);
}

sdk::Status PluginHost::registerStreamRoute(const std::string& path,
                                            sdk::StreamRouteHandler handler) {
  if (!services_.register_stream_route) {
    return sdk::Status::failure("no HTTP server is running, so route " + path +
                                " cannot be served");
  }
  return services_.register_stream_route(path, std::move(handler));
}

sdk::Store* PluginHost::store() {
  return services_.store ? services_.store() : nullptr;
}

void PluginHost::reportAuthState(sdk::AuthState state, const std::string& hint) {
  // Logged once per change of state, not on every window.
  if (!services_.sources.setAuth(instance_, state, hint)) return;
  const std::string text = std::string("auth state is now ") + sdk::authStateName(state) +
                           (hint.empty() ? "" : ": " + hint);
  if (state == sdk::AuthState::kOk)
    spdlog_->info("{}", text);
  else
    spdlog_->warn("{}", text);
}

void PluginHost::addSecret(std::string_view secret) {
  services_.logging.secrets().learn(secret);
}

void PluginHost::reportSinkHealth(sdk::SinkHealth health, const std::string& reason) {
  const bool degraded = health == sdk::SinkHealth::kDegraded;
  if (!services_.sources.setSinkHealth(instance_, degraded, reason)) return;
  services_.metrics.increment(degraded ? "sink_degraded" : "sink_recovered", instance_);
  if (degraded)
    spdlog_->error("degraded: {}; batches wait (in the spool) until it recovers", reason);
  else
    spdlog_->info("healthy again");
}

}  // namespace gatherd::core
