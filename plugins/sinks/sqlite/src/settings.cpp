#include "settings.hpp"

#include <charconv>

#include "gatherd/lib/storage/retention_keys.hpp"

namespace gatherd::plugins::sqlite {
namespace {

sdk::Status readCount(const sdk::Config& config, const char* key, std::int64_t minimum,
                      std::int64_t& out) {
  // Every key has a schema default (withDefaults), so it is always present.
  if (!config.has(key)) return sdk::Status::failure("key '" + std::string(key) + "' has no value");
  const std::string text = config.getString(key);
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < minimum) {
    return sdk::Status::failure("key '" + std::string(key) + "' must be an integer >= " +
                                std::to_string(minimum) + ", got '" + text + "'");
  }
  out = value;
  return sdk::Status::success();
}

}  // namespace

sdk::ConfigSchema settingsSchema() {
  using sdk::ConfigType;
  sdk::ConfigSchema schema = {
      sdk::key("path", ConfigType::kPath)
          .describedAs("database file (default <data_dir>/gatherd.db); created with mode 0600"),
      sdk::key("synchronous", ConfigType::kString)
          .byDefault("normal")
          .oneOf({"normal", "full"})
          .describedAs(
              "PRAGMA synchronous in WAL mode: normal (fast, durable across app crashes) or full"),
      sdk::key("busy_timeout", ConfigType::kDuration)
          .byDefault("200ms")
          .describedAs(
              "how long a write waits for another process's lock before the batch is retried"),
  };
  storage::appendRetentionKeys(schema);
  const sdk::ConfigSchema rest = {
      sdk::key("cache_mb", ConfigType::kInt)
          .byDefault("2")
          .describedAs("page cache of each database connection (the writer and every reader), MiB"),
      sdk::key("mmap_mb", ConfigType::kInt)
          .byDefault("0")
          .describedAs(
              "how much of the database file each connection maps into memory, MiB (0: read "
              "with pread)"),
      sdk::key("legacy_source", ConfigType::kString)
          .byDefault("xychatai")
          .describedAs("source name for rows migrated from a seed-era database"),
  };
  schema.insert(schema.end(), rest.begin(), rest.end());
  return schema;
}

sdk::Status parseSettings(const sdk::Config& given, const std::string& data_dir,
                          Settings& settings) {
  // Defaults come from the schema only (getters below take no fallback).
  const sdk::Config config = sdk::withDefaults(given, settingsSchema());
  std::string path = config.getString("path");
  if (path.empty()) path = "gatherd.db";
  if (path.front() != '/') {
    if (data_dir.empty()) {
      return sdk::Status::failure("relative path '" + path + "' but no data directory");
    }
    path = data_dir + (data_dir.back() == '/' ? "" : "/") + path;
  }
  settings.path = path;

  const std::string synchronous = config.getString("synchronous");
  if (synchronous == "normal") {
    settings.synchronous = Synchronous::kNormal;
  } else if (synchronous == "full") {
    settings.synchronous = Synchronous::kFull;
  } else {
    return sdk::Status::failure("key 'synchronous' must be normal or full, got '" + synchronous +
                                "'");
  }
  const auto busy_timeout_ms = sdk::parseDurationMs(config.getString("busy_timeout"));
  if (!busy_timeout_ms || *busy_timeout_ms > 60'000) {
    return sdk::Status::failure("key 'busy_timeout' must be a duration up to 60s");
  }
  settings.busy_timeout_ms = *busy_timeout_ms;
  for (auto [key, target, minimum] :
       {std::tuple{"raw_retention_days", &settings.raw_retention_days, std::int64_t{0}},
        std::tuple{"invocation_retention_days", &settings.invocation_retention_days,
                   std::int64_t{0}},
        std::tuple{"quota_thin_after_days", &settings.quota_thin_after_days, std::int64_t{0}},
        std::tuple{"window_retention_days", &settings.window_retention_days, std::int64_t{0}},
        std::tuple{"changes_keep", &settings.changes_keep, std::int64_t{1}},
        std::tuple{"changes_keep_days", &settings.changes_keep_days, std::int64_t{1}}}) {
    if (auto status = readCount(config, key, minimum, *target); !status) return status;
  }
  std::int64_t cache_mb = settings.cache_kb / 1024;
  std::int64_t mmap_mb = settings.mmap_bytes / (1024 * 1024);
  if (auto status = readCount(config, "cache_mb", 1, cache_mb); !status) return status;
  if (auto status = readCount(config, "mmap_mb", 0, mmap_mb); !status) return status;
  if (cache_mb > 65'536 || mmap_mb > 1'048'576) {
    return sdk::Status::failure("keys 'cache_mb' and 'mmap_mb' are at most 65536 and 1048576");
  }
  settings.cache_kb = cache_mb * 1024;
  settings.mmap_bytes = mmap_mb * 1024 * 1024;
  settings.legacy_source = config.getString("legacy_source");
  return sdk::Status::success();
}

}  // namespace gatherd::plugins::sqlite
