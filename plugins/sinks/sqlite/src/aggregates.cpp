#include "aggregates.hpp"

#include <algorithm>

namespace gatherd::plugins::sqlite {
namespace {

using storage::Level;
using storage::planRange;
using storage::Segment;

std::int64_t floorTo(std::int64_t value, std::int64_t unit) {
  return floorDiv(value, unit) * unit;
}

const char* const kRollupColumns =
    "sum(count), sum(CASE WHEN status = 'success' THEN count ELSE 0 END), sum(cost_nano), "
    "sum(input_tokens), sum(output_tokens), sum(cache_input_tokens), sum(reasoning_tokens), "
    "sum(total_tokens)";
const char* const kSourceRollupColumns =
    "sum(count), sum(success), sum(cost_nano), sum(input_tokens), sum(output_tokens), "
    "sum(cache_input_tokens), sum(reasoning_tokens), sum(total_tokens)";
const char* const kRowColumns =
    "count(*), sum(status = 'success'), sum(coalesce(CAST(round(cost * 1e9) AS INTEGER), 0)), "
    "sum(coalesce(input_tokens, 0)), sum(coalesce(output_tokens, 0)), "
    "sum(coalesce(cache_input_tokens, 0)), sum(coalesce(reasoning_tokens, 0)), "
    "sum(coalesce(total_tokens, 0))";

Accumulator readAccumulator(const Statement& statement, int first_column) {
  Accumulator sum;
  sum.count = statement.getInt(first_column);
  sum.success = statement.getInt(first_column + 1);
  sum.cost_nano = statement.getInt(first_column + 2);
  for (int i = 0; i < 5; ++i) {
    sum.tokens[static_cast<std::size_t>(i)] = statement.getInt(first_column + 3 + i);
  }
  return sum;
}

std::string segmentSql(Level level, bool by_model) {
  std::string sql = "SELECT ";
  sql += by_model ? "model, " : "'', ";
  if (level == Level::kHourly && !by_model) {
    // Without a model breakdown, the per-source hourly rollup has 12x fewer rows.
    return sql + kSourceRollupColumns +
           " FROM invocation_rollup_hourly_source WHERE bucket_ms >= ?1 AND bucket_ms < ?2"
           " AND (?3 IS NULL OR source = ?3) GROUP BY 1";
  }
  if (level == Level::kRows) {
    sql += kRowColumns;
    sql += " FROM codex_invocations WHERE occurred_ms >= ?1 AND occurred_ms < ?2";
  } else {
    sql += kRollupColumns;
    sql +=
        level == Level::kDaily ? " FROM invocation_rollup_daily" : " FROM invocation_rollup_hourly";
    sql += " WHERE bucket_ms >= ?1 AND bucket_ms < ?2";
  }
  sql += " AND (?3 IS NULL OR source = ?3) GROUP BY 1";
  return sql;
}

}  // namespace

std::int64_t prunedBefore(Connection& connection) {
  Statement& statement =
      connection.cached("SELECT value FROM meta WHERE name = 'invocations_pruned_before_ms'");
  const std::int64_t value = statement.step() ? statement.getInt(0) : 0;
  statement.start();
  return value;
}

std::map<std::string, Accumulator> aggregate(Connection& connection,
                                             const std::optional<std::string>& source,
                                             std::int64_t from, std::int64_t to, bool by_model) {
  std::map<std::string, Accumulator> groups;
  for (const Segment& segment : planRange(from, to, prunedBefore(connection))) {
    Statement& statement = connection.cached(segmentSql(segment.level, by_model));
    statement.bind(1, segment.from).bind(2, segment.to).bind(3, source);
    while (statement.step()) {
      if (statement.isNull(1)) continue;
      groups[statement.getText(0)].add(readAccumulator(statement, 1));
    }
    statement.start();
  }
  return groups;
}

std::vector<Accumulator> series(Connection& connection, const std::optional<std::string>& source,
                                std::int64_t from, std::int64_t to, std::int64_t first,
                                std::int64_t bucket_ms) {
  const std::int64_t buckets = floorDiv(to - first + bucket_ms - 1, bucket_ms);
  std::vector<Accumulator> points(static_cast<std::size_t>(std::max<std::int64_t>(buckets, 0)));
  if (points.empty()) return points;
  auto bucketOf = [&](std::int64_t time) {
    const std::int64_t index = floorDiv(time - first, bucket_ms);
    return static_cast<std::size_t>(
        std::clamp<std::int64_t>(index, 0, static_cast<std::int64_t>(points.size()) - 1));
  };
  const std::int64_t pruned_before = prunedBefore(connection);

  // Every hour with data, from the hourly rollup. An hour inside the range and inside one
  // bucket is taken whole; any other hour (a range edge, or split by bucket boundaries) comes
  // from its rows, unless retention pruned them: then it counts whole in the bucket of its start.
  struct Split {
    std::int64_t from;
    std::int64_t to;
  };
  std::vector<Split> splits;
  auto takeHour = [&](std::int64_t hour, const Accumulator& sum) {
    const std::int64_t hour_end = hour + kHourMs;
    const bool whole = hour >= from && hour_end <= to && bucketOf(hour) == bucketOf(hour_end - 1);
    if (whole || hour < pruned_before) {
      points[bucketOf(std::max(hour, from))].add(sum);
    } else {
      splits.push_back({std::max(hour, from), std::min(hour_end, to)});
    }
  };
  // One rollup row per hour and source, in primary key order (hour first).
  Statement& hours = connection.cached(
      "SELECT bucket_ms, count, success, cost_nano, input_tokens, output_tokens, "
      "cache_input_tokens, reasoning_tokens, total_tokens FROM invocation_rollup_hourly_source "
      "WHERE bucket_ms >= ?1 AND bucket_ms < ?2 AND (?3 IS NULL OR source = ?3)");
  hours.bind(1, floorTo(from, kHourMs)).bind(2, to).bind(3, source);
  std::int64_t current_hour = 0;
  Accumulator current;
  bool have_hour = false;
  while (hours.step()) {
    const std::int64_t hour = hours.getInt(0);
    if (have_hour && hour != current_hour) {
      takeHour(current_hour, current);
      current = {};
    }
    current_hour = hour;
    have_hour = true;
    current.add(readAccumulator(hours, 1));
  }
  hours.start();
  if (have_hour) takeHour(current_hour, current);
  if (splits.empty()) return points;

  Statement& rows =
      connection.cached(std::string("SELECT (occurred_ms - ?4) / ?5, ") + kRowColumns +
                        " FROM codex_invocations WHERE occurred_ms >= ?1 AND occurred_ms < ?2"
                        " AND (?3 IS NULL OR source = ?3) GROUP BY 1");
  for (const Split& split : splits) {
    rows.start().bind(1, split.from).bind(2, split.to).bind(3, source).bind(4, first);
    rows.bind(5, bucket_ms);
    while (rows.step()) {
      const std::int64_t index = rows.getInt(0);
      if (index < 0 || index >= static_cast<std::int64_t>(points.size())) continue;
      points[static_cast<std::size_t>(index)].add(readAccumulator(rows, 1));
    }
  }
  rows.start();
  return points;
}

}  // namespace gatherd::plugins::sqlite
