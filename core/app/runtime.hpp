#pragma once
// One running configuration: plugin instances, scheduler, pipeline and HTTP server, wired.

#include <atomic>
#include <iosfwd>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/app/core_telemetry.hpp"
#include "core/config/daemon_config.hpp"
#include "core/observe/logging.hpp"
#include "core/observe/metrics_registry.hpp"
#include "core/observe/source_status.hpp"
#include "core/plugins/plugin_host.hpp"
#include "core/plugins/plugin_instance.hpp"
#include "core/plugins/plugin_loader.hpp"

namespace gatherd::core {

class AlertEngine;
class HttpServer;
class Pipeline;
class Scheduler;
struct ScheduledSource;
class ServiceNotifier;

/// A start-up failure with the exit code the CLI should return.
class StartupError : public std::runtime_error {
 public:
  StartupError(const std::string& message, int exit_code)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exitCode() const { return exit_code_; }

 private:
  int exit_code_;
};

/// Exit codes, documented in the README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntimeError = 1;
inline constexpr int kExitConfigError = 2;
inline constexpr int kExitPollFailed = 3;

/// Builds and runs what a DaemonConfig describes. Not thread-safe: one controlling thread calls
/// everything (the app's signal loop).
class Runtime {
 public:
  enum class Mode {
    kService,    ///< sources, sinks, HTTP server, scheduler
    kOnce,       ///< sources only: poll each once, write nothing
    kAlertTest,  ///< webhook sinks only, initialised but not started (gatherd test-alert)
    kSinksOnly,  ///< every [sink.*] of the config, initialised, not started (gatherd migrate)
  };

  Runtime(Logging& logging, sdk::Clock& clock);
  ~Runtime();

  /// Validates every instance against its plugin, creates and initialises the instances.
  /// Throws StartupError (config errors: exit 2; a plugin refusing to start: exit 1).
  void build(DaemonConfig config, const PluginCatalog& catalog, Mode mode);
  /// systemd notifications (kService): STATUS= after every window, and WATCHDOG=1 from the
  /// scheduler's loop when systemd asks for it. Call before start(); `notifier` outlives this.
  void setNotifier(const ServiceNotifier* notifier) { notifier_ = notifier; }
  /// Starts sinks, the HTTP server, the pipeline, the sources and the scheduler.
  void start();
  /// One line for systemd's STATUS=: every source's last window outcome.
  std::string statusLine();
  /// Stops the scheduler (in-flight polls drain up to the grace period, the rest are recorded
  /// aborted), drains the pipeline, stops the plugins and the HTTP server. Idempotent.
  void stop();
  /// Applies a new config without losing the schedule's phase: [gatherd] timings and log level,
  /// and changed/added/removed source instances. Sink and [http] changes need a restart (logged).
  /// Throws StartupError when the new config cannot be applied; the old one then stays.
  void reload(DaemonConfig config, const PluginCatalog& catalog);
  /// Polls every source once, in parallel, and prints each record as a JSON line to `out` and
  /// each window result to `log`. Returns kExitOk when every window is ok, else kExitPollFailed.
  int pollOnce(std::ostream& out, std::ostream& log);

  /// The bound HTTP port (0 without a server).
  std::uint16_t httpPort() const;
  const DaemonConfig& config() const { return config_; }
  MetricsRegistry& metrics() { return metrics_; }
  const CoreTelemetry& telemetry() const { return telemetry_; }
  SourceStatusRegistry& sources() { return sources_; }
  /// The alert rules (nullptr in once mode).
  AlertEngine* alerts() { return alerts_.get(); }
  /// The sink instances, in ini order (kSinksOnly: the caller starts and uses them directly).
  const std::vector<std::shared_ptr<SinkInstance>>& sinks() const { return sinks_; }
  /// Writes `batch` to every sink of plugin `plugin` (all when `sink` is empty, else the one
  /// named `sink`), directly, without the pipeline. Returns one line per sink: name and result.
  /// Used by `gatherd test-alert`. Throws StartupError when no such sink exists.
  std::vector<std::pair<std::string, sdk::WriteResult>> writeDirect(const sdk::Batch& batch,
                                                                    const std::string& plugin,
                                                                    const std::string& sink);

 private:
  struct SourceEntry {
    std::shared_ptr<SourceInstance> instance;
    std::vector<IniEntry> entries;  // to tell whether a reload changed it
    std::string plugin;
  };
  /// Validates the section against its plugin's schema, creates the instance and runs init().
  template <class Instance>
  std::shared_ptr<Instance> makeInstance(const InstanceSection& section,
                                         const PluginCatalog& catalog, sdk::PluginKind kind);
  std::shared_ptr<SourceInstance> makeSource(const InstanceSection& section,
                                             const PluginCatalog& catalog);
  std::shared_ptr<SinkInstance> makeSink(const InstanceSection& section,
                                         const PluginCatalog& catalog);
  const LoadedPlugin& findPlugin(const InstanceSection& section, const PluginCatalog& catalog,
                                 sdk::PluginKind kind) const;
  void scheduleSources();
  /// Every source with the poll function the scheduler runs (the daemon's and `once`'s).
  std::vector<ScheduledSource> scheduledSources();
  void onWindowResult(sdk::Batch&& batch);
  /// Pipeline and spool counters into the sinks' statuses (for /api/sources and /ready).
  void fillSinkStats(std::vector<SinkStatus>& sinks);
  /// Resolves the open alerts of sources the config no longer has; their records are sent
  /// with the next window result.
  void retireAlerts();
  /// Appends the window's source's state as a source_status record when it changed.
  void publishSourceStatus(sdk::Batch& batch);

  Logging& logging_;
  sdk::Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  DaemonConfig config_;
  MetricsRegistry metrics_;
  SourceStatusRegistry sources_;
  CoreTelemetry telemetry_{metrics_, sources_, GATHERD_VERSION};
  std::unique_ptr<HostServices> services_;
  std::atomic<sdk::Store*> store_{nullptr};
  std::unique_ptr<AlertEngine> alerts_;
  std::mutex retired_alerts_mutex_;
  std::vector<sdk::Record> retired_alerts_;  ///< guarded by retired_alerts_mutex_
  std::unique_ptr<HttpServer> http_;
  std::mutex pipeline_mutex_;  // HTTP threads read the pipeline's stats while stop() ends it
  std::unique_ptr<Pipeline> pipeline_;
  std::unique_ptr<Scheduler> scheduler_;
  std::map<std::string, SourceEntry> source_entries_;  // by instance name
  std::vector<std::shared_ptr<SinkInstance>> sinks_;
  std::mutex outcome_mutex_;
  std::map<std::string, sdk::Outcome> last_outcome_;  // to log a failure once per change
  std::map<std::string, std::string> last_window_;    // by source: its last window, for STATUS=
  /// By source: the state last published as a source_status record (guarded by outcome_mutex_).
  std::map<std::string, SourceStatus> published_status_;
  const ServiceNotifier* notifier_ = nullptr;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace gatherd::core
