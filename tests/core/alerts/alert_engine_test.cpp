#include "core/alerts/alert_engine.hpp"

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/sdk/streams.hpp"
#include "gatherd/sdk/testing/manual_clock.hpp"
#include "gatherd/sdk/testing/temp_dir.hpp"
#include <unistd.h>

using namespace gatherd;
using core::AlertOptions;

namespace {

/// The engine as the core runs it: each window is first counted by a SourceStatusRegistry, whose
/// failures in a row observe() is given.
class AlertEngine : public core::AlertEngine {
 public:
  using core::AlertEngine::AlertEngine;
  std::vector<sdk::Record> observe(const sdk::Batch& batch) {
    const std::string& source = batch.window.source;
    if (!registry_.find(source)) registry_.add(source, "test", 10'000);
    registry_.recordWindow(batch.window);
    return core::AlertEngine::observe(batch, registry_.find(source)->consecutive_failures);
  }

 private:
  core::SourceStatusRegistry registry_;
};

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 60 * kMinute;

sdk::Batch window(const std::string& source, sdk::Outcome outcome = sdk::Outcome::kOk,
                  sdk::AuthState auth = sdk::AuthState::kOk) {
  sdk::Batch batch;
  batch.window.source = source;
  batch.window.outcome = outcome;
  batch.window.auth_state = auth;
  if (outcome != sdk::Outcome::kOk) batch.window.message = "upstream said no";
  return batch;
}

sdk::Record call(const std::string& id, std::int64_t time_ms, bool ok) {
  sdk::Record record;
  record.stream = sdk::streams::kInvocation;
  record.key = id;
  record.time_ms = time_ms;
  record.fields[sdk::streams::invocation::kStatus] = std::string(ok ? "success" : "failure");
  return record;
}

sdk::Record quotaRecord(double limit, double used, std::int64_t reset_ms, std::int64_t expires_ms) {
  namespace q = sdk::streams::quota;
  sdk::Record record;
  record.stream = sdk::streams::kQuota;
  record.key = "codex";
  record.fields[q::kService] = std::string("codex");
  record.fields[q::kBillingType] = std::string("amount");
  record.fields[q::kAmountLimitUsd] = limit;
  record.fields[q::kAmountUsedUsd] = used;
  record.fields[q::kAmountRemainingUsd] = limit - used;
  if (reset_ms > 0) record.fields[q::kPeriodResetAt] = json::formatIsoUtc(reset_ms);
  if (expires_ms > 0) record.fields[q::kExpiresAt] = json::formatIsoUtc(expires_ms);
  return record;
}

std::string stateOf(const sdk::Record& record) {
  return *record.get<std::string>("state");
}
std::string ruleOf(const sdk::Record& record) {
  return *record.get<std::string>("rule");
}

}  // namespace

TEST_CASE("auth fires once when the session expires and resolves once when it is ok again") {
  sdk::testing::ManualClock clock;
  AlertEngine engine({}, clock);
  REQUIRE(engine.observe(window("xy")).empty());
  auto fired = engine.observe(window("xy", sdk::Outcome::kAuthError, sdk::AuthState::kExpired));
  REQUIRE(fired.size() == 1);
  CHECK(ruleOf(fired[0]) == "auth");
  CHECK(stateOf(fired[0]) == "firing");
  CHECK(fired[0].stream == "alert");
  CHECK(*fired[0].get<std::string>("auth_state") == "expired");
  for (int i = 0; i < 3; ++i) {
    clock.advance(10'000);
    // source_down opens after 6 bad windows; nothing else repeats
    for (const auto& record :
         engine.observe(window("xy", sdk::Outcome::kAuthError, sdk::AuthState::kExpired))) {
      CHECK(ruleOf(record) != "auth");
    }
  }
  CHECK(engine.openAlerts().size() == 1);
  clock.advance(10'000);
  auto resolved = engine.observe(window("xy"));
  REQUIRE(resolved.size() == 1);
  CHECK(stateOf(resolved[0]) == "resolved");
  CHECK(resolved[0].key == fired[0].key);
  CHECK(engine.openAlerts().empty());
  REQUIRE(engine.recentAlerts().size() == 1);
  CHECK(engine.recentAlerts()[0].resolved_ms == clock.utcNowMs());
  // a missing cookie is an auth alert too
  auto missing = engine.observe(window("xy", sdk::Outcome::kAuthError, sdk::AuthState::kMissing));
  REQUIRE(missing.size() == 1);
  CHECK(*missing[0].get<std::string>("auth_state") == "missing");
}

TEST_CASE("source_down fires at the Nth consecutive bad window and resolves at the first ok") {
  sdk::testing::ManualClock clock;
  AlertOptions options;
  options.source_down_windows = 3;
  AlertEngine engine(options, clock);
  for (int i = 0; i < 2; ++i) {
    CHECK(engine.observe(window("xy", sdk::Outcome::kTimeout, sdk::AuthState::kUnknown)).empty());
  }
  auto fired = engine.observe(window("xy", sdk::Outcome::kTimeout, sdk::AuthState::kUnknown));
  REQUIRE(fired.size() == 1);
  CHECK(ruleOf(fired[0]) == "source_down");
  CHECK(*fired[0].get<std::int64_t>("windows") == 3);
  CHECK(*fired[0].get<std::string>("outcome") == "timeout");
  CHECK(engine.observe(window("xy", sdk::Outcome::kHttpError, sdk::AuthState::kUnknown)).empty());
  // aborted windows (shutdown) change nothing
  CHECK(engine.observe(window("xy", sdk::Outcome::kAborted, sdk::AuthState::kUnknown)).empty());
  auto resolved = engine.observe(window("xy", sdk::Outcome::kOk, sdk::AuthState::kUnknown));
  REQUIRE(resolved.size() == 1);
  CHECK(stateOf(resolved[0]) == "resolved");
  CHECK(engine.observe(window("xy")).empty());
}

TEST_CASE("failures fires above the ratio with enough calls and resolves below it") {
  sdk::testing::ManualClock clock;
  AlertEngine engine({}, clock);  // 15 min, at least 5 calls, ratio 0.5
  const std::int64_t t0 = clock.utcNowMs();
  auto batch = window("xy");
  batch.records = {call("a", t0, false), call("b", t0, false), call("c", t0, false),
                   call("d", t0, true)};
  CHECK(engine.observe(batch).empty());  // 4 calls: fewer than failure_min_calls
  batch.records = {call("e", t0, true)};
  auto fired = engine.observe(batch);  // 3 of 5 failed
  REQUIRE(fired.size() == 1);
  CHECK(ruleOf(fired[0]) == "failures");
  CHECK(*fired[0].get<std::int64_t>("failed") == 3);
  CHECK(*fired[0].get<std::int64_t>("calls") == 5);
  // the same records seen again (an update) are not counted twice
  batch.records = {call("a", t0, false), call("f", t0, false)};
  CHECK(engine.observe(batch).empty());
  batch.records = {call("g", t0, true), call("h", t0, true)};
  auto resolved = engine.observe(batch);  // 4 of 8: not above 0.5
  REQUIRE(resolved.size() == 1);
  CHECK(stateOf(resolved[0]) == "resolved");
  CHECK(engine.openAlerts().empty());
  REQUIRE(engine.recentAlerts().size() == 1);
  CHECK(engine.recentAlerts()[0].rule == "failures");
}

TEST_CASE("failures resolves when the failed calls age out of the window") {
  sdk::testing::ManualClock clock;
  AlertEngine engine({}, clock);
  const std::int64_t t0 = clock.utcNowMs();
  auto batch = window("xy");
  for (int i = 0; i < 5; ++i) batch.records.push_back(call("k" + std::to_string(i), t0, false));
  REQUIRE(engine.observe(batch).size() == 1);
  clock.advance(14 * kMinute);
  CHECK(engine.observe(window("xy")).empty());
  clock.advance(2 * kMinute);
  auto resolved = engine.observe(window("xy"));
  REQUIRE(resolved.size() == 1);
  CHECK(stateOf(resolved[0]) == "resolved");
}

TEST_CASE("gap fires with its span, extends while gaps go on, resolves at a clean window") {
  sdk::testing::ManualClock clock;
  AlertEngine engine({}, clock);
  auto batch = window("xy");
  batch.window.gap_suspected = true;
  batch.window.gap_from_ms = 1'772'000'000'000;
  batch.window.gap_to_ms = 1'772'000'010'000;
  auto fired = engine.observe(batch);
  REQUIRE(fired.size() == 1);
  CHECK(ruleOf(fired[0]) == "gap");
  CHECK(*fired[0].get<std::string>("gap_from") == "2026-02-25T06:13:20Z");
  CHECK(*fired[0].get<std::string>("gap_to") == "2026-02-25T06:13:30Z");
  batch.window.gap_to_ms += 10'000;
  CHECK(engine.observe(batch).empty());
  auto resolved = engine.observe(window("xy"));
  REQUIRE(resolved.size() == 1);
  CHECK(*resolved[0].get<std::string>("gap_to") == "2026-02-25T06:13:40Z");
}

TEST_CASE("quota fires below quota_remaining and resolves after a reset") {
  sdk::testing::ManualClock clock;
  AlertEngine engine({}, clock);
  const std::int64_t now = clock.utcNowMs();
  auto batch = window("xy");
  batch.records = {quotaRecord(100, 50, now + 10 * 24 * kHour, 0)};
  CHECK(engine.observe(batch).empty());
  batch.records = {quotaRecord(100, 95, now + 10 * 24 * kHour, 0)};
  auto fired = engine.observe(batch);
  REQUIRE(fired.size() == 1);
  CHECK(ruleOf(fired[0]) == "quota");
  CHECK(*fired[0].get<std::string>("subject") == "codex:low");
  CHECK(*fired[0].get<double>("remaining") == Approx(5));
  CHECK(engine.observe(batch).empty());
  batch.records = {quotaRecord(100, 0, now + 40 * 24 * kHour, 0)};
  auto resolved = engine.observe(batch);
  REQUIRE(resolved.size() == 1);
  CHECK(stateOf(resolved[0]) == "resolved");
}

TEST_CASE("quota forecast: at the rate of the forecast window the plan runs out before reset") {
  sdk::testing::ManualClock clock;
  AlertOptions options;
  options.forecast_window_ms = 4 * kHour;  // history needs forecast_window / 24 = 10 min
  AlertEngine engine(options, clock);
  const std::int64_t reset = clock.utcNowMs() + 48 * kHour;
  auto batch = window("xy");
  // $1 per hour with $30 left and 48 h to the reset: runs out in 30 h -> alert
  double used = 10;
  batch.records = {quotaRecord(40, used, reset, 0)};
  CHECK(engine.observe(batch).empty());  // one sample: no rate yet
  CHECK_FALSE(engine.forecasts()[0].rate_known);
  std::vector<sdk::Record> fired;
  for (int i = 0; i < 6 && fired.empty(); ++i) {
    clock.advance(5 * kMinute);
    used += 1.0 / 12;
    batch.records = {quotaRecord(40, used, reset, 0)};
    fired = engine.observe(batch);
  }
  REQUIRE(fired.size() == 1);
  // it fired at 10 min of history (forecast_window / 24), not at 5
  CHECK(clock.utcNowMs() - (reset - 48 * kHour) == 10 * kMinute);
  CHECK(*fired[0].get<std::string>("subject") == "codex:forecast");
  CHECK(*fired[0].get<double>("rate_per_hour") == Approx(1.0));
  const auto runs_out = json::parseTimestamp(*fired[0].get<std::string>("runs_out_at"), 0);
  REQUIRE(runs_out);
  CHECK(*runs_out - clock.utcNowMs() ==
        Approx(static_cast<double>((40 - used) * kHour)).epsilon(0.001));
  auto forecasts = engine.forecasts();
  REQUIRE(forecasts.size() == 1);
  CHECK(forecasts[0].rate_known);
  CHECK(forecasts[0].rate_per_hour == Approx(1.0));
  // spending stops: after the window has moved on the rate falls and the forecast resolves
  std::vector<sdk::Record> resolved;
  for (int i = 0; i < 60 && resolved.empty(); ++i) {
    clock.advance(10 * kMinute);
    batch.records = {quotaRecord(40, used, reset, 0)};
    resolved = engine.observe(batch);
  }
  REQUIRE(resolved.size() == 1);
  CHECK(stateOf(resolved[0]) == "resolved");
  CHECK(*resolved[0].get<std::string>("subject") == "codex:forecast");
}

TEST_CASE("plan_expiry fires within expiry_warn and resolves when the plan is renewed") {
  sdk::testing::ManualClock clock;
  AlertEngine engine({}, clock);
  const std::int64_t now = clock.utcNowMs();
  auto batch = window("xy");
  batch.records = {quotaRecord(100, 1, 0, now + 5 * 24 * kHour)};
  CHECK(engine.observe(batch).empty());
  clock.advance(2 * 24 * kHour + kMinute);
  auto fired = engine.observe(batch);
  REQUIRE(fired.size() == 1);
  CHECK(ruleOf(fired[0]) == "plan_expiry");
  batch.records = {quotaRecord(100, 1, 0, now + 35 * 24 * kHour)};
  auto resolved = engine.observe(batch);
  REQUIRE(resolved.size() == 1);
  CHECK(ruleOf(resolved[0]) == "plan_expiry");
  CHECK(stateOf(resolved[0]) == "resolved");
}

TEST_CASE("an open alert survives a restart and is not sent again, its resolution is") {
  gatherd::sdk::testing::TempDir dir("gatherd-alerts");
  sdk::testing::ManualClock clock;
  AlertOptions options;
  options.state_file = (dir.path() / "alerts.json").string();
  std::string id;
  {
    AlertEngine engine(options, clock);
    REQUIRE(engine.load().empty());
    auto fired = engine.observe(window("xy", sdk::Outcome::kAuthError, sdk::AuthState::kExpired));
    REQUIRE(fired.size() == 1);
    id = fired[0].key;
    CHECK(engine.lastSaveError().empty());
  }
  AlertEngine restarted(options, clock);
  REQUIRE(restarted.load().empty());
  REQUIRE(restarted.openAlerts().size() == 1);
  CHECK(restarted.openAlerts()[0].id == id);
  CHECK(
      restarted.observe(window("xy", sdk::Outcome::kAuthError, sdk::AuthState::kExpired)).empty());
  clock.advance(10'000);
  auto resolved = restarted.observe(window("xy"));
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].key == id);
  CHECK(restarted.toJson(10).find("\"resolvedAt\":\"") != std::string::npos);
  // a broken state file is reported, not fatal
  std::ofstream(options.state_file) << "{not json";
  AlertEngine broken(options, clock);
  CHECK_FALSE(broken.load().empty());
  CHECK(broken.openAlerts().empty());
}

TEST_CASE("/api/alerts JSON lists open alerts, history and forecasts") {
  sdk::testing::ManualClock clock;
  AlertEngine engine({}, clock);
  engine.observe(window("xy", sdk::Outcome::kAuthError, sdk::AuthState::kExpired));
  const std::string body = engine.toJson(50);
  CHECK(body.find("\"open\":[{\"id\":\"auth|xy||") != std::string::npos);
  CHECK(body.find("\"state\":\"firing\"") != std::string::npos);
  CHECK(body.find("\"resolvedAt\":null") != std::string::npos);
  CHECK(body.find("\"authState\":\"expired\"") != std::string::npos);
  CHECK(body.find("\"recent\":[]") != std::string::npos);
}

TEST_CASE("alerts of a source no longer configured are resolved once, with the reason") {
  gatherd::sdk::testing::TempDir dir("gatherd-alerts");
  sdk::testing::ManualClock clock;
  AlertOptions options;
  options.state_file = (dir.path() / "alerts.json").string();
  {
    AlertEngine engine(options, clock);
    REQUIRE(engine.load().empty());
    REQUIRE(
        engine.observe(window("gone", sdk::Outcome::kAuthError, sdk::AuthState::kExpired)).size() ==
        1);
    REQUIRE(
        engine.observe(window("kept", sdk::Outcome::kAuthError, sdk::AuthState::kMissing)).size() ==
        1);
  }
  // Restarted with a config that has only "kept".
  AlertEngine restarted(options, clock);
  REQUIRE(restarted.load().empty());
  REQUIRE(restarted.openAlerts().size() == 2);
  clock.advance(5'000);
  auto retired = restarted.retireSources({"kept"});
  REQUIRE(retired.size() == 1);
  CHECK(stateOf(retired[0]) == "resolved");
  CHECK(*retired[0].get<std::string>("source") == "gone");
  CHECK(*retired[0].get<std::string>("reason") == "the source is no longer configured");
  REQUIRE(restarted.openAlerts().size() == 1);
  CHECK(restarted.openAlerts()[0].source == "kept");
  CHECK(restarted.retireSources({"kept"}).empty());  // once
  // The resolution was saved: a later start does not bring the alert back.
  AlertEngine again(options, clock);
  REQUIRE(again.load().empty());
  CHECK(again.openAlerts().size() == 1);
}

TEST_CASE("setOptions applies new thresholds, keeps open alerts and the state file") {
  gatherd::sdk::testing::TempDir dir("gatherd-alerts");
  sdk::testing::ManualClock clock;
  AlertOptions options;
  options.state_file = (dir.path() / "alerts.json").string();
  options.source_down_windows = 3;
  AlertEngine engine(options, clock);
  REQUIRE(engine.observe(window("xy", sdk::Outcome::kAuthError, sdk::AuthState::kExpired)).size() ==
          1);
  AlertOptions reloaded = options;
  reloaded.source_down_windows = 2;
  reloaded.state_file = (dir.path() / "elsewhere.json").string();
  engine.setOptions(reloaded);
  CHECK(engine.options().source_down_windows == 2);
  CHECK(engine.options().state_file == options.state_file);
  CHECK(engine.openAlerts().size() == 1);
  // The second bad window now opens source_down (the auth alert stays open, not sent again).
  auto fired = engine.observe(window("xy", sdk::Outcome::kHttpError, sdk::AuthState::kExpired));
  REQUIRE(fired.size() == 1);
  CHECK(ruleOf(fired[0]) == "source_down");
  reloaded.enabled = false;
  engine.setOptions(reloaded);
  CHECK(engine.observe(window("xy")).empty());  // disabled: nothing resolves or fires
}
