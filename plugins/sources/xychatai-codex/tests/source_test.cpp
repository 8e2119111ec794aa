// Over 500 lines: the source against the fake upstream: one case per upstream behaviour of
// UPSTREAM.md, sharing its fixture.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <Poco/Net/ServerSocket.h>
#include <catch2/catch.hpp>

#include "fake_upstream/connect_proxy.hpp"
#include "fake_upstream/fake_upstream.hpp"
#include "fake_upstream/test_certificates.hpp"
#include "gatherd/sdk/streams.hpp"
#include "gatherd/sdk/testing/fake_host.hpp"
#include "gatherd/sdk/testing/temp_dir.hpp"
#include "xychatai_source.hpp"

namespace {

using gatherd::plugins::xychatai::effectiveProxy;
using gatherd::plugins::xychatai::Settings;
using gatherd::plugins::xychatai::settingsSchema;
using gatherd::plugins::xychatai::XychataiSource;
using gatherd::plugins::xychatai::testing::ConnectProxy;
using gatherd::plugins::xychatai::testing::expiredSessionBody;
using gatherd::plugins::xychatai::testing::FakeUpstream;
using gatherd::plugins::xychatai::testing::readFile;
using gatherd::plugins::xychatai::testing::RollingRecords;
using gatherd::plugins::xychatai::testing::ScriptedResponse;
using gatherd::plugins::xychatai::testing::TestCertificates;
using gatherd::sdk::AuthState;
using gatherd::sdk::Batch;
using gatherd::sdk::CancelToken;
using gatherd::sdk::Config;
using gatherd::sdk::Outcome;
using gatherd::sdk::PollContext;
using gatherd::sdk::Record;
using gatherd::sdk::testing::FakeHost;
using gatherd::sdk::testing::TempDir;
namespace inv = gatherd::sdk::streams::invocation;

constexpr const char* kCookie = "SYNTHETIC-session-cookie-0123456789abcdef";
constexpr const char* kApiKey = "sk-SYNTHETIC-REDACT-ME-0000000000000000";
constexpr auto kWait = std::chrono::seconds(10);

const TestCertificates& certificates() {
  static TempDir directory("gatherd-xychatai");
  static const TestCertificates made = TestCertificates::create(directory.path().string());
  return made;
}

std::string fixture(const std::string& name) {
  return readFile(std::string(GATHERD_PLUGIN_SOURCE_DIR) + "/tests/testdata/" + name);
}

std::unique_ptr<FakeUpstream> httpsUpstream(bool wrong_name = false) {
  FakeUpstream::Options options;
  options.tls_certificate =
      wrong_name ? certificates().wrong_name_cert : certificates().localhost_cert;
  options.tls_key = wrong_name ? certificates().wrong_name_key : certificates().localhost_key;
  auto upstream = std::make_unique<FakeUpstream>(options);
  upstream->start();
  return upstream;
}

/// The config the host would hand over: every schema default, then the test's values.
Config makeConfig(std::map<std::string, std::string> values) {
  std::map<std::string, std::string, std::less<>> all;
  for (const auto& key : settingsSchema()) {
    if (!key.default_value.empty()) all[key.name] = key.default_value;
  }
  for (auto& [name, value] : values) all[name] = value;
  return Config("xy", std::move(all));
}

struct Harness {
  FakeHost host{"xy"};
  XychataiSource source;

