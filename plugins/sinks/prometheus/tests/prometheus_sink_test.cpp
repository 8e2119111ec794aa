#include "prometheus_sink.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/sdk/streams.hpp"
#include "gatherd/sdk/testing/fake_host.hpp"
#include "gatherd/sdk/testing/temp_dir.hpp"
#include "sqlite_sink.hpp"
#include <unistd.h>

namespace gatherd::plugins::prometheus {
namespace {

namespace f = sdk::streams::invocation;
namespace q = sdk::streams::quota;

/// The real sqlite sink on a temp file.
struct Store {
  explicit Store(const std::string& dir) : host("db", dir) {
    std::map<std::string, std::string, std::less<>> values{{"path", dir + "/gatherd.db"}};
    if (!sink.init(sdk::Config("db", values), host).ok() || !sink.start().ok()) {
      throw std::runtime_error("sqlite sink did not start: " + host.allLogText());
    }
  }
  ~Store() { sink.stop(); }
  void write(const sdk::Batch& batch) { REQUIRE(sink.write(batch) == sdk::WriteResult::kOk); }
  sdk::testing::FakeHost host;
  plugins::sqlite::SqliteSink sink;
};

class Sources final : public sdk::Telemetry {
 public:
  explicit Sources(std::vector<std::string> names) : names_(std::move(names)) {}
  void collect(std::vector<sdk::MetricFamily>& families) const override {
    sdk::MetricFamily family;
    family.name = "gatherd_core_marker";
    family.help = "from the core";
    families.push_back(family);
    families.back().samples.push_back({});
  }
  std::vector<std::string> sourceNames() const override { return names_; }

