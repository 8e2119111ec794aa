// Over 500 lines: the whole [gatherd]/[http]/[alerts] schema, its validation and check-config's
// description, kept together so a key is declared once.
#include "core/config/daemon_config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <utility>

#include "core/config/redaction.hpp"
#include "core/config/text_util.hpp"

namespace gatherd::core {

namespace {

using sdk::ConfigKey;
using sdk::ConfigSchema;
using sdk::ConfigType;
using ValueMap = std::map<std::string, std::string, std::less<>>;

constexpr std::int64_t kMinIntervalMs = 100;
constexpr int kMaxParallelLimit = 256;
constexpr std::string_view kSourcePrefix = "source.";
constexpr std::string_view kSinkPrefix = "sink.";

std::string resolvePath(const std::string& dir, const std::string& value) {
  std::filesystem::path path(value);
  if (path.is_relative()) path = std::filesystem::path(dir) / path;
  std::string text = path.lexically_normal().string();
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

std::string joinList(const std::vector<std::string>& items, std::string_view separator) {
  std::string text;
  for (const auto& item : items) {
    if (!text.empty()) text += separator;
    text += item;
  }
  return text;
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string unknownKeyMessage(const std::string& key, const ConfigSchema& schema,
                              const std::string& owner) {
  std::string message = "unknown key for " + owner;
  const ConfigKey* closest = nullptr;
  std::size_t best = 3;  // suggest only near misses (typos), not unrelated keys
  for (const auto& candidate : schema) {
    const auto distance = editDistance(key, candidate.name);
    if (distance < best) {
      best = distance;
      closest = &candidate;
    }
  }
  if (closest != nullptr) message += " (did you mean '" + closest->name + "'?)";
  std::vector<std::string> names;
  for (const auto& candidate : schema) names.push_back(candidate.name);
  message += "; accepted keys: " + (names.empty() ? std::string("none") : joinList(names, ", "));
  return message;
}

// Checks `value` against `key`. On success returns nullopt and leaves `value` in the form the sdk
// getters read back (canonical ints and bools, absolute paths); otherwise returns the reason.
// Secret values are never quoted in a reason.
std::optional<std::string> checkValue(const ConfigKey& key, std::string& value,
                                      const std::string& dir) {
  const std::string got = key.secret ? std::string() : ", got \"" + value + "\"";
  if (value.empty() && key.required) return "must not be empty";
  switch (key.type) {
    case ConfigType::kString: break;
    case ConfigType::kInt: {
      std::string_view digits(value);
      if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
      std::int64_t number = 0;
      const auto [end, error] =
          std::from_chars(digits.data(), digits.data() + digits.size(), number);
      if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
        return "expected an integer" + got;
      }
      value = std::to_string(number);
      break;
    }
    case ConfigType::kDouble: {
      double number = 0;
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
      if (value.empty() || error != std::errc() || end != value.data() + value.size() ||
          !std::isfinite(number)) {
        return "expected a number" + got;
      }
      break;
    }
    case ConfigType::kBool: {
      const auto flag = sdk::parseBool(value);
      if (!flag) return "expected true/false, yes/no, on/off or 1/0" + got;
      value = *flag ? "true" : "false";
      break;
    }
    case ConfigType::kDuration:
      if (!sdk::parseDurationMs(value)) {
        return "expected a duration such as 100ms, 10s, 1m or 2h (a bare number is seconds)" + got;
      }
      break;
    case ConfigType::kPath:
      if (!value.empty()) value = resolvePath(dir, value);
      break;
  }
  if (!key.choices.empty() &&
      std::find(key.choices.begin(), key.choices.end(), value) == key.choices.end()) {
    return "expected one of: " + joinList(key.choices, ", ") + got;
  }
  return std::nullopt;
}

struct SectionContext {
  const std::string& file;
  const std::string& dir;
  const std::string& section;
  int line;
  std::string owner;  // "plugin 'xychatai'" or "[gatherd]", for messages
};

ValueMap validateEntries(const SectionContext& context, const std::vector<IniEntry>& entries,
                         const ConfigSchema& schema, std::set<std::string>& secrets) {
  ValueMap values;
  for (const auto& entry : entries) {
    const auto key = std::find_if(schema.begin(), schema.end(), [&](const ConfigKey& candidate) {
      return candidate.name == entry.key;
    });
    if (key == schema.end()) {
      throw ConfigError(context.file, entry.line, context.section, entry.key,
                        unknownKeyMessage(entry.key, schema, context.owner));
    }
    std::string value = entry.value;
    if (auto reason = checkValue(*key, value, context.dir)) {
      throw ConfigError(context.file, entry.line, context.section, entry.key, *reason);
    }
    if (key->secret && !value.empty()) secrets.insert(value);
    values.insert_or_assign(entry.key, std::move(value));
  }
  for (const auto& key : schema) {
    if (values.find(key.name) != values.end()) continue;
    if (!key.default_value.empty()) {
      std::string value = key.default_value;
      if (auto reason = checkValue(key, value, context.dir)) {
        throw ConfigError(context.file, context.line, context.section, key.name,
                          "the default of " + context.owner + " is invalid: " + *reason);
      }
      if (key.secret) secrets.insert(value);
      values.emplace(key.name, std::move(value));
    } else if (key.required) {
      throw ConfigError(context.file, context.line, context.section, key.name,
                        "required key is missing (" + context.owner + ")");
    }
  }
  return values;
}

int lineOf(const std::vector<IniEntry>& entries, const std::string& key, int fallback) {
  for (const auto& entry : entries) {
    if (entry.key == key) return entry.line;
  }
  return fallback;
}

ConfigKey makeKey(std::string name, ConfigType type, std::string default_value,
                  std::string description, bool secret = false,
                  std::vector<std::string> choices = {}) {
  ConfigKey key;
  key.name = std::move(name);
  key.type = type;
  key.default_value = std::move(default_value);
  // Core keys with a default must not be set to an empty value: there is no "unset" for them.
  key.required = !key.default_value.empty();
  key.secret = secret;
  key.description = std::move(description);
  key.choices = std::move(choices);
  return key;
}

bool isValidInstanceName(std::string_view name) noexcept {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// host:port with port 0..65535; an IPv6 host needs brackets ("[::1]:8080").
std::optional<std::string> checkBind(const std::string& bind) {
  const auto colon = bind.rfind(':');
  if (colon == std::string::npos || colon == 0) return "expected host:port, got \"" + bind + "\"";
  const std::string host = bind.substr(0, colon);
  const std::string port = bind.substr(colon + 1);
  if (host.find(':') != std::string::npos && (host.front() != '[' || host.back() != ']')) {
    return "an IPv6 address needs brackets, e.g. [::1]:8080; got \"" + bind + "\"";
  }
  unsigned number = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || number > 65535) {
    return "expected a port 0..65535 after ':', got \"" + bind + "\"";
  }
  return std::nullopt;
}

class Loader {
  int http_line_ = 0;

 public:
  Loader(DaemonConfig& config, EnvLookup env) : config_(config), env_(std::move(env)) {}

  void load(const IniDocument& document) {
    bool has_gatherd = false;
    bool has_http = false;
    bool has_alerts = false;
    for (const auto& section : document.sections) {
      if (section.name == "gatherd") {
        applyGatherd(section, expandEntries(section));
        has_gatherd = true;
      } else if (section.name == "http") {
        applyHttp(section, expandEntries(section));
        has_http = true;
      } else if (section.name == "alerts") {
        applyAlerts(section, expandEntries(section));
        has_alerts = true;
      } else if (section.name.rfind(kSourcePrefix, 0) == 0) {
        addInstance(section, InstanceSection::Kind::kSource, kSourcePrefix);
      } else if (section.name.rfind(kSinkPrefix, 0) == 0) {
        addInstance(section, InstanceSection::Kind::kSink, kSinkPrefix);
      } else {
        throw ConfigError(config_.file, section.line, section.name, "",
                          "unknown section (expected [gatherd], [http], [alerts], [source.<name>] "
                          "or [sink.<name>])");
      }
    }
    // The defaults of a section the file leaves out (they live in its schema only).
    if (!has_gatherd) applyGatherd(IniSection{"gatherd", 0, {}}, {});
    if (!has_http) applyHttp(IniSection{"http", 0, {}}, {});
    if (!has_alerts) applyAlerts(IniSection{"alerts", 0, {}}, {});
    if (config_.http_token.empty()) {
      if (auto token = env_(kHttpTokenVariable); token && !token->empty()) {
        config_.http_token = *token;
        config_.secret_values.insert(*token);
      }
    }
    if (!isLoopbackBind(config_.http_bind) && config_.http_token.empty() &&
        !config_.http_allow_open) {
      throw ConfigError(
          config_.file, http_line_, "http", "bind",
          "bind = " + config_.http_bind +
              " serves the dashboard and API beyond this machine, but no token is set: set "
              "[http] token = ${GATHERD_HTTP_TOKEN} or export GATHERD_HTTP_TOKEN=<a long random "
              "value> (e.g. `openssl rand -hex 32`), or set [http] allow_open = true to serve "
              "it without a token (only behind something that authenticates)");
    }
  }

 private:
  std::vector<IniEntry> expandEntries(const IniSection& section) const {
    std::vector<IniEntry> expanded = section.entries;
    for (auto& entry : expanded) {
      entry.value = expandVariables(
          entry.value, env_, ConfigLocation{config_.file, entry.line, section.name, entry.key});
    }
    return expanded;
  }

  [[noreturn]] void fail(const IniSection& section, const std::vector<IniEntry>& entries,
                         const std::string& key, const std::string& message) const {
    throw ConfigError(config_.file, lineOf(entries, key, section.line), section.name, key, message);
  }

  void applyGatherd(const IniSection& section, const std::vector<IniEntry>& entries) {
    const SectionContext context{config_.file, config_.dir, section.name, section.line,
                                 "[gatherd]"};
    const sdk::Config values("gatherd", validateEntries(context, entries, gatherdSectionSchema(),
                                                        config_.secret_values));
    config_.interval_ms = values.getDurationMs("interval");
    if (config_.interval_ms < kMinIntervalMs) {
      fail(section, entries, "interval", "must be at least 100ms");
    }
    config_.timeout_ms = values.getDurationMs("timeout");
    if (config_.timeout_ms <= 0) fail(section, entries, "timeout", "must be more than 0");
    const auto max_parallel = values.getInt("max_parallel");
    if (max_parallel < 1 || max_parallel > kMaxParallelLimit) {
      fail(section, entries, "max_parallel", "must be between 1 and 256");
    }
    config_.max_parallel = static_cast<int>(max_parallel);
    config_.plugin_dir = values.getString("plugin_dir");
    config_.data_dir = values.getString("data_dir");
    config_.log_level = values.getString("log_level");
    config_.shutdown_grace_ms = values.getDurationMs("shutdown_grace");
    config_.spool_max_bytes = values.getInt("spool_max_bytes");
    if (config_.spool_max_bytes < (1 << 20)) {
      fail(section, entries, "spool_max_bytes", "must be at least 1048576 (1 MiB)");
    }
    config_.memory_queue_max_bytes = values.getInt("memory_queue_max_bytes");
    if (config_.memory_queue_max_bytes < (1 << 20)) {
      fail(section, entries, "memory_queue_max_bytes", "must be at least 1048576 (1 MiB)");
    }
    config_.spool_fsync = values.getBool("spool_fsync");
  }

  void applyHttp(const IniSection& section, const std::vector<IniEntry>& entries) {
    const SectionContext context{config_.file, config_.dir, section.name, section.line, "[http]"};
    const sdk::Config values(
        "http", validateEntries(context, entries, httpSectionSchema(), config_.secret_values));
    config_.http_bind = values.getString("bind");
    if (auto reason = checkBind(config_.http_bind)) fail(section, entries, "bind", *reason);
    config_.http_web_root = values.getString("web_root");
    config_.http_token = values.getString("token");
    config_.http_cors_origins = config_detail::splitList(values.getString("cors_origins"), ',');
    config_.http_hosts = config_detail::splitList(values.getString("hosts"), ',');
    config_.http_allow_open = values.getBool("allow_open");
    http_line_ = section.line;
    const auto threads = values.getInt("threads");
    if (threads < 1 || threads > 4) fail(section, entries, "threads", "must be between 1 and 4");
    config_.http_threads = static_cast<int>(threads);
    auto duration = [&](const char* key, std::int64_t& out) {
      out = values.getDurationMs(key);
      if (out < 10 || out > 3'600'000) fail(section, entries, key, "must be between 10ms and 1h");
    };
    duration("header_timeout", config_.http_header_timeout_ms);
    duration("body_timeout", config_.http_body_timeout_ms);
    duration("keepalive_timeout", config_.http_keepalive_timeout_ms);
    auto bounded = [&](const char* key, std::int64_t min, std::int64_t max, std::int64_t& out) {
      out = values.getInt(key);
      if (out < min || out > max) {
        fail(section, entries, key,
             "must be between " + std::to_string(min) + " and " + std::to_string(max));
      }
    };
    bounded("max_uri_bytes", 256, 1 << 20, config_.http_max_uri_bytes);
    bounded("max_header_bytes", 1024, 1 << 20, config_.http_max_header_bytes);
    bounded("max_headers", 8, 10'000, config_.http_max_headers);
    bounded("max_body_bytes", 1024, 64 << 20, config_.http_max_body_bytes);
    bounded("max_connections", 16, 1'000'000, config_.http_max_connections);
    config_.http_session_ttl_ms = values.getDurationMs("session_ttl");
    if (config_.http_session_ttl_ms < 1'000)
      fail(section, entries, "session_ttl", "must be at least 1s");
    config_.http_trusted_proxies =
        config_detail::splitList(values.getString("trusted_proxies"), ',');
  }

  void applyAlerts(const IniSection& section, const std::vector<IniEntry>& entries) {
    const SectionContext context{config_.file, config_.dir, section.name, section.line, "[alerts]"};
    const sdk::Config values(
        "alerts", validateEntries(context, entries, alertsSectionSchema(), config_.secret_values));
    auto& alerts = config_.alerts;
    alerts.enabled = values.getBool("enabled");
    alerts.failure_window_ms = values.getDurationMs("failure_window");
    if (alerts.failure_window_ms < 60'000) {
      fail(section, entries, "failure_window", "must be at least 1m");
    }
    alerts.failure_min_calls = values.getInt("failure_min_calls");
    if (alerts.failure_min_calls < 1)
      fail(section, entries, "failure_min_calls", "must be at least 1");
    alerts.failure_ratio = values.getDouble("failure_ratio");
    if (!(alerts.failure_ratio >= 0 && alerts.failure_ratio < 1)) {
      fail(section, entries, "failure_ratio", "must be at least 0 and below 1");
    }
    alerts.source_down_windows = values.getInt("source_down");
    if (alerts.source_down_windows < 1) fail(section, entries, "source_down", "must be at least 1");
    alerts.quota_remaining = values.getDouble("quota_remaining");
    if (!(alerts.quota_remaining >= 0 && alerts.quota_remaining < 1)) {
      fail(section, entries, "quota_remaining", "must be at least 0 and below 1 (0.1 = 10%)");
    }
    alerts.forecast_window_ms = values.getDurationMs("forecast_window");
    if (alerts.forecast_window_ms < 3'600'000) {
      fail(section, entries, "forecast_window", "must be at least 1h");
    }
    alerts.expiry_warn_ms = values.getDurationMs("expiry_warn");
  }

  void addInstance(const IniSection& section, InstanceSection::Kind kind, std::string_view prefix) {
    const std::string name = section.name.substr(prefix.size());
    if (!isValidInstanceName(name)) {
      throw ConfigError(
          config_.file, section.line, section.name, "",
          "invalid instance name '" + name + "' (use lower-case letters, digits, '_' and '-')");
    }
    // Instance names label logs, metrics and API results whatever their kind: one name, one
    // instance.
    if (const auto seen = instance_lines_.find(name); seen != instance_lines_.end()) {
      throw ConfigError(config_.file, section.line, section.name, "",
                        "duplicate instance name '" + name + "' (already used by [" +
                            seen->second.first + "] at line " +
                            std::to_string(seen->second.second) + ")");
    }
    instance_lines_.emplace(name, std::make_pair(section.name, section.line));

    InstanceSection instance;
    instance.kind = kind;
    instance.name = name;
    instance.section = section.name;
    instance.line = section.line;
    for (const auto& entry : section.entries) {
      if (entry.value.find('$') != std::string::npos) instance.unexpanded[entry.key] = entry.value;
    }
    bool has_plugin = false;
    for (auto& entry : expandEntries(section)) {
      if (entry.key == "plugin") {
        if (entry.value.empty()) {
          throw ConfigError(config_.file, entry.line, section.name, "plugin",
                            "must name a plugin id");
        }
        instance.plugin = std::move(entry.value);
        has_plugin = true;
      } else {
        instance.entries.push_back(std::move(entry));
      }
    }
    if (!has_plugin) {
      throw ConfigError(config_.file, section.line, section.name, "plugin",
                        "missing 'plugin = <id>' (which plugin runs this instance)");
    }
    auto& list = kind == InstanceSection::Kind::kSource ? config_.sources : config_.sinks;
    list.push_back(std::move(instance));
  }

  DaemonConfig& config_;
  EnvLookup env_;
  std::map<std::string, std::pair<std::string, int>> instance_lines_;
};

void describeLine(std::ostringstream& out, const std::string& key, const std::string& value,
                  const std::string& note = {}) {
  out << key << " = " << value;
  if (!note.empty()) out << (value.empty() ? "" : "  ") << "; " << note;
  out << '\n';
}

void describeInstance(std::ostringstream& out, const DaemonConfig& config,
                      const InstanceSection& instance, const ConfigSchema* schema) {
  out << '\n' << '[' << instance.section << "]\n";
  describeLine(out, "plugin", instance.plugin);
  if (schema == nullptr) {
    out << "; plugin '" << instance.plugin << "' is not loaded: keys not checked\n";
    for (const auto& entry : instance.entries) {
      // Which keys are secret is unknown here, so anything that came from the environment is
      // shown as written.
      const auto raw = instance.unexpanded.find(entry.key);
      if (raw != instance.unexpanded.end()) {
        describeLine(out, entry.key, raw->second, "not expanded: plugin unknown");
      } else {
        describeLine(out, entry.key, entry.value);
      }
    }
    return;
  }
  for (const auto& key : *schema) {
    const auto given = std::find_if(instance.entries.begin(), instance.entries.end(),
                                    [&](const IniEntry& entry) { return entry.key == key.name; });
    const bool is_given = given != instance.entries.end();
    std::string value = is_given ? given->value : key.default_value;
    std::string note;
    if (!is_given && value.empty()) {
      note = key.required ? "MISSING (required)" : "not set";
    } else if (auto reason = checkValue(key, value, config.dir)) {
      note = "INVALID: " + *reason;
    } else if (!is_given) {
      note = "default";
    }
    if (key.secret && !value.empty()) value = "***";
    describeLine(out, key.name, value, note);
  }
  for (const auto& entry : instance.entries) {
    const bool known = std::any_of(schema->begin(), schema->end(),
                                   [&](const ConfigKey& key) { return key.name == entry.key; });
    if (!known) describeLine(out, entry.key, entry.value, "UNKNOWN key");
  }
}

}  // namespace

const sdk::ConfigSchema& gatherdSectionSchema() {
  static const ConfigSchema schema = {
      makeKey("interval", ConfigType::kDuration, "10s",
              "how often each source is polled (at least 100ms)"),
      makeKey("timeout", ConfigType::kDuration, "60s", "hard deadline of one poll"),
      makeKey("max_parallel", ConfigType::kInt, "6", "polls in flight at most, in total (1..256)"),
      makeKey("plugin_dir", ConfigType::kPath, "/usr/lib/gatherd/plugins",
              "folder the plugin libraries are loaded from"),
      makeKey("data_dir", ConfigType::kPath, "../data", "folder for data files (databases)"),
      makeKey("log_level", ConfigType::kString, "info", "least severe level that is logged", false,
              {"trace", "debug", "info", "warn", "error"}),
      makeKey("shutdown_grace", ConfigType::kDuration, "5s",
              "how long stopping waits for work in flight"),
      makeKey("spool_max_bytes", ConfigType::kInt, "268435456",
              "bytes of the durable spool of each sink that keeps one (oldest dropped beyond)"),
      makeKey("memory_queue_max_bytes", ConfigType::kInt, "67108864",
              "bytes of batches each sink may hold in memory"),
      makeKey("spool_fsync", ConfigType::kBool, "true",
              "sync the spool to disk after every batch (false: faster, a power cut may lose "
              "the last batches)"),
  };
  return schema;
}

const sdk::ConfigSchema& httpSectionSchema() {
  static const ConfigSchema schema = {
      makeKey("bind", ConfigType::kString, "127.0.0.1:8080",
              "host:port the HTTP server listens on (port 0: any free port)"),
      makeKey("web_root", ConfigType::kPath, "../web/dist", "folder of the dashboard files"),
      makeKey("token", ConfigType::kString, "", "bearer token for /api (empty: no auth)", true),
      makeKey("cors_origins", ConfigType::kString, "",
              "comma-separated origins allowed to call the API from a browser"),
      makeKey("hosts", ConfigType::kString, "",
              "comma-separated Host names answered besides localhost, 127.0.0.1 and [::1] "
              "(only when not bound to loopback)"),
      makeKey("allow_open", ConfigType::kBool, "false",
              "serve a non-loopback bind without a token"),
      makeKey("threads", ConfigType::kInt, "2", "threads that serve every connection (1..4)"),
      makeKey("header_timeout", ConfigType::kDuration, "10s",
              "the request line and headers must arrive within it"),
      makeKey("body_timeout", ConfigType::kDuration, "10s",
              "a request body must arrive, and a response be taken, within it"),
      makeKey("keepalive_timeout", ConfigType::kDuration, "30s",
              "an idle keep-alive connection is closed after it"),
      makeKey("max_uri_bytes", ConfigType::kInt, "8192", "longer request targets get 414"),
      makeKey("max_header_bytes", ConfigType::kInt, "16384", "larger header sections get 431"),
      makeKey("max_headers", ConfigType::kInt, "100", "more header fields get 431"),
      makeKey("max_body_bytes", ConfigType::kInt, "1048576", "larger request bodies get 413"),
      makeKey("max_connections", ConfigType::kInt, "4096",
              "open connections (event streams included); more get 503"),
      makeKey("session_ttl", ConfigType::kDuration, "720h",
              "lifetime of a dashboard login (720h = 30 days)"),
      makeKey("trusted_proxies", ConfigType::kString, "",
              "comma-separated proxy addresses whose X-Forwarded-Proto/-For are believed"),
  };
  return schema;
}

bool isLoopbackBind(const std::string& bind) {
  const auto colon = bind.rfind(':');
  std::string host = colon == std::string::npos ? bind : bind.substr(0, colon);
  if (host == "localhost" || host == "[::1]") return true;
  // 127.0.0.0/8
  return host.rfind("127.", 0) == 0 && std::all_of(host.begin(), host.end(), [](char c) {
           return c == '.' || (c >= '0' && c <= '9');
         });
}

const sdk::ConfigSchema& alertsSectionSchema() {
  static const ConfigSchema schema = {
      makeKey("enabled", ConfigType::kBool, "true", "evaluate the alert rules"),
      makeKey("failure_window", ConfigType::kDuration, "15m",
              "failures: the span whose failed share is watched (at least 1m)"),
      makeKey("failure_min_calls", ConfigType::kInt, "5",
              "failures: calls in the span needed before the share counts"),
      makeKey("failure_ratio", ConfigType::kDouble, "0.5",
              "failures: fires when the failed share is above this (0..1)"),
      makeKey("source_down", ConfigType::kInt, "6",
              "source_down: consecutive windows not ok before it fires"),
      makeKey("quota_remaining", ConfigType::kDouble, "0.1",
              "quota: fires when the remaining share of the limit is below this (0.1 = 10%)"),
      makeKey("forecast_window", ConfigType::kDuration, "24h",
              "quota: the spending rate of this span forecasts when the plan runs out"),
      makeKey("expiry_warn", ConfigType::kDuration, "72h",
              "plan_expiry: fires when the plan expires within this"),
  };
  return schema;
}

DaemonConfig loadDaemonConfig(const std::string& path, std::optional<EnvLookup> env) {
  std::error_code error;
  const auto absolute = std::filesystem::absolute(path, error);
  if (error) throw ConfigError(path, 0, "", "", "cannot resolve path: " + error.message());
  DaemonConfig config;
  config.file = absolute.lexically_normal().string();
  config.dir = absolute.lexically_normal().parent_path().string();

  const IniDocument document = parseIniFile(config.file);
  Loader loader(config, env ? std::move(*env) : makeEnvLookup(config.dir));
  loader.load(document);
  return config;
}

sdk::Config validateInstance(DaemonConfig& config, const InstanceSection& section,
                             const sdk::ConfigSchema& schema) {
  const SectionContext context{config.file, config.dir, section.section, section.line,
                               "plugin '" + section.plugin + "'"};
  return sdk::Config(section.name,
                     validateEntries(context, section.entries, schema, config.secret_values));
}

std::string describeConfig(const DaemonConfig& config,
                           const std::map<std::string, sdk::ConfigSchema>& schema_by_plugin) {
  std::ostringstream out;
  out << "; gatherd configuration: " << config.file << '\n';
  out << "; effective values; secrets are shown as ***\n";
  out << "\n[gatherd]\n";
  describeLine(out, "interval", formatDuration(config.interval_ms));
  describeLine(out, "timeout", formatDuration(config.timeout_ms));
  describeLine(out, "max_parallel", std::to_string(config.max_parallel));
  describeLine(out, "plugin_dir", config.plugin_dir);
  describeLine(out, "data_dir", config.data_dir);
  describeLine(out, "log_level", config.log_level);
  describeLine(out, "shutdown_grace", formatDuration(config.shutdown_grace_ms));
  describeLine(out, "spool_max_bytes", std::to_string(config.spool_max_bytes));
  describeLine(out, "memory_queue_max_bytes", std::to_string(config.memory_queue_max_bytes));
  describeLine(out, "spool_fsync", config.spool_fsync ? "true" : "false");
  out << "\n[http]\n";
  describeLine(out, "bind", config.http_bind);
  describeLine(out, "web_root", config.http_web_root);
  if (config.http_token.empty()) {
    describeLine(out, "token", "", "not set: the API needs no token");
  } else {
    describeLine(out, "token", "***");
  }
  describeLine(out, "cors_origins", joinList(config.http_cors_origins, ", "));
  describeLine(out, "hosts", joinList(config.http_hosts, ", "));
  describeLine(out, "allow_open", config.http_allow_open ? "true" : "false");
  describeLine(out, "threads", std::to_string(config.http_threads));
  describeLine(out, "header_timeout", formatDuration(config.http_header_timeout_ms));
  describeLine(out, "body_timeout", formatDuration(config.http_body_timeout_ms));
  describeLine(out, "keepalive_timeout", formatDuration(config.http_keepalive_timeout_ms));
  describeLine(out, "max_uri_bytes", std::to_string(config.http_max_uri_bytes));
  describeLine(out, "max_header_bytes", std::to_string(config.http_max_header_bytes));
  describeLine(out, "max_headers", std::to_string(config.http_max_headers));
  describeLine(out, "max_body_bytes", std::to_string(config.http_max_body_bytes));
  describeLine(out, "max_connections", std::to_string(config.http_max_connections));
  describeLine(out, "session_ttl", formatDuration(config.http_session_ttl_ms));
  describeLine(out, "trusted_proxies", joinList(config.http_trusted_proxies, ", "));
  out << "\n[alerts]\n";
  describeLine(out, "enabled", config.alerts.enabled ? "true" : "false");
  describeLine(out, "failure_window", formatDuration(config.alerts.failure_window_ms));
  describeLine(out, "failure_min_calls", std::to_string(config.alerts.failure_min_calls));
  describeLine(out, "failure_ratio", std::to_string(config.alerts.failure_ratio));
  describeLine(out, "source_down", std::to_string(config.alerts.source_down_windows));
  describeLine(out, "quota_remaining", std::to_string(config.alerts.quota_remaining));
  describeLine(out, "forecast_window", formatDuration(config.alerts.forecast_window_ms));
  describeLine(out, "expiry_warn", formatDuration(config.alerts.expiry_warn_ms));
  for (const auto* list : {&config.sources, &config.sinks}) {
    for (const auto& instance : *list) {
      const auto schema = schema_by_plugin.find(instance.plugin);
      describeInstance(out, config, instance,
                       schema == schema_by_plugin.end() ? nullptr : &schema->second);
    }
  }
  // Defence in depth: a secret may also hide inside a key that is not marked secret.
  return maskSecrets(out.str(), config.secret_values);
}

std::string formatDuration(std::int64_t duration_ms) {
  constexpr std::pair<std::int64_t, const char*> kUnits[] = {
      {3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}};
  if (duration_ms != 0) {
    for (const auto& [scale, unit] : kUnits) {
      if (duration_ms % scale == 0) return std::to_string(duration_ms / scale) + unit;
    }
  }
  return std::to_string(duration_ms) + "ms";
}

}  // namespace gatherd::core