  gatherd::sdk::Status init(const FakeUpstream& upstream,
                            std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> values = {
        {"base_url", upstream.baseUrl()}, {"ca_file", certificates().ca_file}, {"cookie", kCookie}};
    for (auto& [name, value] : extra) values[name] = value;
    return source.init(makeConfig(values), host);
  }
  Batch poll(std::int64_t deadline_in_ms = 60'000, CancelToken* token = nullptr) {
    CancelToken own;
    PollContext context;
    context.window_ms = host.clock().utcNowMs();
    context.deadline_steady_ms = host.clock().steadyNowMs() + deadline_in_ms;
    context.cancel = token != nullptr ? token : &own;
    Batch batch;
    batch.window.source = "xy";
    source.poll(context, batch);
    return batch;
  }
};

std::vector<const Record*> invocations(const Batch& batch) {
  std::vector<const Record*> result;
  for (const auto& record : batch.records) {
    if (record.stream == "invocation") result.push_back(&record);
  }
  return result;
}

std::size_t countOccurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("rolling polls over HTTPS emit every record exactly once", "[source][https]") {
  auto upstream = httpsUpstream();
  upstream->setResponder(RollingRecords(5).responder());
  Harness harness;
  REQUIRE(harness.init(*upstream));

  std::multiset<std::string> keys;
  for (int poll = 1; poll <= 8; ++poll) {
    const Batch batch = harness.poll();
    INFO("poll " << poll << ": " << batch.window.message);
    REQUIRE(batch.window.outcome == Outcome::kOk);
    CHECK(batch.window.http_status == 200);
    CHECK(batch.window.records_seen == std::min(20, poll * 5));
    CHECK(batch.window.auth_state == AuthState::kOk);
    CHECK_FALSE(batch.window.gap_suspected);
    const auto records = invocations(batch);
    CHECK(records.size() == 5);
    for (const auto* record : records) keys.insert(record->key);
    harness.host.manualClock().advance(10'000);
  }
  CHECK(keys.size() == 40);
  for (const auto& key : keys) CHECK(keys.count(key) == 1);
  CHECK(keys.count(RollingRecords::requestId(0) + "|2026-02-25T06:13:20Z") == 1);

  const auto seen = upstream->seenRequests();
  REQUIRE(seen.size() == 8);
  CHECK(seen[0].cookie == std::string("share-session=") + kCookie);
  CHECK(seen[0].uri == "/frontend-api/vibe-code/quota");
  CHECK(seen[0].user_agent.find("gatherd/0.0.0-test") != std::string::npos);
  CHECK(seen[0].accept_encoding.find("gzip") != std::string::npos);
  CHECK(upstream->connections() == 1);  // sequential polls share one kept-alive connection
}

TEST_CASE("a burst of more than 20 calls between two polls is a suspected gap", "[source][gap]") {
  auto upstream = httpsUpstream();
  const RollingRecords rolling(0);
  upstream->enqueue(ScriptedResponse::json(rolling.bodyWithTotal(20)));
  upstream->enqueue(ScriptedResponse::json(rolling.bodyWithTotal(45)));
  upstream->enqueue(ScriptedResponse::json(rolling.bodyWithTotal(50)));
  Harness harness;
  REQUIRE(harness.init(*upstream));

  const Batch first = harness.poll();
  REQUIRE(first.window.outcome == Outcome::kOk);
  CHECK_FALSE(first.window.gap_suspected);  // nothing to compare with after start

  const Batch burst = harness.poll();
  REQUIRE(burst.window.outcome == Outcome::kOk);
  CHECK(burst.window.gap_suspected);
  CHECK(invocations(burst).size() == 20);
  const std::int64_t newest_of_first = 1'772'000'000'000 + 19 * 3'000;
  const std::int64_t oldest_of_burst = 1'772'000'000'000 + 25 * 3'000;
  CHECK(burst.window.gap_from_ms == newest_of_first);
  CHECK(burst.window.gap_to_ms == oldest_of_burst);
  CHECK(burst.window.message.find("lost") != std::string::npos);
  CHECK(harness.host.counter("gaps_suspected") == 1);

  const Batch after = harness.poll();
  REQUIRE(after.window.outcome == Outcome::kOk);
  CHECK_FALSE(after.window.gap_suspected);
  CHECK(invocations(after).size() == 5);
}

TEST_CASE(
    "a record whose status changes is emitted again, an exact repeat is not, quota "
    "every 5 minutes",
    "[source][dedup]") {
  auto upstream = httpsUpstream();
  const std::string running = R"({"code":1,"msg":"success","data":{"codex":{"isAuth":true,)"
                              R"("currentUsage":{"totalRequests":1},"recentRecords":[)"
                              R"({"requestId":"r-1","requestTime":"2026-02-25 10:00:00",)"
                              R"("status":"running","cost":0,"totalTokens":0}]}}})";
  std::string finished = running;
  finished.replace(finished.find("\"running\",\"cost\":0,\"totalTokens\":0"),
                   std::string("\"running\",\"cost\":0,\"totalTokens\":0").size(),
                   "\"success\",\"cost\":0.25,\"totalTokens\":900");
  upstream->enqueue(ScriptedResponse::json(running));
  upstream->enqueue(ScriptedResponse::json(finished));
  upstream->setDefault(ScriptedResponse::json(finished));
  Harness harness;
  REQUIRE(harness.init(*upstream));

  const Batch first = harness.poll();
  REQUIRE(invocations(first).size() == 1);
  CHECK(invocations(first)[0]->get<std::string>(inv::kStatus) == "running");
  CHECK(first.records.size() == 2);  // + the first quota snapshot
  CHECK(first.window.records_emitted == 2);

  const Batch changed = harness.poll();
  REQUIRE(invocations(changed).size() == 1);
  CHECK(invocations(changed)[0]->key == invocations(first)[0]->key);
  CHECK(invocations(changed)[0]->get<std::string>(inv::kStatus) == "success");
  CHECK(invocations(changed)[0]->get<double>(inv::kCostUsd) == Approx(0.25));
  CHECK(changed.records.size() == 1);  // quota unchanged

  const Batch repeat = harness.poll();
  CHECK(repeat.window.outcome == Outcome::kOk);
  CHECK(repeat.records.empty());
  CHECK(repeat.window.records_seen == 1);
  CHECK(repeat.window.records_emitted == 0);

  harness.host.manualClock().advance(5 * 60 * 1000);
  const Batch later = harness.poll();
  REQUIRE(later.records.size() == 1);
  CHECK(later.records[0].stream == "quota");
}

TEST_CASE("401, 403, code -1, an HTML page and a login redirect are auth errors reported once",
          "[source][auth]") {
  auto upstream = httpsUpstream();
  upstream->enqueue(ScriptedResponse::json(fixture("quota-happy.json")));
  upstream->enqueue(ScriptedResponse::json(R"({"code":401,"msg":"unauthorized"})", 401));
  upstream->enqueue(ScriptedResponse::json("forbidden", 403));
  upstream->enqueue(ScriptedResponse::json(expiredSessionBody()));
  ScriptedResponse html = ScriptedResponse::json(fixture("challenge.html"), 200);
  html.content_type = "text/html; charset=utf-8";
  upstream->enqueue(html);
  ScriptedResponse redirect = ScriptedResponse::json("", 302);
  redirect.headers = {{"Location", "/pastel/#/login?redirect=vibe-code"}};
  upstream->enqueue(redirect);
  upstream->setDefault(ScriptedResponse::json(fixture("quota-happy.json")));
  Harness harness;
  REQUIRE(harness.init(*upstream));

  CHECK(harness.poll().window.auth_state == AuthState::kOk);
  for (int status : {401, 403, 200, 200, 302}) {
    const Batch batch = harness.poll();
    INFO(batch.window.message);
    CHECK(batch.window.outcome == Outcome::kAuthError);
    CHECK(batch.window.http_status == status);
    CHECK(batch.window.auth_state == AuthState::kExpired);
    CHECK(batch.window.message.find("XY_SESSION_COOKIE_VALUE") != std::string::npos);
    CHECK(batch.window.message.find("share-session") != std::string::npos);
    CHECK(batch.records.empty());
  }
  const Batch recovered = harness.poll();
  CHECK(recovered.window.outcome == Outcome::kOk);
  CHECK(recovered.window.auth_state == AuthState::kOk);

  const auto reports = harness.host.authReports();
  REQUIRE(reports.size() == 3);
  CHECK(reports[0].state == AuthState::kOk);
  CHECK(reports[1].state == AuthState::kExpired);
  CHECK(reports[1].hint.find("XY_SESSION_COOKIE_VALUE") != std::string::npos);
  CHECK(reports[2].state == AuthState::kOk);
  const std::string logs = harness.host.allLogText();
  CHECK(countOccurrences(logs, "auth state expired") == 1);
  CHECK(countOccurrences(logs, "auth state ok") == 2);
}

TEST_CASE("no cookie configured: init succeeds, polls are auth errors without a request",
          "[source][auth]") {
  auto upstream = httpsUpstream();
  upstream->setDefault(ScriptedResponse::json(fixture("quota-happy.json")));
  Harness harness;
  REQUIRE(harness.init(*upstream, {{"cookie", ""}}));
  for (int i = 0; i < 3; ++i) {
    const Batch batch = harness.poll();
    CHECK(batch.window.outcome == Outcome::kAuthError);
    CHECK(batch.window.auth_state == AuthState::kMissing);
    CHECK(batch.window.message.find("XY_SESSION_COOKIE_VALUE") != std::string::npos);
  }
  CHECK(upstream->requests() == 0);
  const auto reports = harness.host.authReports();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].state == AuthState::kMissing);
  CHECK(countOccurrences(harness.host.allLogText(), "auth state missing") == 1);
}

