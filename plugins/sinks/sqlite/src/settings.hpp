#pragma once
// The sqlite sink's configuration: schema and parsing, kept apart from the storage logic.

#include <cstdint>
#include <string>

#include "gatherd/sdk/config.hpp"
#include "gatherd/sdk/status.hpp"

namespace gatherd::plugins::sqlite {

enum class Synchronous { kNormal, kFull };

/// Members that are keys get their values, defaults included, from settingsSchema() through
/// parseSettings(): the initialisers here are zero values, never a second copy of a default.
struct Settings {
  std::string path;  ///< absolute path of the database file
  Synchronous synchronous = Synchronous::kNormal;
  std::int64_t busy_timeout_ms = 0;
  /// Retention; 0 disables each rule.
  std::int64_t raw_retention_days = 0;
  std::int64_t invocation_retention_days = 0;
  std::int64_t quota_thin_after_days = 0;
  std::int64_t window_retention_days = 0;
  /// The change sequence keeps at most this many entries, none older than changes_keep_days.
  std::int64_t changes_keep = 0;
  std::int64_t changes_keep_days = 0;
  /// How often retention runs (from the write thread); not a key.
  std::int64_t maintenance_interval_ms = 3'600'000;
  /// Source name given to rows migrated from a seed-era database (which had no source column).
  std::string legacy_source;
  /// Read connections kept for Store queries; not a key.
  int reader_connections = 4;
  /// Page cache of each connection (the writer and every reader), KiB.
  std::int64_t cache_kb = 0;
  /// How much of the database file each connection reads through a memory map (0: none).
  std::int64_t mmap_bytes = 0;
};

/// The keys [sink.<name>] accepts with plugin = sqlite.
sdk::ConfigSchema settingsSchema();

/// Reads `config` into `settings`; a relative or empty path is resolved against `data_dir`.
/// Keys missing from `config` take the schema's defaults.
sdk::Status parseSettings(const sdk::Config& config, const std::string& data_dir,
                          Settings& settings);

}  // namespace gatherd::plugins::sqlite
