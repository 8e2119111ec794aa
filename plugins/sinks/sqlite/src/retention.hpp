#pragma once
// Retention (off by default) and pruning of the change sequence, run from the writer thread in
// short transactions so that batches are never blocked for long.

#include <cstdint>

#include "connection.hpp"
#include "settings.hpp"

namespace gatherd::plugins::sqlite {

struct RetentionCounts {
  std::int64_t raw_dropped = 0;
  std::int64_t invocations_deleted = 0;
  std::int64_t quota_snapshots_deleted = 0;
  std::int64_t windows_deleted = 0;
  std::int64_t changes_deleted = 0;
  /// Invocations before this time are gone (hour aligned; 0 when nothing was ever pruned).
  std::int64_t invocations_pruned_before_ms = 0;
};

/// Applies every enabled rule as of `now_ms`. Throws SqliteError (e.g. busy); whatever was
/// committed before stays, and the next run continues.
RetentionCounts runRetention(Connection& connection, const Settings& settings, std::int64_t now_ms);

}  // namespace gatherd::plugins::sqlite
