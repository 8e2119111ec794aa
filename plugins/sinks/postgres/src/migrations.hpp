#pragma once
// The postgres sink's schema: versioned, forward-only migrations under an advisory lock, so
// several gatherds starting at once against an empty database do not race.

#include <cstdint>
#include <string>

#include "pg.hpp"

namespace gatherd::plugins::postgres {

/// The schema version this build writes.
inline constexpr int kSchemaVersion = 2;
/// First key of every advisory lock gatherd takes ("ga"); the second is derived from the schema.
inline constexpr std::int32_t kLockClass = 0x6761;

/// The version recorded in `schema`.meta (0: no gatherd tables yet).
int schemaVersion(Connection& connection, const std::string& schema);

/// Creates the schema if needed and migrates it to `target`, holding a session advisory lock
/// for the whole run. Throws std::runtime_error for a schema newer than this build knows, and
/// PgError for database failures.
void migrate(Connection& connection, const std::string& schema, int target = kSchemaVersion);

}  // namespace gatherd::plugins::postgres
