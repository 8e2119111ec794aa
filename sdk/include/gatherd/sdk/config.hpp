#pragma once
// Config schema (what a plugin accepts) and the validated config view it receives.

#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gatherd::sdk {

/// The type of a config value; the host validates every value against it before init().
enum class ConfigType {
  kString,
  kInt,  ///< signed 64-bit decimal
  kDouble,
  kBool,      ///< true/false, yes/no, on/off, 1/0
  kDuration,  ///< "100ms", "10s", "1m", "2h"; a bare number is seconds
  kPath,      ///< a file system path; relative paths are resolved against the config's folder
};

inline const char* configTypeName(ConfigType type) noexcept {
  switch (type) {
    case ConfigType::kString: return "string";
    case ConfigType::kInt: return "int";
    case ConfigType::kDouble: return "double";
    case ConfigType::kBool: return "bool";
    case ConfigType::kDuration: return "duration";
    case ConfigType::kPath: return "path";
  }
  return "unknown";
}

/// One key a plugin accepts. Aggregate; plugins return a vector of these from their schema.
struct ConfigKey {
  std::string name;  ///< lower case, e.g. "base_url"
  ConfigType type = ConfigType::kString;
  std::string default_value;  ///< used when the key is absent (empty: no default)
  bool required = false;      ///< absent and no default -> a config error
  bool secret = false;        ///< masked in every log line and in `check-config` output
  std::string description;    ///< one line, shown by `gatherd plugins`
  /// For strings: the allowed values (empty: anything).
  std::vector<std::string> choices;
};

using ConfigSchema = std::vector<ConfigKey>;

/// Declares a key by what each setting means, not by position (since ABI 2.2):
///   sdk::key("busy_timeout", sdk::ConfigType::kDuration).byDefault("200ms")
///       .describedAs("how long a write waits for a lock")
/// and .required(), .secret(), .oneOf({...}). Converts to ConfigKey, so a schema function
/// returns `{sdk::key(...)..., sdk::key(...)...}`.
class ConfigKeyBuilder {
 public:
  ConfigKeyBuilder(std::string name, ConfigType type) {
    key_.name = std::move(name);
    key_.type = type;
  }
  /// Used when the key is absent.
  ConfigKeyBuilder& byDefault(std::string value) {
    key_.default_value = std::move(value);
    return *this;
  }
  /// One line, shown by `gatherd plugins` and `check-config`.
  ConfigKeyBuilder& describedAs(std::string description) {
    key_.description = std::move(description);
    return *this;
  }
  /// Absent and without a default: a config error.
  ConfigKeyBuilder& required() {
    key_.required = true;
    return *this;
  }
  /// Masked in every log line and in `check-config` output.
  ConfigKeyBuilder& secret() {
    key_.secret = true;
    return *this;
  }
  /// Strings: the only values accepted.
  ConfigKeyBuilder& oneOf(std::vector<std::string> choices) {
    key_.choices = std::move(choices);
    return *this;
  }
  operator ConfigKey() const { return key_; }  // NOLINT(google-explicit-constructor): by design

 private:
  ConfigKey key_;
};

inline ConfigKeyBuilder key(std::string name, ConfigType type) {
  return ConfigKeyBuilder(std::move(name), type);
}

/// Parses "100ms", "10s", "1m", "2h" or a bare number of seconds into milliseconds.
inline std::optional<std::int64_t> parseDurationMs(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  std::int64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || number < 0) return std::nullopt;
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::int64_t scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "ms")
    scale = 1;
  else if (unit == "m" || unit == "min")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  else
    return std::nullopt;
  if (number > INT64_MAX / scale) return std::nullopt;
  return number * scale;
}

/// Parses true/false, yes/no, on/off, 1/0 (case-insensitive).
inline std::optional<bool> parseBool(std::string_view text) noexcept {
  std::string lower;
  for (char c : text) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") return true;
  if (lower == "false" || lower == "no" || lower == "off" || lower == "0") return false;
  return std::nullopt;
}

/// The validated config of one plugin instance: every key of the schema with its value (given or
/// default; absent optional keys without default are missing). Values are already checked
/// against their type, so the typed getters only fail for keys the schema does not have.
/// Value type; the plugin may copy or keep it. Not synchronised: read it from one thread or
/// copy it.
class Config {
 public:
  Config() = default;
  Config(std::string instance, std::map<std::string, std::string, std::less<>> values)
      : instance_(std::move(instance)), values_(std::move(values)) {}

  /// The instance name ("xychatai" for [source.xychatai]).
  const std::string& instance() const noexcept { return instance_; }
  bool has(std::string_view key) const { return values_.find(key) != values_.end(); }
  std::string getString(std::string_view key, const std::string& fallback = {}) const {
    auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
  }
  std::int64_t getInt(std::string_view key, std::int64_t fallback = 0) const {
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    std::int64_t value = fallback;
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
    return value;
  }
  double getDouble(std::string_view key, double fallback = 0) const {
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    try {
      return std::stod(it->second);
    } catch (...) {
      return fallback;
    }
  }
  bool getBool(std::string_view key, bool fallback = false) const {
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    return parseBool(it->second).value_or(fallback);
  }
  std::int64_t getDurationMs(std::string_view key, std::int64_t fallback = 0) const {
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    return parseDurationMs(it->second).value_or(fallback);
  }
  const std::map<std::string, std::string, std::less<>>& values() const noexcept { return values_; }

 private:
  std::string instance_;
  std::map<std::string, std::string, std::less<>> values_;
};

/// `config` with the schema's default for every key it lacks. A plugin reads its settings
/// through this and calls the getters without a fallback, so each default is written once, in
/// its schema: the core already hands plugins configs with the defaults filled in, and this
/// keeps the plugin's own parsing (and its tests, which build configs by hand) on the same
/// defaults. Since ABI 2.4.
inline Config withDefaults(const Config& config, const ConfigSchema& schema) {
  std::map<std::string, std::string, std::less<>> values = config.values();
  for (const ConfigKey& key : schema) {
    if (!key.default_value.empty()) values.emplace(key.name, key.default_value);
  }
  return Config(config.instance(), std::move(values));
}

}  // namespace gatherd::sdk
