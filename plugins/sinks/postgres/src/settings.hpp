#pragma once
// The postgres sink's configuration: schema and parsing, kept apart from the storage logic.

#include <cstdint>
#include <string>

#include "gatherd/sdk/config.hpp"
#include "gatherd/sdk/status.hpp"

namespace gatherd::plugins::postgres {

/// What the keys say; their defaults are in settingsSchema() only (parseSettings fills every
/// field).
struct Settings {
  /// libpq connection string or URI, with sslmode appended when configured. Secret.
  std::string conninfo;
  std::string schema;
  /// This gatherd's name; qualifies a source instance name another collector already uses.
  std::string collector;
  /// Read connections kept for Store queries.
  int pool_size = 0;
  /// Retention; 0 disables each rule (same meaning as the sqlite sink's keys).
  std::int64_t raw_retention_days = 0;
  std::int64_t invocation_retention_days = 0;
  std::int64_t quota_thin_after_days = 0;
  std::int64_t window_retention_days = 0;
  std::int64_t changes_keep = 0;
  std::int64_t changes_keep_days = 0;
  std::int64_t maintenance_interval_ms = 3'600'000;
};

/// The keys [sink.<name>] accepts with plugin = postgres.
sdk::ConfigSchema settingsSchema();

/// Reads `config` into `settings`. `host_name` is the default collector name.
sdk::Status parseSettings(const sdk::Config& config, const std::string& host_name,
                          Settings& settings);

/// `dsn` with `sslmode` added (key=value form or URI query), or unchanged when sslmode is empty.
std::string withSslMode(const std::string& dsn, const std::string& sslmode);

}  // namespace gatherd::plugins::postgres
