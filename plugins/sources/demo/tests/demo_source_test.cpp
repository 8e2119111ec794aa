#include "demo_source.hpp"

#include <map>
#include <set>

#include <catch2/catch.hpp>

#include "gatherd/sdk/streams.hpp"
#include "gatherd/sdk/testing/fake_host.hpp"

using gatherd::plugins::demo::DemoSource;
namespace sdk = gatherd::sdk;
namespace field = sdk::streams::invocation;

namespace {

sdk::Config demoConfig(std::map<std::string, std::string, std::less<>> values) {
  values.emplace("seed", "42");
  return sdk::Config("demo", std::move(values));
}

std::vector<sdk::Record> invocations(const std::vector<sdk::Record>& records) {
  std::vector<sdk::Record> out;
  for (const auto& record : records) {
    if (record.stream == sdk::streams::kInvocation) out.push_back(record);
  }
  return out;
}

sdk::Batch pollOnce(DemoSource& source) {
  sdk::CancelToken cancel;
  sdk::PollContext context{0, 0, &cancel};
  sdk::Batch batch;
  source.poll(context, batch);
  return batch;
}

}  // namespace

TEST_CASE("the demo source emits calls at the configured rate, with whole fields") {
  sdk::testing::FakeHost host("demo");
  DemoSource source;
  REQUIRE(source.init(demoConfig({{"calls_per_minute", "60"}, {"failure_ratio", "0"}}), host));
  auto records = invocations(source.simulate(0, 600'000));
  // 60 a minute for 10 minutes; running calls come back once more when they finish.
  std::set<std::string> keys;
  for (const auto& record : records) keys.insert(record.key);
  CHECK(keys.size() == 600);
  for (const auto& record : records) {
    CHECK(record.key == *record.get<std::string>(field::kRequestId) + "|" +
                            *record.get<std::string>(field::kOccurredAt));
    CHECK(record.time_ms % 1000 == 0);
    CHECK(record.get<std::int64_t>(field::kInputTokens).has_value());
    CHECK(record.get<double>(field::kCostUsd).has_value());
    CHECK(record.raw_json.find("\"requestId\"") != std::string::npos);
  }
}

TEST_CASE("the demo source fails the configured share of calls with real error text") {
  sdk::testing::FakeHost host("demo");
  DemoSource source;
  REQUIRE(source.init(demoConfig({{"calls_per_minute", "600"}, {"failure_ratio", "0.5"}}), host));
  auto records = invocations(source.simulate(0, 600'000));
  int failed = 0;
  for (const auto& record : records) {
    if (record.get<std::string>(field::kStatus) == std::string("failed")) {
      ++failed;
      CHECK_FALSE(record.get<std::string>(field::kErrorMessage)->empty());
      CHECK(*record.get<double>(field::kCostUsd) == 0.0);
    }
  }
  CHECK(failed > 2400);
  CHECK(failed < 3600);
}

TEST_CASE("the demo source bursts and finishes running calls under the same key") {
  sdk::testing::FakeHost host("demo");
  DemoSource source;
  REQUIRE(source.init(
      demoConfig({{"calls_per_minute", "0"}, {"burst_every", "1m"}, {"burst_size", "200"}}), host));
  auto first = invocations(source.simulate(0, 60'000));
  CHECK(first.size() == 200);
  std::set<std::string> running;
  for (const auto& record : first) {
    if (record.get<std::string>(field::kStatus) == std::string("running"))
      running.insert(record.key);
  }
  REQUIRE_FALSE(running.empty());
  auto second = invocations(source.simulate(60'000, 61'000));
  std::set<std::string> finished;
  for (const auto& record : second) {
    CHECK(record.get<std::string>(field::kStatus) != std::string("running"));
    finished.insert(record.key);
  }
  CHECK(finished == running);
}

TEST_CASE("the demo source reports a quota snapshot and an ok window") {
  sdk::testing::FakeHost host("demo");
  DemoSource source;
  REQUIRE(source.init(demoConfig({{"calls_per_minute", "120"}}), host));
  host.manualClock().advance(10'000);
  sdk::Batch batch = pollOnce(source);
  CHECK(batch.window.outcome == sdk::Outcome::kOk);
  CHECK(batch.window.records_seen == static_cast<std::int64_t>(invocations(batch.records).size()));
  bool quota = false;
  for (const auto& record : batch.records) {
    if (record.stream != sdk::streams::kQuota) continue;
    quota = true;
    CHECK(record.get<double>(sdk::streams::quota::kAmountLimitUsd) == 90.0);
    CHECK(record.get<std::string>(sdk::streams::quota::kBillingType) == std::string("amount"));
  }
  CHECK(quota);
}

TEST_CASE("the demo source rejects out-of-range settings by key") {
  sdk::testing::FakeHost host("demo");
  DemoSource source;
  auto status = source.init(demoConfig({{"failure_ratio", "2"}}), host);
  REQUIRE_FALSE(status);
  CHECK(status.message().find("failure_ratio") != std::string::npos);
}
