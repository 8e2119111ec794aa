// The Store behaviour every store sink must show: the same cases run against the sqlite sink
// and the postgres sink (each test executable defines makeStoreBackend()).
// Over 500 lines: the one Store suite both store sinks run; splitting it would split the contract.
#include "store_suite.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <random>
#include <set>

#include <catch2/catch.hpp>

#include "gatherd/lib/storage/aggregate_plan.hpp"

using namespace gatherd;
using namespace gatherd::store_suite;
using storage::Accumulator;
using storage::costNano;
using storage::floorDiv;
using storage::kMaxTimeMs;

namespace {

constexpr std::int64_t kT0 = 1'772'000'000'000;  // the ManualClock's start
constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kDay = 86'400'000;

struct Stored {
  std::string source;
  Invocation invocation;
};

/// Random invocations delivered as real polling does: each batch holds the newest 20, most of
/// them already stored, some of those changed since.
class World {
 public:
  explicit World(std::uint64_t seed) : random_(seed) {}

  void deliver(StoreUnderTest& fixture, int count) {
    const std::vector<std::string> sources = {"alpha", "beta"};
    const std::vector<std::string> models = {"gpt-5-codex", "gpt-5", "o4-mini"};
    const std::vector<std::string> statuses = {"success", "success", "success", "success",
                                               "success", "success", "failed",  "rate_limited"};
    std::map<std::string, std::vector<Invocation>> per_source;
    for (int i = 0; i < count; ++i) {
      Invocation value;
      value.request_id = "req-" + std::to_string(i);
      // 12 days around the clock, at arbitrary milliseconds; a few share one instant.
      value.time_ms = kT0 - 10 * kDay + uniform(0, 12 * kDay);
      if (i % 50 == 1) value.time_ms = kT0 - 2 * kDay;
      value.model = models[static_cast<std::size_t>(uniform(0, 2))];
      value.status = statuses[static_cast<std::size_t>(uniform(0, 7))];
      if (value.status != "success") {
        value.error_message = "upstream said no to request " + value.request_id + " after " +
                              std::to_string(uniform(1, 90)) + "s";
      }
      randomiseUsage(value);
      if (uniform(0, 3) > 0) {
        value.response_time_ms = uniform(100, 60'000);
        value.first_byte_time_ms = uniform(10, 5'000);
      }
      per_source[sources[static_cast<std::size_t>(uniform(0, 1))]].push_back(value);
    }
    for (auto& [source, list] : per_source) {
      std::sort(list.begin(), list.end(),
                [](const auto& a, const auto& b) { return a.time_ms < b.time_ms; });
      std::size_t delivered = 0;
      std::int64_t window = kT0;
      while (delivered < list.size()) {
        delivered = std::min(list.size(), delivered + static_cast<std::size_t>(uniform(1, 8)));
        const std::size_t begin = delivered > 20 ? delivered - 20 : 0;
        std::vector<Invocation> batch(list.begin() + static_cast<std::ptrdiff_t>(begin),
                                      list.begin() + static_cast<std::ptrdiff_t>(delivered));
        // Now and then the upstream revises an invocation it already reported.
        for (std::size_t i = 0; i + 1 < batch.size(); ++i) {
          if (uniform(0, 40) == 0) {
            auto& changed = list[begin + i];
            changed.status = changed.status == "success" ? "failed" : "success";
            randomiseUsage(changed);
            batch[i] = changed;
          }
        }
        REQUIRE(fixture.write(makeBatch(source, window, batch)) == sdk::WriteResult::kOk);
        window += 10'000;
        for (const auto& value : batch) {
          stored_[source + "|" + value.request_id] = {source, value};
        }
      }
    }
  }

  std::int64_t uniform(std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(random_);
  }

  const std::map<std::string, Stored>& stored() const { return stored_; }

 private:
  void randomiseUsage(Invocation& value) {
    value.input_tokens = uniform(0, 50'000);
    value.output_tokens = uniform(0, 5'000);
    value.cache_input_tokens = uniform(0, value.input_tokens);
    value.reasoning_tokens = uniform(0, value.output_tokens);
    value.total_tokens = value.input_tokens + value.output_tokens;
    value.cost_usd = static_cast<double>(uniform(0, 2'000'000)) / 1e8;
  }

  std::mt19937_64 random_;
  std::map<std::string, Stored> stored_;
};

/// Whether the brute force counts `time_ms` in [from, to): inside, or inside an hour that
/// retention pruned and that overlaps the range (such hours count whole).
bool counted(std::int64_t time_ms, std::int64_t from, std::int64_t to, std::int64_t pruned_before) {
  const std::int64_t hour = floorDiv(time_ms, kHour) * kHour;
  if (hour < pruned_before) return hour < to && hour + kHour > from;
  return time_ms >= from && time_ms < to;
}

void add(Accumulator& sum, const Invocation& value) {
  sum.count += 1;
  sum.success += value.status == "success" ? 1 : 0;
  sum.cost_nano += costNano(value.cost_usd);
  sum.tokens[0] += value.input_tokens;
  sum.tokens[1] += value.output_tokens;
  sum.tokens[2] += value.cache_input_tokens;
  sum.tokens[3] += value.reasoning_tokens;
  sum.tokens[4] += value.total_tokens;
}

void requireSame(const sdk::Totals& actual, const sdk::Totals& expected) {
  REQUIRE(actual.count == expected.count);
  REQUIRE(actual.success == expected.success);
  REQUIRE(actual.failure == expected.failure);
  REQUIRE(actual.cost_usd == expected.cost_usd);  // exact: both are nano-USD sums / 1e9
  REQUIRE(actual.input_tokens == expected.input_tokens);
  REQUIRE(actual.output_tokens == expected.output_tokens);
  REQUIRE(actual.cache_input_tokens == expected.cache_input_tokens);
  REQUIRE(actual.reasoning_tokens == expected.reasoning_tokens);
  REQUIRE(actual.total_tokens == expected.total_tokens);
}

struct RangeCase {
  std::optional<std::string> source;
  std::optional<std::int64_t> from;
  std::optional<std::int64_t> to;
};

std::vector<RangeCase> rangeCases(World& world, std::int64_t pruned_before) {
  std::vector<RangeCase> cases = {{}, {std::string("alpha"), {}, {}}};
  const std::int64_t start = kT0 - 11 * kDay;
  for (int i = 0; i < 150; ++i) {
    std::int64_t from = start + world.uniform(0, 14 * kDay);
    std::int64_t to = from + world.uniform(0, 4 * kDay);
    switch (i % 6) {
      case 0: break;  // arbitrary
      case 1:
        from = from / kHour * kHour;
        to = to / kHour * kHour;
        break;  // whole hours
      case 2:
        from = from / kDay * kDay;
        to = to / kDay * kDay;
        break;                                             // whole days
      case 3: to = from + world.uniform(0, kHour); break;  // inside one or two hours
      case 4: {                                            // across the retention horizon
        const std::int64_t pivot = pruned_before > 0 ? pruned_before : kT0 - 2 * kDay;
        from = pivot - world.uniform(0, 3 * kHour);
        to = pivot + world.uniform(0, 3 * kHour);
        break;
      }
      default:
        from = from / kHour * kHour + 1;
        to = to / kHour * kHour - 1;
        break;
    }
    RangeCase range{std::nullopt, from, to};
    if (i % 4 == 1) range.source = "beta";
    if (i % 25 == 7) range.from.reset();
    if (i % 25 == 8) range.to.reset();
    cases.push_back(range);
  }
  return cases;
}

void checkAggregates(StoreUnderTest& fixture, World& world, std::int64_t pruned_before) {
  for (const RangeCase& range : rangeCases(world, pruned_before)) {
    const std::int64_t from = range.from.value_or(0);
    const std::int64_t to = range.to.value_or(kMaxTimeMs);
    Accumulator expected;
    std::map<std::string, Accumulator> expected_models;
    for (const auto& [key, stored] : world.stored()) {
      if (range.source && stored.source != *range.source) continue;
      if (!counted(stored.invocation.time_ms, from, to, pruned_before)) continue;
      add(expected, stored.invocation);
      add(expected_models[stored.invocation.model], stored.invocation);
    }
    INFO("source " << range.source.value_or("*") << " from " << from << " to " << to);
    sdk::Totals totals;
    REQUIRE(fixture.store().totals({range.source, range.from, range.to}, totals));
    requireSame(totals, expected.totals());

    std::vector<sdk::ModelBreakdown> models;
    REQUIRE(fixture.store().models({range.source, range.from, range.to}, models));
    REQUIRE(models.size() == expected_models.size());
    for (std::size_t i = 0; i < models.size(); ++i) {
      requireSame(models[i].totals, expected_models[models[i].model].totals());
      if (i > 0) REQUIRE(models[i - 1].totals.count >= models[i].totals.count);
    }
  }
}

void checkSeries(StoreUnderTest& fixture, World& world, std::int64_t pruned_before) {
  const std::vector<std::int64_t> buckets = {60'000,      5 * 60'000, 45 * 60'000, kHour,
                                             90 * 60'000, 6 * kHour,  kDay};
  const std::vector<int> offsets = {0, 480, 330, -300, 345};
  for (int i = 0; i < 60; ++i) {
    sdk::TimeSeriesQuery query;
    query.bucket_ms = buckets[static_cast<std::size_t>(i) % buckets.size()];
    query.utc_offset_minutes = offsets[static_cast<std::size_t>(i) % offsets.size()];
    const std::int64_t span = query.bucket_ms < kHour ? 6 * kHour : 9 * kDay;
    std::int64_t from = kT0 - 11 * kDay + world.uniform(0, 12 * kDay);
    if (i % 3 == 0 && pruned_before > 0) from = pruned_before - world.uniform(0, span / 2);
    const std::int64_t to = from + world.uniform(1, span);
    query.range = {i % 2 == 0 ? std::optional<std::string>() : std::optional<std::string>("alpha"),
                   from, to};
    INFO("bucket " << query.bucket_ms << " offset " << query.utc_offset_minutes << " from " << from
                   << " to " << to);
    std::vector<sdk::TimeSeriesPoint> points;
    REQUIRE(fixture.store().timeSeries(query, points));

    const std::int64_t origin =
        query.bucket_ms >= kDay ? -std::int64_t{query.utc_offset_minutes} * 60'000 : 0;
    const std::int64_t first = floorDiv(from - origin, query.bucket_ms) * query.bucket_ms + origin;
    const auto count =
        static_cast<std::size_t>((to - first + query.bucket_ms - 1) / query.bucket_ms);
    REQUIRE(points.size() == count);
    std::vector<Accumulator> expected(count);
    for (const auto& [key, stored] : world.stored()) {
      if (query.range.source && stored.source != *query.range.source) continue;
      const std::int64_t time = stored.invocation.time_ms;
      if (!counted(time, from, to, pruned_before)) continue;
      const std::int64_t hour = floorDiv(time, kHour) * kHour;
      const std::int64_t at = hour < pruned_before ? std::max(hour, from) : time;
      add(expected[static_cast<std::size_t>(floorDiv(at - first, query.bucket_ms))],
          stored.invocation);
    }
    for (std::size_t b = 0; b < count; ++b) {
      INFO("bucket index " << b);
      REQUIRE(points[b].bucket_start_ms == first + static_cast<std::int64_t>(b) * query.bucket_ms);
      requireSame(points[b].totals, expected[b].totals());
    }
  }
}

}  // namespace

TEST_CASE("totals, models and time series match a brute-force count, before and after pruning") {
  auto backend = makeStoreBackend();
  auto fixture = backend->open("exact", {{"invocation_retention_days", "3"}});
  INFO(fixture->problem());
  REQUIRE(fixture->started());
  // Retention is configured, but with the wall clock 20 days back nothing is old enough yet.
  fixture->host().manualClock().jumpWall(-20 * kDay);
  World world(20260225);
  world.deliver(*fixture, 3000);
  REQUIRE(fixture->runMaintenance());
  CHECK(fixture->counter("invocations_updated") > 0);
  checkAggregates(*fixture, world, 0);
  checkSeries(*fixture, world, 0);

  // Three days of retention as of kT0 + 2 days: rows before about kT0 - 1 day are deleted.
  fixture->host().manualClock().jumpWall(22 * kDay);
  REQUIRE(fixture->runMaintenance());
  const std::int64_t pruned_before = floorDiv(kT0 + 2 * kDay - 3 * kDay, kHour) * kHour;
  REQUIRE(fixture->integer("SELECT count(*) FROM codex_invocations WHERE occurred_ms < " +
                           std::to_string(pruned_before)) == 0);
  REQUIRE(fixture->integer("SELECT count(*) FROM codex_invocations") > 0);
  REQUIRE(fixture->integer("SELECT value FROM meta WHERE name = 'invocations_pruned_before_ms'") ==
          pruned_before);
  checkAggregates(*fixture, world, pruned_before);
  checkSeries(*fixture, world, pruned_before);
}

TEST_CASE("a pruned invocation delivered again is not counted twice") {
  auto backend = makeStoreBackend();
  auto fixture = backend->open("again", {{"invocation_retention_days", "1"}});
  INFO(fixture->problem());
  REQUIRE(fixture->started());
  Invocation old;
  old.request_id = "old";
  old.time_ms = kT0 - 3 * kDay;
  old.total_tokens = 10;
  REQUIRE(fixture->write(makeBatch("xy", kT0, {old})) == sdk::WriteResult::kOk);
  REQUIRE(fixture->runMaintenance());
  REQUIRE(fixture->write(makeBatch("xy", kT0 + 10'000, {old})) == sdk::WriteResult::kOk);
  sdk::Totals totals;
  REQUIRE(fixture->store().totals({}, totals));
  CHECK(totals.count == 1);
  CHECK(totals.total_tokens == 10);
  CHECK(fixture->counter("invocations_too_old") == 1);
}

TEST_CASE("keyset pagination returns every row exactly once, newest first") {
  auto backend = makeStoreBackend();
  auto fixture = backend->open("pages");
  INFO(fixture->problem());
  REQUIRE(fixture->started());
  World world(7);
  world.deliver(*fixture, 1200);

  struct Filter {
    sdk::InvocationQuery query;
    std::function<bool(const Stored&)> matches;
  };
  std::vector<Filter> filters;
  filters.push_back({{}, [](const Stored&) { return true; }});
  {
    sdk::InvocationQuery query;
    query.model = "gpt-5";
    query.status = "success";
    filters.push_back({query, [](const Stored& s) {
                         return s.invocation.model == "gpt-5" && s.invocation.status == "success";
                       }});
  }
  {
    sdk::InvocationQuery query;
    query.status = "failure";
    query.source = "beta";
    filters.push_back({query, [](const Stored& s) {
                         return s.invocation.status != "success" && s.source == "beta";
                       }});
  }
  {
    sdk::InvocationQuery query;
    query.from_ms = kT0 - 5 * kDay + 123;
    query.to_ms = kT0 - 1 * kDay;
    filters.push_back({query, [](const Stored& s) {
                         return s.invocation.time_ms >= kT0 - 5 * kDay + 123 &&
                                s.invocation.time_ms < kT0 - kDay;
                       }});
  }
  {
    sdk::InvocationQuery query;
    query.text = "request req-1";  // substring of error messages of req-1, req-10, req-1xx...
    filters.push_back({query, [](const Stored& s) {
                         return s.invocation.error_message.find("request req-1") !=
                                    std::string::npos ||
                                s.invocation.request_id.find("request req-1") != std::string::npos;
                       }});
  }
  for (auto& filter : filters) {
    std::size_t expected = 0;
    for (const auto& [key, stored] : world.stored()) expected += filter.matches(stored) ? 1 : 0;
    REQUIRE(expected > 0);
    filter.query.limit = 37;
    std::set<std::string> seen;
    std::pair<std::int64_t, std::int64_t> previous{INT64_MAX, INT64_MAX};
    while (true) {
      sdk::InvocationPage page;
      REQUIRE(fixture->store().listInvocations(filter.query, page));
      for (const auto& item : page.items) {
        const std::pair<std::int64_t, std::int64_t> position{item.record.time_ms, item.id};
        REQUIRE(position < previous);
        previous = position;
        REQUIRE(seen.insert(item.source + "|" + item.record.key).second);
        const Stored& stored =
            world.stored().at(item.source + "|" + *item.record.get<std::string>("request_id"));
        REQUIRE(filter.matches(stored));
        REQUIRE(item.record.get<std::string>("status") == stored.invocation.status);
      }
      if (page.next_cursor.empty()) break;
      REQUIRE(page.items.size() == 37);
      filter.query.cursor = page.next_cursor;
    }
    CHECK(seen.size() == expected);
  }

  sdk::InvocationQuery bad;
  bad.cursor = "12x";
  sdk::InvocationPage page;
  CHECK_FALSE(fixture->store().listInvocations(bad, page));
  bad.cursor.clear();
  bad.limit = 0;
  CHECK_FALSE(fixture->store().listInvocations(bad, page));
}

TEST_CASE("errors are grouped by normalised message and latency percentiles are exact") {
  auto backend = makeStoreBackend();
  auto fixture = backend->open("errors");
  INFO(fixture->problem());
  REQUIRE(fixture->started());
  std::vector<Invocation> batch;
  for (int i = 0; i < 9; ++i) {
    Invocation value;
    value.request_id = "e" + std::to_string(i);
    value.time_ms = kT0 + i * 1000;
    value.status = i < 6 ? "failed" : "success";
    if (i < 4)
      value.error_message =
          "timeout after " + std::to_string(20 + i) + "s for req_9f8e7d" + std::to_string(i);
    if (i == 4 || i == 5) value.error_message = "quota exceeded";
    value.response_time_ms = (i + 1) * 100;
    batch.push_back(value);
  }
  REQUIRE(fixture->write(makeBatch("xy", kT0, batch)) == sdk::WriteResult::kOk);
  std::vector<sdk::ErrorBucket> buckets;
  REQUIRE(fixture->store().errors({}, 10, buckets));
  REQUIRE(buckets.size() == 2);
  CHECK(buckets[0].count == 4);
  CHECK(buckets[0].message == "timeout after <dur> for <id>");
  CHECK_THAT(buckets[0].example, Catch::StartsWith("timeout after 2"));
  CHECK(buckets[0].last_seen_ms == kT0 + 3000);
  CHECK(buckets[1].count == 2);
  CHECK(buckets[1].message == "quota exceeded");

  sdk::LatencyStats stats;
  REQUIRE(fixture->store().latency({}, stats));
  CHECK(stats.samples == 9);
  CHECK(stats.response_p50_ms == 500.0);
  CHECK(stats.response_p90_ms == 900.0);
  CHECK(stats.response_p99_ms == 900.0);
  CHECK_FALSE(stats.first_byte_p50_ms.has_value());
}

TEST_CASE("changesSince replays in order and reports pruned history as too old") {
  auto backend = makeStoreBackend();
  auto fixture = backend->open("changes", {{"changes_keep", "10"}});
  INFO(fixture->problem());
  REQUIRE(fixture->started());
  for (int i = 0; i < 15; ++i) {
    Invocation value;
    value.request_id = "c" + std::to_string(i);
    value.time_ms = kT0 + i;
    REQUIRE(fixture->write(makeBatch("xy", kT0 + i * 10'000, {value})) == sdk::WriteResult::kOk);
  }
  // Each batch: one new invocation and one window.
  const std::int64_t latest = fixture->store().latestSequence();
  CHECK(latest == 30);
  sdk::ChangeList list;
  REQUIRE(fixture->store().changesSince(latest - 4, 100, list));
  CHECK_FALSE(list.too_old);
  REQUIRE(list.changes.size() == 4);
  CHECK(list.changes[0].sequence == latest - 3);
  CHECK(list.changes[3].sequence == latest);
  CHECK(list.changes[2].kind == sdk::Change::Kind::kInvocationNew);
  REQUIRE(list.changes[2].invocation);
  CHECK(list.changes[2].invocation->record.get<std::string>("request_id") == "c14");
  CHECK(list.changes[3].kind == sdk::Change::Kind::kWindow);
  REQUIRE(list.changes[3].window);
  CHECK(list.changes[3].window->window_ms == kT0 + 14 * 10'000);

  REQUIRE(fixture->runMaintenance());
  REQUIRE(fixture->store().changesSince(0, 100, list));
  CHECK(list.too_old);
  CHECK(list.changes.empty());
  REQUIRE(fixture->store().changesSince(latest - 10, 100, list));
  CHECK_FALSE(list.too_old);
  CHECK(list.changes.size() == 10);
  REQUIRE(fixture->store().changesSince(latest, 100, list));
  CHECK(list.changes.empty());
  CHECK_FALSE(list.too_old);
}

TEST_CASE("the latest sequence survives a restart and waitForChange wakes on a commit") {
  std::int64_t before = 0;
  auto backend = makeStoreBackend();
  {
    auto fixture = backend->open("wake");
    INFO(fixture->problem());
    REQUIRE(fixture->started());
    REQUIRE(fixture->write(makeBatch("xy", kT0, {})) == sdk::WriteResult::kOk);
    before = fixture->store().latestSequence();
    CHECK(before == 1);
  }
  auto fixture = backend->open("wake");
  INFO(fixture->problem());
  REQUIRE(fixture->started());
  REQUIRE(fixture->store().latestSequence() == before);
  CHECK(fixture->store().waitForChange(before, std::chrono::milliseconds(5)) == before);

  sdk::Store* store = &fixture->store();
  auto waiter = std::async(std::launch::async,
                           [&] { return store->waitForChange(before, std::chrono::hours(1)); });
  REQUIRE(fixture->write(makeBatch("xy", kT0 + 10'000, {})) == sdk::WriteResult::kOk);
  REQUIRE(waiter.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  CHECK(waiter.get() == before + 1);

  // stop() releases waiters too.
  auto stopped = std::async(
      std::launch::async, [&] { return store->waitForChange(before + 1, std::chrono::hours(1)); });
  fixture->stop();
  REQUIRE(stopped.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
}

TEST_CASE("retention drops raw responses and thins quota snapshots to one a day") {
  auto backend = makeStoreBackend();
  auto fixture =
      backend->open("retention", {{"raw_retention_days", "2"}, {"quota_thin_after_days", "3"}});
  INFO(fixture->problem());
  REQUIRE(fixture->started());
  std::vector<Invocation> invocations;
  for (int i = 0; i < 10; ++i) {
    Invocation value;
    value.request_id = "r" + std::to_string(i);
    value.time_ms = kT0 - i * kDay;
    invocations.push_back(value);
  }
  sdk::Batch batch = makeBatch("xy", kT0, invocations);
  for (int i = 0; i < 10 * 24; ++i) {  // a snapshot every hour for ten days, each different
    sdk::Record quota;
    quota.stream = sdk::streams::kQuota;
    quota.key = "codex";
    quota.time_ms = kT0 - 10 * kDay + i * kHour;
    quota.fields["amount_used_usd"] = 0.5 * i;
    batch.records.push_back(quota);
  }
  REQUIRE(fixture->write(batch) == sdk::WriteResult::kOk);
  REQUIRE(fixture->runMaintenance());
  CHECK(fixture->integer("SELECT count(*) FROM codex_invocations") == 10);
  CHECK(fixture->integer("SELECT count(*) FROM codex_invocations WHERE raw_response IS NOT NULL") ==
        3);
  const std::int64_t thin_before = (kT0 - 3 * kDay) / kDay * kDay;
  CHECK(fixture->integer("SELECT count(*) FROM quota_snapshots WHERE time_ms < " +
                         std::to_string(thin_before)) ==
        fixture->integer(
            "SELECT count(DISTINCT time_ms / 86400000) FROM quota_snapshots WHERE time_ms < " +
            std::to_string(thin_before)));
  std::int64_t recent = 0;
  for (int i = 0; i < 10 * 24; ++i) recent += kT0 - 10 * kDay + i * kHour >= thin_before ? 1 : 0;
  CHECK(fixture->integer("SELECT count(*) FROM quota_snapshots WHERE time_ms >= " +
                         std::to_string(thin_before)) == recent);
  CHECK(fixture->integer("SELECT count(*) FROM quota_snapshots WHERE time_ms < " +
                         std::to_string(thin_before)) > 0);
  std::vector<sdk::Record> latest;
  REQUIRE(fixture->store().latestQuota(std::nullopt, latest));
  REQUIRE(latest.size() == 1);
  CHECK(latest[0].get<double>("amount_used_usd") == 0.5 * (10 * 24 - 1));
}

TEST_CASE("window_retention_days deletes the older windows of the ledger and keeps the rest") {
  auto backend = makeStoreBackend();
  auto fixture = backend->open("window_retention", {{"window_retention_days", "3"}});
  INFO(fixture->problem());
  REQUIRE(fixture->started());
  // A window a day for ten days, the newest at the clock's now (kT0).
  for (int day = 9; day >= 0; --day) {
    REQUIRE(fixture->write(makeBatch("xy", kT0 - day * kDay, {})) == sdk::WriteResult::kOk);
  }
  // (The first write may run retention already: the sink runs it from its writes too.)
  REQUIRE(fixture->runMaintenance());
  // Older than now - 3 days goes; days 0 to 3 back stay.
  CHECK(fixture->integer("SELECT count(*) FROM window_ledger") == 4);
  CHECK(fixture->integer("SELECT min(window_ms) FROM window_ledger") == kT0 - 3 * kDay);
  // A second run finds nothing more to delete.
  REQUIRE(fixture->runMaintenance());
  CHECK(fixture->integer("SELECT count(*) FROM window_ledger") == 4);
}

TEST_CASE(
    "after a restart a poll that repeats stored calls updates the changed one and adds the new") {
  auto backend = makeStoreBackend();
  auto call = [](const std::string& id, std::int64_t at, const std::string& status, double cost) {
    Invocation value;
    value.request_id = id;
    value.time_ms = at;
    value.status = status;
    value.cost_usd = cost;
    value.total_tokens = 100;
    return value;
  };
  {
    auto fixture = backend->open("restart_poll");
    INFO(fixture->problem());
    REQUIRE(fixture->started());
    REQUIRE(fixture->write(makeBatch(
                "xy", kT0,
                {call("a", kT0 - 2'000, "success", 1.0), call("b", kT0 - 1'000, "failed", 0.0)})) ==
            sdk::WriteResult::kOk);
  }
  // The new process remembers nothing of what it stored: the repeated calls look new to it.
  auto fixture = backend->open("restart_poll");
  INFO(fixture->problem());
  REQUIRE(fixture->started());
  REQUIRE(fixture->write(makeBatch(
              "xy", kT0 + 10'000,
              {call("a", kT0 - 2'000, "success", 1.0), call("b", kT0 - 1'000, "success", 0.5),
               call("c", kT0 + 5'000, "success", 0.25)})) == sdk::WriteResult::kOk);
  CHECK(fixture->integer("SELECT count(*) FROM codex_invocations") == 3);
  CHECK(fixture->integer("SELECT count(*) FROM codex_invocations WHERE status = 'success'") == 3);
  sdk::Totals totals;
  REQUIRE(fixture->store().totals({std::nullopt, kT0 - kDay, kT0 + kDay}, totals));
  CHECK(totals.count == 3);
  CHECK(totals.success == 3);
  CHECK(totals.cost_usd == Approx(1.75));
  CHECK(totals.total_tokens == 300);
  // The next poll of the same calls is unchanged: nothing more is stored.
  REQUIRE(fixture->write(makeBatch(
              "xy", kT0 + 20'000,
              {call("a", kT0 - 2'000, "success", 1.0), call("b", kT0 - 1'000, "success", 0.5),
               call("c", kT0 + 5'000, "success", 0.25)})) == sdk::WriteResult::kOk);
  CHECK(fixture->integer("SELECT count(*) FROM codex_invocations") == 3);
  REQUIRE(fixture->store().totals({std::nullopt, kT0 - kDay, kT0 + kDay}, totals));
  CHECK(totals.count == 3);
  CHECK(totals.cost_usd == Approx(1.75));
}