TEST_CASE("5xx, 522, business codes and broken bodies are classified", "[source][errors]") {
  auto upstream = httpsUpstream();
  upstream->enqueue(ScriptedResponse::json("<html>bad gateway</html>", 502));
  upstream->enqueue(ScriptedResponse::json("", 522));
  upstream->enqueue(ScriptedResponse::json(fixture("quota-code-zero.json")));
  upstream->enqueue(ScriptedResponse::json(fixture("quota-truncated.json")));
  upstream->enqueue(ScriptedResponse::json(fixture("quota-no-data.json")));
  upstream->setDefault(ScriptedResponse::json(fixture("quota-happy.json")));
  Harness harness;
  REQUIRE(harness.init(*upstream));

  const Batch bad_gateway = harness.poll();
  CHECK(bad_gateway.window.outcome == Outcome::kHttpError);
  CHECK(bad_gateway.window.http_status == 502);
  CHECK(bad_gateway.window.message.find("HTTP 502") != std::string::npos);
  const Batch cloudflare = harness.poll();
  CHECK(cloudflare.window.outcome == Outcome::kHttpError);
  CHECK(cloudflare.window.http_status == 522);
  const Batch business = harness.poll();
  CHECK(business.window.outcome == Outcome::kHttpError);
  CHECK(business.window.message.find("quota unavailable") != std::string::npos);
  const Batch truncated = harness.poll();
  CHECK(truncated.window.outcome == Outcome::kParseError);
  const Batch no_data = harness.poll();
  CHECK(no_data.window.outcome == Outcome::kParseError);
  const Batch ok = harness.poll();
  CHECK(ok.window.outcome == Outcome::kOk);
  CHECK(invocations(ok).size() == 20);
  // None of these failures is about the session.
  CHECK(harness.host.authReports().size() == 1);
}

