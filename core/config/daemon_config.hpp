#pragma once
// The daemon's configuration: one ini file with [gatherd], [http], [source.<name>] and
// [sink.<name>] sections, ${VAR} expanded from the environment and .env files beside it.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/config/config_error.hpp"
#include "core/config/env_file.hpp"
#include "core/config/ini_file.hpp"
#include "gatherd/sdk/config.hpp"

namespace gatherd::core {

/// One [source.<name>] or [sink.<name>] section, not yet checked against its plugin's schema.
struct InstanceSection {
  enum class Kind { kSource, kSink };
  Kind kind = Kind::kSource;
  std::string name;               ///< "xychatai" for [source.xychatai]; matches [a-z0-9_-]+
  std::string plugin;             ///< the value of its `plugin` key
  std::string section;            ///< "source.xychatai"
  int line = 0;                   ///< line of the section header
  std::vector<IniEntry> entries;  ///< ${}-expanded, in file order, without the `plugin` key
  /// key -> the value as written, for keys whose value referenced a variable. describeConfig
  /// shows these instead of the expanded value when the plugin (and so its secret flags) is
  /// unknown.
  std::map<std::string, std::string> unexpanded;
};

// Every value is set by loadDaemonConfig from the schemas of [gatherd], [http] and [alerts]
// (daemon_config.cpp), which hold each default once: a section missing from the file is applied
// with no entries, so its defaults come from there too.
struct DaemonConfig {
  std::string file;  ///< absolute path of the ini
  std::string dir;   ///< absolute path of its folder
  std::int64_t interval_ms = 0;
  std::int64_t timeout_ms = 0;
  int max_parallel = 0;
  std::string plugin_dir;
  std::string data_dir;  ///< default "<dir>/../data"
  std::string log_level;
  std::int64_t shutdown_grace_ms = 0;
  std::int64_t spool_max_bytes = 0;         ///< per spooled sink, on disk
  std::int64_t memory_queue_max_bytes = 0;  ///< per sink, in memory
  bool spool_fsync = false;                 ///< fdatasync the spool after each batch
  std::string http_bind;
  std::string http_web_root;  ///< default "<dir>/../web/dist"
  std::string http_token;     ///< secret; empty = no auth
  std::vector<std::string> http_cors_origins;
  std::vector<std::string> http_hosts;  ///< Host names accepted besides the loopback names
  bool http_allow_open = false;         ///< serve a non-loopback bind without a token
  int http_threads = 0;
  std::int64_t http_header_timeout_ms = 0;
  std::int64_t http_body_timeout_ms = 0;
  std::int64_t http_keepalive_timeout_ms = 0;
  std::int64_t http_max_uri_bytes = 0;
  std::int64_t http_max_header_bytes = 0;
  std::int64_t http_max_headers = 0;
  std::int64_t http_max_body_bytes = 0;
  std::int64_t http_max_connections = 0;
  std::int64_t http_session_ttl_ms = 0;
  std::vector<std::string> http_trusted_proxies;
  /// [alerts]: thresholds of the alert rules (core/alerts).
  struct Alerts {
    bool enabled = false;
    std::int64_t failure_window_ms = 0;
    std::int64_t failure_min_calls = 0;
    double failure_ratio = 0;
    std::int64_t source_down_windows = 0;
    double quota_remaining = 0;
    std::int64_t forecast_window_ms = 0;
    std::int64_t expiry_warn_ms = 0;
  } alerts;
  std::vector<InstanceSection> sources;
  std::vector<InstanceSection> sinks;
  /// Every secret value seen so far: the http token, and plugin secrets once validateInstance
  /// has seen them. Feed this to maskSecrets before anything reaches a log or an output.
  std::set<std::string> secret_values;

  /// The plugin ids the [source.*] and [sink.*] sections use (what has to be loaded).
  std::set<std::string> pluginIds() const {
    std::set<std::string> ids;
    for (const auto* sections : {&sources, &sinks}) {
      for (const InstanceSection& section : *sections) ids.insert(section.plugin);
    }
    return ids;
  }
};

/// The keys [gatherd] and [http] accept, with their types and defaults (paths relative to the
/// config's folder). Used for validation and by describeConfig.
const sdk::ConfigSchema& gatherdSectionSchema();
const sdk::ConfigSchema& httpSectionSchema();
const sdk::ConfigSchema& alertsSectionSchema();

/// True when a [http] bind address ("host:port") only listens on this machine.
bool isLoopbackBind(const std::string& bind);

/// The environment variable that sets [http] token when the ini does not.
inline constexpr const char* kHttpTokenVariable = "GATHERD_HTTP_TOKEN";

/// Loads and checks the ini at `path`. Without `env`, variables come from makeEnvLookup(<dir of
/// path>). Throws ConfigError (file:line: [section] key: message) on the first problem.
DaemonConfig loadDaemonConfig(const std::string& path, std::optional<EnvLookup> env = std::nullopt);

/// Checks one instance section against its plugin's schema: unknown keys, values of the wrong
/// type (int, double, bool, duration, choices) and missing required keys are ConfigErrors with
/// file, line, section and key. Returns the validated config with defaults filled in and kPath
/// values made absolute against the config's folder; secret values are added to
/// `config.secret_values`.
sdk::Config validateInstance(DaemonConfig& config, const InstanceSection& section,
                             const sdk::ConfigSchema& schema);

/// A human-readable dump for `gatherd check-config`: every section and key with its effective
/// value; secrets (schema-marked or in `secret_values`) are shown as "***". Instances whose
/// plugin has no entry in `schema_by_plugin` are listed unchecked. Never throws ConfigError.
std::string describeConfig(const DaemonConfig& config,
                           const std::map<std::string, sdk::ConfigSchema>& schema_by_plugin);

/// "250ms", "10s", "5m", "2h": the largest unit that divides `duration_ms`.
std::string formatDuration(std::int64_t duration_ms);

}  // namespace gatherd::core
