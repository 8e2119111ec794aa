#pragma once
// Exact aggregates from the rollups. A range [from, to) is split into whole UTC days (daily
// rollup), whole hours (hourly rollup) and partial edge hours (the indexed rows). An edge hour
// whose rows were pruned by retention is counted whole from the hourly rollup.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"
#include "gatherd/lib/storage/aggregate_plan.hpp"
#include "gatherd/sdk/store.hpp"

namespace gatherd::plugins::sqlite {

using storage::Accumulator;
using storage::floorDiv;
using storage::kDayMs;
using storage::kHourMs;
using storage::kMaxBuckets;
using storage::kMaxTimeMs;
using storage::kMinTimeMs;

/// Invocation rows before this time were deleted by retention (hour aligned; 0 = none).
std::int64_t prunedBefore(Connection& connection);

/// Totals over [from, to), per model when `by_model`, else under the key "".
std::map<std::string, Accumulator> aggregate(Connection& connection,
                                             const std::optional<std::string>& source,
                                             std::int64_t from, std::int64_t to, bool by_model);

/// One Accumulator per bucket of `bucket_ms` starting at `first` (a bucket boundary),
/// covering [from, to).
std::vector<Accumulator> series(Connection& connection, const std::optional<std::string>& source,
                                std::int64_t from, std::int64_t to, std::int64_t first,
                                std::int64_t bucket_ms);

}  // namespace gatherd::plugins::sqlite
