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
#include "gatherd/sdk/store.hpp"

namespace gatherd::plugins::sqlite {

inline constexpr std::int64_t kHourMs = 3'600'000;
inline constexpr std::int64_t kDayMs = 86'400'000;
/// Bounds used for open ranges (year 1970 .. far future).
inline constexpr std::int64_t kMinTimeMs = 0;
inline constexpr std::int64_t kMaxTimeMs = 253'402'300'800'000;  // 10000-01-01
inline constexpr std::int64_t kMaxBuckets = 20'000;

/// Sums in integers (cost in nano-USD), converted to sdk::Totals at the end.
struct Accumulator {
  std::int64_t count = 0;
  std::int64_t success = 0;
  std::int64_t cost_nano = 0;
  std::array<std::int64_t, 5> tokens{};  ///< input, output, cache_input, reasoning, total

  void add(const Accumulator& other);
  sdk::Totals totals() const;
};

std::int64_t floorDiv(std::int64_t value, std::int64_t unit);

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