 private:
  std::vector<std::string> names_;
};

using Values = std::map<std::string, std::string, std::less<>>;

struct Sink {
  explicit Sink(Values values = {}, sdk::Store* store = nullptr,
                std::vector<std::string> sources = {"acct"})
      : host("metrics"), telemetry(std::move(sources)) {
    host.setStore(store);
    host.setTelemetry(&telemetry);
    const auto status = sink.init(sdk::Config("metrics", values), host);
    INFO(status.message());
    REQUIRE(status.ok());
    REQUIRE(sink.start().ok());
  }
  std::string text() const { return sink.render(Format::kText); }
  sdk::testing::FakeHost host;
  Sources telemetry;
  PrometheusSink sink;
};

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

sdk::Record invocation(const std::string& id, std::int64_t time_ms, const std::string& status,
                       const std::string& model = "gpt-5-codex", double cost = 0.25,
                       std::int64_t input = 100, const std::string& error = {}) {
  sdk::Record record;
  record.stream = sdk::streams::kInvocation;
  const std::string iso = json::formatIsoUtc(time_ms);
  record.key = id + "|" + iso;
  record.time_ms = time_ms;
  record.fields = {{f::kRequestId, id},
                   {f::kRequestTime, iso},
                   {f::kOccurredAt, iso},
                   {f::kModel, model},
                   {f::kStatus, status},
                   {f::kErrorMessage, error},
                   {f::kInputTokens, input},
                   {f::kOutputTokens, std::int64_t{10}},
                   {f::kCacheInputTokens, std::int64_t{5}},
                   {f::kReasoningTokens, std::int64_t{2}},
                   {f::kTotalTokens, input + 17},
                   {f::kCostUsd, cost}};
  return record;
}

sdk::Batch batch(std::vector<sdk::Record> records, const std::string& source = "acct") {
  static std::int64_t window = 1'800'000'000'000;
  sdk::Batch result;
  result.window.source = source;
  result.window.window_ms = (window += 10'000);
  result.window.started_ms = window;
  result.window.finished_ms = window + 100;
  result.records = std::move(records);
  return result;
}

// The value of the one line that starts with `series` followed by a space.
double value(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  FAIL("no series " << series << " in\n" << text);
  return 0;
}

std::size_t seriesCount(const std::string& text) {
  std::size_t count = 0;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) count += !line.empty() && line[0] != '#';
  return count;
}

const std::string kOk =
    "gatherd_invocations_total{source=\"acct\",model=\"gpt-5-codex\",status_class=\"success\"}";
const std::string kFailed =
    "gatherd_invocations_total{source=\"acct\",model=\"gpt-5-codex\",status_class=\"failure\"}";
const std::string kCost = "gatherd_cost_usd_total{source=\"acct\",model=\"gpt-5-codex\"}";
const std::string kInput =
    "gatherd_tokens_total{source=\"acct\",model=\"gpt-5-codex\",kind=\"input\"}";

class Exchange final : public sdk::HttpExchange {
 public:
  explicit Exchange(std::string method, std::string accept = {}) {
    request_.method = std::move(method);
    request_.path = "/metrics";
    if (!accept.empty()) request_.headers["accept"] = std::move(accept);
  }
  const sdk::HttpRequest& request() const override { return request_; }
  void respond(const sdk::HttpResponse& response) override { response_ = response; }
  sdk::HttpRequest request_;
  sdk::HttpResponse response_;
};

}  // namespace

TEST_CASE("invocations, cost and tokens by source, model and status class") {
  Sink sink;
  const std::int64_t t = nowMs();
  REQUIRE(sink.sink.write(batch(
              {invocation("a", t, "success"), invocation("b", t, "failed", "gpt-5-codex", 0),
               invocation("c", t, "success", "gpt-5-codex", 0.5, 300)})) == sdk::WriteResult::kOk);
  const std::string text = sink.text();
  CHECK(value(text, kOk) == 2);
  CHECK(value(text, kFailed) == 1);
  CHECK(value(text, kCost) == Approx(0.75));
  CHECK(value(text, kInput) == 500);
  CHECK(value(text,
              "gatherd_tokens_total{source=\"acct\",model=\"gpt-5-codex\",kind=\"reasoning\"}") ==
        6);
  CHECK(text.find("gatherd_core_marker 0") != std::string::npos);  // the core's telemetry
}

TEST_CASE("a record seen again is not counted twice and a running call counts once it is final") {
  Sink sink;
  const std::int64_t t = nowMs();
  CHECK(sink.sink.write(batch(
            {invocation("a", t, "success"), invocation("r", t, "running", "gpt-5-codex", 0, 0)})) ==
        sdk::WriteResult::kOk);
  CHECK(value(sink.text(), kOk) == 1);
  CHECK(value(sink.text(), kFailed) == 0);
  // The same records again, the running one now finished with a cost.
  CHECK(sink.sink.write(batch({invocation("a", t, "success"),
                               invocation("r", t, "success", "gpt-5-codex", 1.0, 50)})) ==
        sdk::WriteResult::kOk);
  CHECK(value(sink.text(), kOk) == 2);
  CHECK(value(sink.text(), kCost) == Approx(1.25));
  CHECK(value(sink.text(), kInput) == 150);
  // A counted record whose cost grew adds the growth only; one that shrank changes nothing.
  CHECK(sink.sink.write(batch({invocation("a", t, "success", "gpt-5-codex", 0.5)})) ==
        sdk::WriteResult::kOk);
  CHECK(value(sink.text(), kCost) == Approx(1.5));
  CHECK(sink.sink.write(batch({invocation("a", t, "success", "gpt-5-codex", 0.1)})) ==
        sdk::WriteResult::kOk);
  CHECK(value(sink.text(), kCost) == Approx(1.5));
  CHECK(value(sink.text(), kOk) == 2);
}

TEST_CASE("counters survive a restart: seeded from the store, re-sent records not counted again") {
  gatherd::sdk::testing::TempDir dir("gatherd-prometheus");
  const std::int64_t t = nowMs() - 60'000;
  std::vector<sdk::Record> records;
  for (int i = 0; i < 30; ++i) {
    records.push_back(
        invocation("ok" + std::to_string(i), t + i * 1000, "success", "gpt-5-codex", 0.1));
  }
  records.push_back(invocation("bad", t + 40'000, "failed", "gpt-5-codex", 0));
  records.push_back(invocation("run", t + 41'000, "running", "gpt-5-codex", 0, 0));
  {
    Store store(dir.path().string());
    Sink first({}, store.sink.store());
    const auto written = batch(records);
    store.write(written);
    REQUIRE(first.sink.write(written) == sdk::WriteResult::kOk);
    CHECK(value(first.text(), kOk) == 30);
    CHECK(value(first.text(), kFailed) == 1);
  }
  // A new process: the same database, a fresh sink.
  Store store(dir.path().string());
  Sink second({}, store.sink.store());
  std::string text = second.text();
  CHECK(value(text, kOk) == 30);
  CHECK(value(text, kFailed) == 1);  // the running call is not a failure
  CHECK(value(text, kCost) == Approx(3.0));
  CHECK(value(text, kInput) == 3100);
  // The source re-sends its last 20 after a restart (its memory is gone); the running call
  // has finished meanwhile.
  std::vector<sdk::Record> resent(records.end() - 20, records.end());
  resent.back() = invocation("run", t + 41'000, "success", "gpt-5-codex", 0.2);
  const auto again = batch(resent);
  store.write(again);
  REQUIRE(second.sink.write(again) == sdk::WriteResult::kOk);
  text = second.text();
  CHECK(value(text, kOk) == 31);
  CHECK(value(text, kFailed) == 1);
  CHECK(value(text, kCost) == Approx(3.2));
  // A third start agrees with the second.
  Sink third({}, store.sink.store());
  CHECK(value(third.text(), kOk) == 31);
  CHECK(value(third.text(), kCost) == Approx(3.2));
}

TEST_CASE("the model label is capped: further models share model=\"other\"") {
  Sink sink(Values{{"max_models", "3"}});
  const std::int64_t t = nowMs();
  std::vector<sdk::Record> records;
  for (int i = 0; i < 10; ++i) {
    records.push_back(
        invocation("id" + std::to_string(i), t, "success", "model-" + std::to_string(i)));
  }
  records.push_back(invocation("long", t, "success", std::string(300, 'm')));
  REQUIRE(sink.sink.write(batch(records)) == sdk::WriteResult::kOk);
  const std::string text = sink.text();
  CHECK(sink.sink.data().modelLabels() == 4);
  CHECK(
      value(
          text,
          "gatherd_invocations_total{source=\"acct\",model=\"other\",status_class=\"success\"}") ==
      8);
  CHECK(value(text,
              "gatherd_invocations_total{source=\"acct\",model=\"model-0\",status_class="
              "\"success\"}") == 1);
}

TEST_CASE("10,000 distinct error messages and request ids keep the series count bounded") {
  Sink sink;
  const std::int64_t t = nowMs();
  REQUIRE(sink.sink.write(batch({invocation("first", t, "failed", "gpt-5-codex", 0, 0,
                                            "boom 0")})) == sdk::WriteResult::kOk);
  const std::size_t before = seriesCount(sink.text());
  for (int start = 0; start < 10'000; start += 500) {
    std::vector<sdk::Record> records;
    for (int i = start; i < start + 500; ++i) {
      records.push_back(invocation("req-" + std::to_string(i), t + i, "failed", "gpt-5-codex", 0, 0,
                                   "upstream said no, trace " + std::to_string(i * 7919)));
    }
    auto failed = batch(records);
    failed.window.outcome = sdk::Outcome::kHttpError;
    failed.window.message = "HTTP 502 request " + std::to_string(start);
    REQUIRE(sink.sink.write(failed) == sdk::WriteResult::kOk);
  }
  const std::string text = sink.text();
  CHECK(seriesCount(text) == before);
  CHECK(value(text, kFailed) == 10'001);
  CHECK(text.find("trace") == std::string::npos);
  CHECK(text.find("req-") == std::string::npos);
}

TEST_CASE("the latest quota snapshot becomes gauges") {
  Sink sink;
  sdk::Record quota;
  quota.stream = sdk::streams::kQuota;
  quota.key = "codex";
  quota.time_ms = 1'800'000'000'000;
  quota.fields = {{q::kPlanName, std::string("Pro \"monthly\"")},
                  {q::kBillingType, std::string("amount")},
                  {q::kAmountLimitUsd, 100.0},
                  {q::kAmountUsedUsd, 92.5},
                  {q::kAmountRemainingUsd, 7.5},
                  {q::kPeriodResetAt, std::string("2027-01-15T00:00:00Z")},
                  {q::kExpiresAt, std::string("2027-02-01T00:00:00Z")},
                  {q::kIsActive, true}};
  REQUIRE(sink.sink.write(batch({quota})) == sdk::WriteResult::kOk);
  const std::string text = sink.text();
  CHECK(value(text, "gatherd_quota_amount_remaining_usd{source=\"acct\"}") == 7.5);
  CHECK(value(text, "gatherd_quota_amount_limit_usd{source=\"acct\"}") == 100);
  CHECK(value(text, "gatherd_quota_reset_timestamp_seconds{source=\"acct\"}") == 1799971200);
  CHECK(value(text, "gatherd_quota_expiry_timestamp_seconds{source=\"acct\"}") == 1801440000);
  CHECK(value(text, "gatherd_quota_active{source=\"acct\"}") == 1);
  CHECK(value(text,
              "gatherd_quota_plan_info{source=\"acct\",plan=\"Pro "
              "\\\"monthly\\\"\",billing_type=\"amount\"}") == 1);
  CHECK(text.find("gatherd_quota_count_limit") == std::string::npos);  // not a count plan
  // An older snapshot arriving late does not replace a newer one.
  quota.time_ms -= 60'000;
  quota.fields[q::kAmountRemainingUsd] = 50.0;
  REQUIRE(sink.sink.write(batch({quota})) == sdk::WriteResult::kOk);
  CHECK(value(sink.text(), "gatherd_quota_amount_remaining_usd{source=\"acct\"}") == 7.5);
}

TEST_CASE("the route: registered with metrics_token, formats by Accept, GET and HEAD only") {
  Sink sink(Values{{"metrics_token", "scrape-secret"}, {"path", "/metrics"}});
  CHECK(sink.host.routeToken("/metrics") == "scrape-secret");
  auto route = sink.host.route("/metrics");
  REQUIRE(route);
  Exchange plain("GET");
  route(plain);
  CHECK(plain.response_.status == 200);
  CHECK(plain.response_.content_type == "text/plain; version=0.0.4; charset=utf-8");
  Exchange open("GET", "application/openmetrics-text;version=1.0.0,text/plain;q=0.5");
  route(open);
  CHECK(open.response_.content_type ==
        "application/openmetrics-text; version=1.0.0; charset=utf-8");
  CHECK(open.response_.body.substr(open.response_.body.size() - 6) == "# EOF\n");
  Exchange post("POST");
  route(post);
  CHECK(post.response_.status == 405);
}

TEST_CASE("bad keys are refused at init") {
  sdk::testing::FakeHost host("metrics");
  PrometheusSink sink;
  auto status = sink.init(sdk::Config("metrics", {{"max_models", "0"}}), host);
  CHECK_FALSE(status.ok());
  CHECK(status.message().find("max_models") != std::string::npos);
  PrometheusSink other;
  status = other.init(sdk::Config("metrics", {{"path", "metrics/"}}), host);
  CHECK_FALSE(status.ok());
}

}  // namespace gatherd::plugins::prometheus

namespace gatherd::plugins::prometheus {

TEST_CASE("the data text is rendered again only after a change") {
  Sink sink;
  const std::int64_t t = nowMs();
  REQUIRE(sink.sink.write(batch({invocation("a", t, "success")})) == sdk::WriteResult::kOk);
  const std::string first = sink.text();
  CHECK(sink.text() == first);
  REQUIRE(sink.sink.write(batch({})) == sdk::WriteResult::kOk);  // a window without records
  CHECK(sink.text() == first);
  REQUIRE(sink.sink.write(batch({invocation("b", t, "success")})) == sdk::WriteResult::kOk);
  CHECK(value(sink.text(), kOk) == 2);
  // Each format keeps its own text.
  CHECK(sink.sink.render(Format::kOpenMetrics).find("# EOF") != std::string::npos);
  CHECK(sink.text().find("# EOF") == std::string::npos);
}

}  // namespace gatherd::plugins::prometheus