TEST_CASE("a rejected record is counted and reported, the others are kept", "[source]") {
  auto upstream = httpsUpstream();
  upstream->setDefault(ScriptedResponse::json(fixture("quota-lenient-records.json")));
  Harness harness;
  REQUIRE(harness.init(*upstream));
  const Batch batch = harness.poll();
  CHECK(batch.window.outcome == Outcome::kOk);
  CHECK(batch.window.records_seen == 12);
  CHECK(batch.window.records_rejected == 4);
  CHECK(invocations(batch).size() == 8);
  CHECK(batch.window.message.find("4 of 12 records rejected") != std::string::npos);
  CHECK(harness.host.counter("records_rejected") == 4);
}

TEST_CASE("a hung response is cut at the deadline and later polls still work",
          "[source][deadline]") {
  auto upstream = httpsUpstream();
  Harness harness;
  REQUIRE(harness.init(*upstream));
  upstream->setDefault(ScriptedResponse::json(fixture("quota-happy.json")));
  REQUIRE(harness.poll().window.outcome == Outcome::kOk);  // a kept-alive connection exists

  for (auto mode : {ScriptedResponse::Mode::kHang, ScriptedResponse::Mode::kDrip}) {
    INFO((mode == ScriptedResponse::Mode::kHang ? "hang" : "drip"));
    ScriptedResponse stuck = ScriptedResponse::json(fixture("quota-happy.json"));
    stuck.mode = mode;
    upstream->enqueue(stuck);
    const std::int64_t before = upstream->requests();
    Batch result;
    CancelToken token;  // the core's: its scheduler cancels the poll at the deadline
    std::thread poller([&] { result = harness.poll(30'000, &token); });
    REQUIRE(upstream->waitForRequests(before + 1, kWait));
    harness.host.manualClock().advance(30'000);  // the deadline passes
    token.cancel();
    poller.join();
    CHECK(result.window.outcome == Outcome::kTimeout);
    CHECK(result.records.empty());

    const Batch next = harness.poll();
    CHECK(next.window.outcome == Outcome::kOk);
  }

  SECTION("the core's cancel interrupts a hung poll before its deadline") {
    ScriptedResponse stuck = ScriptedResponse::json("{}");
    stuck.mode = ScriptedResponse::Mode::kHang;
    upstream->enqueue(stuck);
    const std::int64_t before = upstream->requests();
    CancelToken token;
    Batch result;
    std::thread poller([&] { result = harness.poll(60'000, &token); });
    REQUIRE(upstream->waitForRequests(before + 1, kWait));
    token.cancel();
    poller.join();
    CHECK(result.window.outcome == Outcome::kAborted);
    CHECK(harness.poll().window.outcome == Outcome::kOk);
  }
}

TEST_CASE("a server certificate from another CA is refused", "[source][tls]") {
  auto upstream = httpsUpstream();
  upstream->setDefault(ScriptedResponse::json(fixture("quota-happy.json")));
  Harness harness;
  REQUIRE(harness.init(*upstream, {{"ca_file", certificates().other_ca_file}}));
  const Batch batch = harness.poll();
  INFO(batch.window.message);
  CHECK(batch.window.outcome == Outcome::kTransportError);
  CHECK(batch.window.message.find("TLS") != std::string::npos);
  CHECK(upstream->requests() == 0);
}

TEST_CASE("a server certificate for another host name is refused", "[source][tls]") {
  auto upstream = httpsUpstream(/*wrong_name=*/true);
  upstream->setDefault(ScriptedResponse::json(fixture("quota-happy.json")));
  Harness harness;
  REQUIRE(harness.init(*upstream));
  const Batch batch = harness.poll();
  INFO(batch.window.message);
  CHECK(batch.window.outcome == Outcome::kTransportError);
  CHECK(batch.window.message.find("TLS") != std::string::npos);
  CHECK(upstream->requests() == 0);
}

TEST_CASE("gzip responses are decoded", "[source][gzip]") {
  auto upstream = httpsUpstream();
  ScriptedResponse gzipped = ScriptedResponse::json(fixture("quota-happy.json"));
  gzipped.gzip = true;
  upstream->setDefault(gzipped);
  Harness harness;
  REQUIRE(harness.init(*upstream));
  const Batch first = harness.poll();
  INFO(first.window.message);
  CHECK(first.window.outcome == Outcome::kOk);
  CHECK(invocations(first).size() == 20);
  CHECK(harness.poll().window.outcome == Outcome::kOk);
  CHECK(upstream->connections() == 1);  // the gzip body left the connection reusable
}

TEST_CASE("an oversized body is refused, plain or gzip-compressed", "[source][limits]") {
  auto upstream = httpsUpstream();
  const std::string huge = "{\"code\":1,\"pad\":\"" + std::string(5 * 1024 * 1024, 'x') + "\"}";
  upstream->enqueue(ScriptedResponse::json(huge));
  ScriptedResponse bomb = ScriptedResponse::json(huge);
  bomb.gzip = true;  // about 5 KB on the wire, 5 MB decoded
  upstream->enqueue(bomb);
  upstream->setDefault(ScriptedResponse::json(fixture("quota-happy.json")));
  Harness harness;
  REQUIRE(harness.init(*upstream));
  for (int i = 0; i < 2; ++i) {
    const Batch batch = harness.poll();
    INFO(batch.window.message);
    CHECK(batch.window.outcome == Outcome::kParseError);
    CHECK(batch.window.message.find("refused") != std::string::npos);
    CHECK(batch.records.empty());
  }
  CHECK(harness.poll().window.outcome == Outcome::kOk);
}

TEST_CASE("connections are reused while 2 requests are in flight, a 3rd opens a new one",
          "[source][pool]") {
  auto upstream = httpsUpstream();
  Harness harness;
  REQUIRE(harness.init(*upstream));
  auto concurrentPolls = [&](int count) {
    ScriptedResponse held = ScriptedResponse::json(fixture("quota-happy.json"));
    held.hold_until_concurrent = count;
    upstream->setDefault(held);
    std::vector<Batch> results(static_cast<std::size_t>(count));
    std::vector<std::thread> threads;
    for (int i = 0; i < count; ++i) {
      threads.emplace_back([&, i] { results[static_cast<std::size_t>(i)] = harness.poll(); });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& result : results) CHECK(result.window.outcome == Outcome::kOk);
  };

  concurrentPolls(2);  // nothing to reuse yet: two connections
  CHECK(upstream->connections() == 2);
  CHECK(harness.source.httpClient()->idleConnections() == 2);
  concurrentPolls(3);  // two reuse the kept-alive ones, the third opens a fresh one
  CHECK(upstream->connections() == 3);
  CHECK(harness.source.httpClient()->idleConnections() == 2);
  upstream->setDefault(ScriptedResponse::json(fixture("quota-happy.json")));
  CHECK(harness.poll().window.outcome == Outcome::kOk);
  CHECK(upstream->connections() == 3);
}

TEST_CASE("the cookie and the apiKey appear in no record, raw JSON, log line or message",
          "[source][secrets]") {
  auto upstream = httpsUpstream();
  std::string leaky = fixture("quota-happy.json");
  const std::string marker = "\"errorMessage\": \"request failed";
  leaky.replace(leaky.find(marker), marker.size(),
                std::string("\"echo\": \"") + kApiKey + "\", \"errorMessage\": \"cookie " +
                    kCookie + " request failed");
  upstream->enqueue(ScriptedResponse::json(leaky));
  upstream->enqueue(
      ScriptedResponse::json(std::string(R"({"code":0,"msg":"bad cookie )") + kCookie + "\"}"));
  upstream->enqueue(ScriptedResponse::json("denied", 401));
  upstream->enqueue(ScriptedResponse::json(expiredSessionBody()));
  upstream->setDefault(ScriptedResponse::json(leaky));
  Harness harness;
  REQUIRE(harness.init(*upstream));

  std::vector<Batch> batches;
  for (int i = 0; i < 6; ++i) {
    batches.push_back(harness.poll());
    harness.host.manualClock().advance(5 * 60 * 1000);
  }
  CHECK(batches[0].window.outcome == Outcome::kOk);
  CHECK(batches[1].window.outcome == Outcome::kHttpError);
  CHECK(batches[1].window.message.find("[redacted]") != std::string::npos);
  std::size_t records = 0;
  for (const auto& batch : batches) {
    CHECK(batch.window.message.find(kCookie) == std::string::npos);
    CHECK(batch.window.message.find(kApiKey) == std::string::npos);
    for (const auto& record : batch.records) {
      ++records;
      CHECK(record.key.find(kCookie) == std::string::npos);
      CHECK(record.raw_json.find(kCookie) == std::string::npos);
      CHECK(record.raw_json.find(kApiKey) == std::string::npos);
      for (const auto& [name, value] : record.fields) {
        if (const auto* text = std::get_if<std::string>(&value)) {
          CHECK(text->find(kCookie) == std::string::npos);
          CHECK(text->find(kApiKey) == std::string::npos);
        }
      }
    }
  }
  CHECK(records > 20);
  const std::string logs = harness.host.allLogText();
  CHECK_FALSE(logs.empty());
  CHECK(logs.find(kCookie) == std::string::npos);
  CHECK(logs.find(kApiKey) == std::string::npos);
  for (const auto& report : harness.host.authReports()) {
    CHECK(report.hint.find(kCookie) == std::string::npos);
  }
  // The cookie did travel, where it belongs: in the request header.
  CHECK(upstream->seenRequests().front().cookie.find(kCookie) != std::string::npos);
}

TEST_CASE("two instances run side by side with their own site and cookie", "[source]") {
  auto xychatai = httpsUpstream();
  auto sharedchat = httpsUpstream();
  xychatai->setResponder(RollingRecords(3).responder());
  sharedchat->setDefault(ScriptedResponse::json(fixture("quota-happy.json")));
  Harness first;
  Harness second;
  REQUIRE(first.init(*xychatai, {{"cookie", "first-account-cookie"}}));
  REQUIRE(second.init(*sharedchat, {{"cookie", "second-account-cookie"},
                                    {"cookie_name", "session"},
                                    {"endpoint", sharedchat->baseUrl() + "/api/quota?x=1"}}));
  CHECK(invocations(first.poll()).size() == 3);
  CHECK(invocations(second.poll()).size() == 20);
  CHECK(xychatai->seenRequests().front().cookie == "share-session=first-account-cookie");
  CHECK(sharedchat->seenRequests().front().cookie == "session=second-account-cookie");
  CHECK(sharedchat->seenRequests().front().uri == "/api/quota?x=1");
}

TEST_CASE("a plain connection failure is a transport error", "[source][errors]") {
  auto upstream = httpsUpstream();
  const std::string url = upstream->baseUrl();
  upstream->stop();
  upstream.reset();  // nothing listens on that port any more
  Harness harness;
  REQUIRE(harness.source.init(
      makeConfig({{"base_url", url}, {"ca_file", certificates().ca_file}, {"cookie", kCookie}}),
      harness.host));
  const Batch batch = harness.poll();
  CHECK(batch.window.outcome == Outcome::kTransportError);
  CHECK_FALSE(batch.window.message.empty());
}

TEST_CASE("bad configuration fails init with a message naming the key", "[source][config]") {
  auto check = [](std::map<std::string, std::string> values, const std::string& key) {
    FakeHost host;
    XychataiSource source;
    const auto status = source.init(makeConfig(std::move(values)), host);
    INFO(status.message());
    CHECK_FALSE(status.ok());
    CHECK(status.message().rfind(key + ":", 0) == 0);
  };
  check({{"utc_offset", "Asia/Shanghai"}}, "utc_offset");
  check({{"service", "gemini"}}, "service");
  check({{"base_url", "ftp://example.com"}}, "base_url");
  check({{"base_url", "not a url"}}, "base_url");
  check({{"endpoint", "http//broken"}}, "endpoint");
  check({{"cookie", "a=b; c=d"}}, "cookie");
  check({{"shared_connections", "-1"}}, "shared_connections");
  check({{"ca_file", "/nonexistent/ca.pem"}}, "ca_file");
}

TEST_CASE("shared_connections = 0 never reuses a connection", "[source][pool]") {
  auto upstream = httpsUpstream();
  upstream->setDefault(ScriptedResponse::json(fixture("quota-happy.json")));
  Harness harness;
  REQUIRE(harness.init(*upstream, {{"shared_connections", "0"}}));
  for (int i = 0; i < 3; ++i) CHECK(harness.poll().window.outcome == Outcome::kOk);
  CHECK(upstream->connections() == 3);
  CHECK(harness.source.httpClient()->idleConnections() == 0);
}

TEST_CASE("the proxy setting tunnels HTTPS through an HTTP CONNECT proxy", "[source][proxy]") {
  auto upstream = httpsUpstream();
  upstream->setDefault(ScriptedResponse::json(fixture("quota-happy.json")));
  ConnectProxy proxy;
  proxy.start();
  Harness harness;
  REQUIRE(harness.init(*upstream, {{"proxy", proxy.url()}}));
  const Batch first = harness.poll();
  INFO(first.window.message);
  CHECK(first.window.outcome == Outcome::kOk);
  CHECK(invocations(first).size() == 20);
  CHECK(harness.poll().window.outcome == Outcome::kOk);
  CHECK(proxy.tunnels() == 1);  // the tunnel is kept alive like a direct connection
  CHECK(proxy.lastTarget() == "localhost:" + std::to_string(upstream->port()));
  CHECK(upstream->requests() == 2);
}

namespace {

/// Sets environment variables for one test and restores them afterwards.
class EnvironmentGuard {
 public:
  void set(const std::string& name, const char* value) {
    if (saved_.count(name) == 0) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old != nullptr ? std::optional<std::string>(old) : std::nullopt;
    }
    if (value != nullptr) {
      ::setenv(name.c_str(), value, 1);
    } else {
      ::unsetenv(name.c_str());
    }
  }
  ~EnvironmentGuard() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

}  // namespace

TEST_CASE("HTTPS_PROXY applies when proxy is unset, except for loopback and NO_PROXY hosts",
          "[settings][proxy]") {
  EnvironmentGuard environment;
  for (const char* name : {"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"}) {
    environment.set(name, nullptr);
  }
  Settings settings;
  CHECK(effectiveProxy(settings).empty());
  environment.set("HTTPS_PROXY", "proxy.internal:3128");
  CHECK(effectiveProxy(settings) == "http://proxy.internal:3128");
  settings.proxy = "http://configured:8080";
  CHECK(effectiveProxy(settings) == "http://configured:8080");
  settings.proxy.clear();
  environment.set("NO_PROXY", "example.org, .xychatai.com");
  CHECK(effectiveProxy(settings).empty());
  settings.base_url = "https://new.sharedchat.cc";
  CHECK(effectiveProxy(settings) == "http://proxy.internal:3128");
  settings.base_url = "https://localhost:8443";
  CHECK(effectiveProxy(settings).empty());
}

TEST_CASE("a server that never answers the TLS handshake is cut at the deadline",
          "[source][deadline]") {
  // The kernel completes the TCP connection from the backlog; nobody ever speaks TLS.
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0), 4);
  Harness harness;
  REQUIRE(harness.source.init(
      makeConfig({{"base_url", "https://localhost:" + std::to_string(silent.address().port())},
                  {"ca_file", certificates().ca_file},
                  {"cookie", kCookie}}),
      harness.host));
  // Poco's own timeouts would end this poll only after minutes of real time.
  std::promise<Batch> result;
  auto finished = result.get_future();
  CancelToken token;  // the core's: its scheduler cancels the poll at the deadline
  std::thread poller([&] { result.set_value(harness.poll(/*deadline_in_ms=*/300'000, &token)); });
  REQUIRE(silent.poll(Poco::Timespan(10, 0), Poco::Net::Socket::SELECT_READ));  // connected
  harness.host.manualClock().advance(300'000);
  token.cancel();
  const bool cut = finished.wait_for(kWait) == std::future_status::ready;
  CHECK(cut);
  poller.join();
  const Batch batch = finished.get();
  INFO(batch.window.message);
  CHECK(batch.window.outcome == Outcome::kTimeout);
}

// Canaries for the secret paths a review found (issue 10): each canary is unique, so a hit
// anywhere names the path that leaked it.
namespace {

/// Every text a batch carries: window message, record keys, fields and raw JSON.
std::string everythingIn(const Batch& batch) {
  std::string text = batch.window.message + "\n";
  for (const auto& record : batch.records) {
    text += record.key + "\n" + record.raw_json + "\n";
    for (const auto& [name, value] : record.fields) {
      if (const auto* field = std::get_if<std::string>(&value)) text += *field + "\n";
    }
  }
  return text;
}

}  // namespace

TEST_CASE("an echoed secret is redacted before a problem message cuts it to 40 characters",
          "[source][secrets]") {
  // 41+ characters: cut first, the first 40 would no longer match the secret and leak.
  const std::string cookie = "CANARY-cut-cookie-0123456789abcdefghijklmnop";
  auto upstream = httpsUpstream();
  std::string body = fixture("quota-happy.json");
  const std::string marker = "\"inputTokens\": 48175";
  REQUIRE(body.find(marker) != std::string::npos);
  body.replace(body.find(marker), marker.size(), "\"inputTokens\": \"" + cookie + "\"");
  const std::string time_marker = "\"requestTime\": \"";
  const auto second = body.find(time_marker, body.find(time_marker) + 1);
  REQUIRE(second != std::string::npos);
  body.insert(second + time_marker.size(), cookie + " ");  // an invalid time that echoes it
  upstream->setDefault(ScriptedResponse::json(body));
  Harness harness;
  REQUIRE(harness.init(*upstream, {{"cookie", cookie}}));
  const Batch batch = harness.poll();
  INFO(batch.window.message);
  CHECK(batch.window.outcome == Outcome::kOk);
  CHECK(batch.window.message.find("inputTokens '[redacted]'") != std::string::npos);
  CHECK(batch.window.message.find("requestTime '[redacted]") != std::string::npos);
  const std::string prefix = cookie.substr(0, 20);
  CHECK(everythingIn(batch).find(prefix) == std::string::npos);
  CHECK(harness.host.allLogText().find(prefix) == std::string::npos);
}

TEST_CASE("the apiKey learned in one poll is redacted in later polls and given to the core",
          "[source][secrets]") {
  auto upstream = httpsUpstream();
  upstream->enqueue(ScriptedResponse::json(fixture("quota-happy.json")));
  // A later error that echoes the key: no apiKey in this body, so only what was learned helps.
  upstream->enqueue(ScriptedResponse::json(std::string(R"({"code":0,"msg":"key )") + kApiKey +
                                           " is rate limited\"}"));
  upstream->setDefault(
      ScriptedResponse::json(std::string(R"({"code":2,"msg":"key )") + kApiKey + " disabled\"}"));
  Harness harness;
  REQUIRE(harness.init(*upstream));
  CHECK(harness.poll().window.outcome == Outcome::kOk);
  const Batch second = harness.poll();
  const Batch third = harness.poll();
  CHECK(second.window.outcome == Outcome::kHttpError);
  CHECK(second.window.message.find("key [redacted] is rate limited") != std::string::npos);
  CHECK(everythingIn(second).find(kApiKey) == std::string::npos);
  CHECK(everythingIn(third).find(kApiKey) == std::string::npos);
  CHECK(harness.host.allLogText().find(kApiKey) == std::string::npos);
  const auto added = harness.host.addedSecrets();
  CHECK(std::find(added.begin(), added.end(), std::string(kApiKey)) != added.end());
}

TEST_CASE("URL-encoded copies of the cookie are redacted", "[source][secrets]") {
  const std::string cookie = "CANARY/url+enc=cookie==";
  const std::string upper = "CANARY%2Furl%2Benc%3Dcookie%3D%3D";
  const std::string lower = "CANARY%2furl%2benc%3dcookie%3d%3d";
  auto upstream = httpsUpstream();
  upstream->enqueue(
      ScriptedResponse::json(R"({"code":0,"msg":"bad session=)" + upper + " or " + lower + "\"}"));
  ScriptedResponse redirect = ScriptedResponse::json("", 302);
  redirect.headers.emplace_back("Location", "https://elsewhere.test/next?s=" + upper);
  upstream->setDefault(redirect);
  Harness harness;
  REQUIRE(harness.init(*upstream, {{"cookie", cookie}}));
  for (int i = 0; i < 2; ++i) {
    const Batch batch = harness.poll();
    INFO(batch.window.message);
    CHECK(batch.window.message.find("[redacted]") != std::string::npos);
    for (const std::string& form : {cookie, upper, lower, std::string("url%2Benc")}) {
      CHECK(everythingIn(batch).find(form) == std::string::npos);
    }
  }
  const std::string logs = harness.host.allLogText();
  CHECK(logs.find(upper) == std::string::npos);
  CHECK(logs.find(lower) == std::string::npos);
}

TEST_CASE("the proxy's credentials are secrets: in the schema and in the core's log mask",
          "[source][secrets][proxy]") {
  const auto schema = settingsSchema();
  const auto proxy_key = std::find_if(schema.begin(), schema.end(),
                                      [](const auto& key) { return key.name == "proxy"; });
  REQUIRE(proxy_key != schema.end());
  CHECK(proxy_key->secret);
  auto upstream = httpsUpstream();
  upstream->setDefault(ScriptedResponse::json(fixture("quota-happy.json")));
  ConnectProxy proxy;
  proxy.start();
  const std::string password = "CANARY-proxy-password-42";
  std::string url = proxy.url();
  url.insert(url.find("://") + 3, "proxyuser:" + password + "@");
  Harness harness;
  REQUIRE(harness.init(*upstream, {{"proxy", url}}));
  const auto added = harness.host.addedSecrets();
  CHECK(std::find(added.begin(), added.end(), password) != added.end());
  CHECK(std::find(added.begin(), added.end(), url) != added.end());
  const Batch batch = harness.poll();
  CHECK(everythingIn(batch).find(password) == std::string::npos);
  CHECK(harness.host.allLogText().find(password) == std::string::npos);

  // A bad proxy value is refused without repeating it.
  XychataiSource other;
  FakeHost host{"xy"};
  const auto status = other.init(
      makeConfig({{"cookie", kCookie}, {"proxy", "ftp://user:" + password + "@proxy.test"}}), host);
  CHECK_FALSE(status);
  CHECK(status.message().find(password) == std::string::npos);
}
