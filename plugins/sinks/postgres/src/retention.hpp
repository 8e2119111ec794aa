#pragma once
// Retention on the postgres schema: the same rules and meta marks as the sqlite sink's, run in
// chunks from the writer connection (several collectors may run it; every step is idempotent).

#include <cstdint>

#include "pg.hpp"
#include "settings.hpp"

namespace gatherd::plugins::postgres {

struct RetentionCounts {
  std::int64_t invocations_deleted = 0;
  std::int64_t invocations_pruned_before_ms = 0;
  std::int64_t raw_dropped = 0;
  std::int64_t quota_snapshots_deleted = 0;
  std::int64_t windows_deleted = 0;
  std::int64_t changes_deleted = 0;
};

RetentionCounts runRetention(Connection& connection, const Settings& settings, std::int64_t now_ms);

}  // namespace gatherd::plugins::postgres
