#pragma once
// Exact aggregates from rollups, shared by the store sinks: integer sums (cost in nano-USD) and
// the plan that splits a range [from, to) into whole UTC days (daily rollup), whole hours
// (hourly rollup) and partial edge hours (the indexed rows). An edge hour whose rows were pruned
// by retention is counted whole from the hourly rollup.

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "gatherd/sdk/store.hpp"

namespace gatherd::storage {

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

/// Cost in nano-USD, rounded half away from zero: rollups sum integers, so totals are exact and
/// stay exact when rows are updated or pruned.
std::int64_t costNano(std::optional<double> cost_usd);

enum class Level { kRows, kHourly, kDaily };

struct Segment {
  std::int64_t from;
  std::int64_t to;
  Level level;
};

/// The pieces of [from, to) and where each is read from; hours before `pruned_before` have no
/// rows left and are taken whole from the hourly rollup.
std::vector<Segment> planRange(std::int64_t from, std::int64_t to, std::int64_t pruned_before);

}  // namespace gatherd::storage
