#pragma once
// Versioned, forward-only schema migrations (PRAGMA user_version), run through Poco::Data.
//   1: the seed's codex_invocations table, as the original design notes created it
//   2: gatherd 1.0: source + typed columns, rollups, quota snapshots, window ledger,
//      generic records, change sequence
//   3: an hourly rollup per source only (time series and totals read 12x fewer rows)
//   4: each invocation stored once: payload and created_at generated, extra and a raw residue
//      (invocation_columns.hpp), window_at generated; auto_vacuum = incremental

#include <cstdint>
#include <string>

#include "connection.hpp"

namespace gatherd::plugins::sqlite {

inline constexpr int kSchemaVersion = 4;
/// PRAGMA auto_vacuum's value for INCREMENTAL.
inline constexpr std::int64_t kIncrementalVacuum = 2;

/// Registers the SQL functions the schema and migrations use (gatherd_error_key).
void registerFunctions(Connection& connection);

/// The database's schema version (0 for a new file).
int schemaVersion(Connection& connection);

/// Brings the database from its version up to `target` (default: the newest), one version per
/// transaction. Throws std::runtime_error with a message for the user when the database is newer
/// than this build knows. `legacy_source` names the source of rows that predate the source
/// column; `now_ms` stamps migrated rows that lack a parsable creation time.
void migrate(Connection& connection, const std::string& legacy_source, std::int64_t now_ms,
             int target = kSchemaVersion);

/// Turns auto_vacuum = incremental on for a file made without it (before schema 4) by one
/// VACUUM: a while on a large file, and free disk of about the file's size. False when it was on
/// already. Throws SqliteError (a full disk, another process reading).
bool applyIncrementalVacuum(Connection& connection);

}  // namespace gatherd::plugins::sqlite
