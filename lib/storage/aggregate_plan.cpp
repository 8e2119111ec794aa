#include "gatherd/lib/storage/aggregate_plan.hpp"

#include <cmath>

namespace gatherd::storage {
namespace {

std::int64_t ceilTo(std::int64_t value, std::int64_t unit) {
  return -floorDiv(-value, unit) * unit;
}
std::int64_t floorTo(std::int64_t value, std::int64_t unit) {
  return floorDiv(value, unit) * unit;
}

// A piece of [from, to) that lies inside a single hour.
void planPartialHour(std::int64_t from, std::int64_t to, std::int64_t pruned_before,
                     std::vector<Segment>& plan) {
  if (from >= to) return;
  const std::int64_t hour = floorTo(from, kHourMs);
  if (hour < pruned_before) {
    plan.push_back({hour, hour + kHourMs, Level::kHourly});
  } else {
    plan.push_back({from, to, Level::kRows});
  }
}

void planHours(std::int64_t from, std::int64_t to, std::int64_t pruned_before,
               std::vector<Segment>& plan) {
  if (from >= to) return;
  const std::int64_t first = ceilTo(from, kHourMs);
  const std::int64_t last = floorTo(to, kHourMs);
  if (first > last) {
    planPartialHour(from, to, pruned_before, plan);
    return;
  }
  if (first < last) plan.push_back({first, last, Level::kHourly});
  planPartialHour(from, first, pruned_before, plan);
  planPartialHour(last, to, pruned_before, plan);
}

}  // namespace

std::vector<Segment> planRange(std::int64_t from, std::int64_t to, std::int64_t pruned_before) {
  std::vector<Segment> plan;
  if (from >= to) return plan;
  const std::int64_t first = ceilTo(from, kDayMs);
  const std::int64_t last = floorTo(to, kDayMs);
  if (first > last) {
    planHours(from, to, pruned_before, plan);
    return plan;
  }
  if (first < last) plan.push_back({first, last, Level::kDaily});
  planHours(from, first, pruned_before, plan);
  planHours(last, to, pruned_before, plan);
  return plan;
}

void Accumulator::add(const Accumulator& other) {
  count += other.count;
  success += other.success;
  cost_nano += other.cost_nano;
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] += other.tokens[i];
}

sdk::Totals Accumulator::totals() const {
  sdk::Totals totals;
  totals.count = count;
  totals.success = success;
  totals.failure = count - success;
  totals.cost_usd = static_cast<double>(cost_nano) / 1e9;
  totals.input_tokens = tokens[0];
  totals.output_tokens = tokens[1];
  totals.cache_input_tokens = tokens[2];
  totals.reasoning_tokens = tokens[3];
  totals.total_tokens = tokens[4];
  return totals;
}

std::int64_t floorDiv(std::int64_t value, std::int64_t unit) {
  std::int64_t quotient = value / unit;
  if ((value % unit != 0) && ((value < 0) != (unit < 0))) --quotient;
  return quotient;
}

std::int64_t costNano(std::optional<double> cost_usd) {
  if (!cost_usd || !std::isfinite(*cost_usd)) return 0;
  const double nano = *cost_usd * 1e9;
  return static_cast<std::int64_t>(nano + (nano < 0 ? -0.5 : 0.5));
}

}  // namespace gatherd::storage
