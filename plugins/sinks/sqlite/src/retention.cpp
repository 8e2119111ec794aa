#include "retention.hpp"

#include <algorithm>

#include "aggregates.hpp"
#include "migrations.hpp"

namespace gatherd::plugins::sqlite {
namespace {

constexpr std::int64_t kChunkRows = 5'000;
// Pages handed back to the file system per transaction (16 MB of 4 KB pages).
constexpr std::int64_t kVacuumPages = 4'096;

/// With auto_vacuum = incremental (schema 4 makes it so), gives the free pages back to the file
/// system, a bounded number per transaction so that the writer is held up only briefly.
void returnFreePages(Connection& connection) {
  if (connection.queryInt("PRAGMA auto_vacuum", 0) != kIncrementalVacuum) return;
  std::int64_t free_pages = connection.queryInt("PRAGMA freelist_count", 0);
  while (free_pages > 0) {
    connection.exec("PRAGMA incremental_vacuum(" + std::to_string(kVacuumPages) + ")");
    const std::int64_t left = connection.queryInt("PRAGMA freelist_count", 0);
    if (left >= free_pages) return;  // nothing more it can free
    free_pages = left;
  }
}

std::int64_t readMeta(Connection& connection, const char* name) {
  Statement& statement = connection.cached("SELECT value FROM meta WHERE name = ?1");
  statement.bind(1, name);
  const std::int64_t value = statement.step() ? statement.getInt(0) : 0;
  statement.start();
  return value;
}

void writeMeta(Connection& connection, const char* name, std::int64_t value) {
  connection
      .cached(
          "INSERT INTO meta (name, value) VALUES (?1, ?2) "
          "ON CONFLICT (name) DO UPDATE SET value = excluded.value")
      .bind(1, name)
      .bind(2, value)
      .run();
}

/// Runs `sql` (bound with ?1 = a, ?2 = b, limited to kChunkRows per statement) in separate
/// transactions until it changes nothing.
std::int64_t inChunks(Connection& connection, const std::string& sql, std::int64_t a,
                      std::int64_t b) {
  std::int64_t total = 0;
  while (true) {
    Transaction transaction(connection, Transaction::Mode::kImmediate);
    connection.cached(sql).bind(1, a).bind(2, b).bind(3, kChunkRows).run();
    const int changed = connection.changes();
    transaction.commit();
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
    // Hour aligned, so an hour is either whole or gone and the rollup can stand in for it.
    const std::int64_t cutoff =
        floorDiv(now_ms - settings.invocation_retention_days * kDayMs, kHourMs) * kHourMs;
    if (cutoff > counts.invocations_pruned_before_ms) {
      // Announce the horizon first: from then on readers take those hours from the rollups,
      // whether or not their rows are deleted yet.
      Transaction transaction(connection, Transaction::Mode::kImmediate);
      writeMeta(connection, "invocations_pruned_before_ms", cutoff);
      transaction.commit();
      counts.invocations_pruned_before_ms = cutoff;
    }
    counts.invocations_deleted =
        inChunks(connection,
                 "DELETE FROM codex_invocations WHERE id IN (SELECT id FROM codex_invocations "
                 "WHERE occurred_ms >= ?1 AND occurred_ms < ?2 LIMIT ?3)",
                 kMinTimeMs, counts.invocations_pruned_before_ms);
  }

  if (settings.raw_retention_days > 0) {
    const std::int64_t cutoff = now_ms - settings.raw_retention_days * kDayMs;
    const std::int64_t done = readMeta(connection, "raw_dropped_before_ms");
    if (cutoff > done) {
      counts.raw_dropped =
          inChunks(connection,
                   "UPDATE codex_invocations SET raw_response = NULL WHERE id IN (SELECT id FROM "
                   "codex_invocations WHERE occurred_ms >= ?1 AND occurred_ms < ?2 "
                   "AND raw_response IS NOT NULL LIMIT ?3)",
                   done, cutoff);
      Transaction transaction(connection, Transaction::Mode::kImmediate);
      writeMeta(connection, "raw_dropped_before_ms", cutoff);
      transaction.commit();
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
                   "WHERE time_ms >= ?1 AND time_ms < ?2 AND id NOT IN (SELECT max(id) FROM "
                   "quota_snapshots WHERE time_ms >= ?1 AND time_ms < ?2 "
                   "GROUP BY source, quota_key, time_ms / 86400000) LIMIT ?3)",
                   done, cutoff);
      Transaction transaction(connection, Transaction::Mode::kImmediate);
      writeMeta(connection, "quota_thinned_before_ms", cutoff);
      transaction.commit();
    }
  }

  if (settings.window_retention_days > 0) {
    counts.windows_deleted =
        inChunks(connection,
                 "DELETE FROM window_ledger WHERE id IN (SELECT id FROM window_ledger "
                 "WHERE window_ms >= ?1 AND window_ms < ?2 LIMIT ?3)",
                 kMinTimeMs, now_ms - settings.window_retention_days * kDayMs);
  }

  // The change sequence: at most changes_keep entries, none older than changes_keep_days.
  const std::int64_t latest =
      connection.queryInt("SELECT seq FROM sqlite_sequence WHERE name = 'changes'", 0);
  std::int64_t through = latest - settings.changes_keep;
  // No index on created_ms (it would cost a page write per batch): this hourly scan of at most
  // changes_keep rows is cheaper.
  Statement& old = connection.cached("SELECT max(seq) FROM changes WHERE created_ms < ?1");
  old.bind(1, now_ms - settings.changes_keep_days * kDayMs);
  if (old.step() && !old.isNull(0)) through = std::max(through, old.getInt(0));
  old.start();
  const std::int64_t pruned_through = readMeta(connection, "changes_pruned_through");
  if (through > pruned_through) {
    Transaction transaction(connection, Transaction::Mode::kImmediate);
    writeMeta(connection, "changes_pruned_through", through);
    transaction.commit();
  }
  counts.changes_deleted = inChunks(
      connection,
      "DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE seq > ?1 AND seq <= ?2 "
      "ORDER BY seq LIMIT ?3)",
      0, std::max(through, pruned_through));
  if (counts.invocations_deleted + counts.raw_dropped + counts.quota_snapshots_deleted +
          counts.changes_deleted >
      0) {
    returnFreePages(connection);
  }
  return counts;
}

}  // namespace gatherd::plugins::sqlite
