#include "retention.hpp"

#include <algorithm>

#include "gatherd/lib/storage/aggregate_plan.hpp"

namespace gatherd::plugins::postgres {
namespace {

using storage::floorDiv;
using storage::kDayMs;
using storage::kHourMs;

constexpr std::int64_t kChunkRows = 5'000;

std::int64_t readMeta(Connection& connection, const char* name) {
  return connection.queryInt("SELECT value FROM meta WHERE name = $1", Params().add(name));
}

/// Raises a mark (never lowers it: another collector may have moved it further already).
void raiseMeta(Connection& connection, const char* name, std::int64_t value) {
  connection.exec(
      "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = "
      "greatest(meta.value, excluded.value)",
      Params().add(name).add(value));
}

/// Runs `sql` ($1 = a, $2 = b, $3 = chunk size) in separate transactions until it changes less
/// than a chunk.
std::int64_t inChunks(Connection& connection, const std::string& sql, std::int64_t a,
                      std::int64_t b) {
  std::int64_t total = 0;
  while (true) {
    const std::int64_t changed =
        connection.exec(sql, Params().add(a).add(b).add(kChunkRows)).affected();
    total += changed;
    if (changed < kChunkRows) return total;
  }
}

}  // namespace

RetentionCounts runRetention(Connection& connection, const Settings& settings,
                             std::int64_t now_ms) {
  RetentionCounts counts;
  counts.invocations_pruned_before_ms = readMeta(connection, "invocations_pruned_before_ms");

  if (settings.invocation_retention_days > 0) {
    const std::int64_t cutoff =
        floorDiv(now_ms - settings.invocation_retention_days * kDayMs, kHourMs) * kHourMs;
    if (cutoff > counts.invocations_pruned_before_ms) {
      // Announce the horizon first: from then on readers take those hours from the rollups.
      raiseMeta(connection, "invocations_pruned_before_ms", cutoff);
      counts.invocations_pruned_before_ms = readMeta(connection, "invocations_pruned_before_ms");
    }
    counts.invocations_deleted =
        inChunks(connection,
                 "DELETE FROM codex_invocations WHERE id IN (SELECT id FROM codex_invocations "
                 "WHERE occurred_ms >= $1 AND occurred_ms < $2 LIMIT $3)",
                 storage::kMinTimeMs, counts.invocations_pruned_before_ms);
  }

  if (settings.raw_retention_days > 0) {
    const std::int64_t cutoff = now_ms - settings.raw_retention_days * kDayMs;
    const std::int64_t done = readMeta(connection, "raw_dropped_before_ms");
    if (cutoff > done) {
      counts.raw_dropped =
          inChunks(connection,
                   "UPDATE codex_invocations SET raw_response = NULL WHERE id IN (SELECT id FROM "
                   "codex_invocations WHERE occurred_ms >= $1 AND occurred_ms < $2 "
                   "AND raw_response IS NOT NULL LIMIT $3)",
                   done, cutoff);
      raiseMeta(connection, "raw_dropped_before_ms", cutoff);
    }
  }

  if (settings.quota_thin_after_days > 0) {
    const std::int64_t cutoff =
        floorDiv(now_ms - settings.quota_thin_after_days * kDayMs, kDayMs) * kDayMs;
    const std::int64_t done = readMeta(connection, "quota_thinned_before_ms");
    if (cutoff > done) {
      // Keep the last snapshot of each (source, quota, UTC day).
      counts.quota_snapshots_deleted =
          inChunks(connection,
                   "DELETE FROM quota_snapshots WHERE id IN (SELECT id FROM quota_snapshots "
                   "WHERE time_ms >= $1 AND time_ms < $2 AND id NOT IN (SELECT max(id) FROM "
                   "quota_snapshots WHERE time_ms >= $1 AND time_ms < $2 "
                   "GROUP BY source, quota_key, time_ms / 86400000) LIMIT $3)",
                   done, cutoff);
      raiseMeta(connection, "quota_thinned_before_ms", cutoff);
    }
  }

  if (settings.window_retention_days > 0) {
    counts.windows_deleted =
        inChunks(connection,
                 "DELETE FROM window_ledger WHERE id IN (SELECT id FROM window_ledger "
                 "WHERE window_ms >= $1 AND window_ms < $2 LIMIT $3)",
                 storage::kMinTimeMs, now_ms - settings.window_retention_days * kDayMs);
  }

  // The change sequence: at most changes_keep entries, none older than changes_keep_days.
  const std::int64_t latest = connection.queryInt("SELECT coalesce(max(seq), 0) FROM changes");
  std::int64_t through = latest - settings.changes_keep;
  through = std::max(through, connection.queryInt(
                                  "SELECT coalesce(max(seq), 0) FROM changes WHERE created_ms < $1",
                                  Params().add(now_ms - settings.changes_keep_days * kDayMs)));
  if (through > readMeta(connection, "changes_pruned_through")) {
    raiseMeta(connection, "changes_pruned_through", through);
  }
  counts.changes_deleted =
      inChunks(connection,
               "DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE seq > $1 AND "
               "seq <= $2 ORDER BY seq LIMIT $3)",
               0, readMeta(connection, "changes_pruned_through"));
  return counts;
}

}  // namespace gatherd::plugins::postgres
