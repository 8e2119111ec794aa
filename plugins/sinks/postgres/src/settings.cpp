#include "settings.hpp"

#include <charconv>
#include <tuple>

#include "gatherd/lib/storage/retention_keys.hpp"

namespace gatherd::plugins::postgres {
namespace {

sdk::Status readCount(const sdk::Config& config, const char* key, std::int64_t minimum,
                      std::int64_t maximum, std::int64_t& out) {
  if (!config.has(key)) return sdk::Status::success();
  const std::string text = config.getString(key);
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < minimum ||
      value > maximum) {
    return sdk::Status::failure("key '" + std::string(key) + "' must be an integer from " +
                                std::to_string(minimum) + " to " + std::to_string(maximum) +
                                ", got '" + text + "'");
  }
  out = value;
  return sdk::Status::success();
}

bool validIdentifier(const std::string& name) {
  if (name.empty() || name.size() > 48) return false;  // + "gatherd_" fits a channel name
  if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

}  // namespace

sdk::ConfigSchema settingsSchema() {
  using sdk::ConfigType;
  sdk::ConfigSchema schema = {
      sdk::key("dsn", ConfigType::kString)
          .required()
          .secret()
          .describedAs(
              "libpq connection string or URI, e.g. postgresql://gatherd:${PGPASSWORD}@db/gatherd"),
      sdk::key("schema", ConfigType::kString)
          .byDefault("gatherd")
          .describedAs("PostgreSQL schema holding gatherd's tables (created if missing)"),
      sdk::key("collector", ConfigType::kString)
          .describedAs(
              "this gatherd's name (default: the host name); qualifies a source name another "
              "collector already uses"),
      sdk::key("pool_size", ConfigType::kInt)
          .byDefault("4")
          .describedAs("read connections for API and SSE queries (1..64)"),
      sdk::key("sslmode", ConfigType::kString)
          .oneOf({"", "disable", "allow", "prefer", "require", "verify-ca", "verify-full"})
          .describedAs("libpq sslmode passed through (disable, allow, prefer, require, verify-ca, "
                       "verify-full)"),
  };
  storage::appendRetentionKeys(schema);
  return schema;
}

std::string withSslMode(const std::string& dsn, const std::string& sslmode) {
  if (sslmode.empty()) return dsn;
  if (dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0) {
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "sslmode=" + sslmode;
  }
  return dsn + (dsn.empty() ? "" : " ") + "sslmode=" + sslmode;
}

sdk::Status parseSettings(const sdk::Config& given, const std::string& host_name,
                          Settings& settings) {
  // Defaults come from the schema only (getters below take no fallback).
  const sdk::Config config = sdk::withDefaults(given, settingsSchema());
  const std::string dsn = config.getString("dsn");
  if (dsn.empty()) {
    return sdk::Status::failure("key 'dsn' is required (a libpq connection string or URI)");
  }
  settings.schema = config.getString("schema");
  if (!validIdentifier(settings.schema)) {
    return sdk::Status::failure(
        "key 'schema' must be a plain identifier (letters, digits, _; at most 48), got '" +
        settings.schema + "'");
  }
  settings.collector = config.getString("collector");
  if (settings.collector.empty()) settings.collector = host_name;
  if (settings.collector.empty()) settings.collector = "gatherd";
  if (settings.collector.find('/') != std::string::npos) {
    return sdk::Status::failure("key 'collector' must not contain '/'");
  }
  std::int64_t pool = settings.pool_size;
  if (auto status = readCount(config, "pool_size", 1, 64, pool); !status) return status;
  settings.pool_size = static_cast<int>(pool);
  const std::string sslmode = config.getString("sslmode");
  for (const char* allowed :
       {"", "disable", "allow", "prefer", "require", "verify-ca", "verify-full"}) {
    if (sslmode == allowed) {
      settings.conninfo = withSslMode(dsn, sslmode);
      break;
    }
  }
  if (settings.conninfo.empty()) {
    return sdk::Status::failure(
        "key 'sslmode' must be one of disable, allow, prefer, require, verify-ca, verify-full; "
        "got '" +
        sslmode + "'");
  }
  constexpr std::int64_t kMax = std::int64_t{1} << 40;
  for (auto [key, target, minimum] :
       {std::tuple{"raw_retention_days", &settings.raw_retention_days, std::int64_t{0}},
        std::tuple{"invocation_retention_days", &settings.invocation_retention_days,
                   std::int64_t{0}},
        std::tuple{"quota_thin_after_days", &settings.quota_thin_after_days, std::int64_t{0}},
        std::tuple{"window_retention_days", &settings.window_retention_days, std::int64_t{0}},
        std::tuple{"changes_keep", &settings.changes_keep, std::int64_t{1}},
        std::tuple{"changes_keep_days", &settings.changes_keep_days, std::int64_t{1}}}) {
    if (auto status = readCount(config, key, minimum, kMax, *target); !status) return status;
  }
  return sdk::Status::success();
}

}  // namespace gatherd::plugins::postgres
