#include "parser.hpp"

#include <catch2/catch.hpp>

#include "fake_upstream/fake_upstream.hpp"
#include "gatherd/sdk/streams.hpp"

namespace {

using gatherd::plugins::xychatai::changeFingerprint;
using gatherd::plugins::xychatai::Envelope;
using gatherd::plugins::xychatai::ParsedResponse;
using gatherd::plugins::xychatai::ParseOptions;
using gatherd::plugins::xychatai::parseQuotaResponse;
using gatherd::plugins::xychatai::Redactor;
using gatherd::sdk::Record;
namespace inv = gatherd::sdk::streams::invocation;
namespace quo = gatherd::sdk::streams::quota;

std::string fixture(const std::string& name) {
  return gatherd::plugins::xychatai::testing::readFile(std::string(GATHERD_PLUGIN_SOURCE_DIR) +
                                                       "/tests/testdata/" + name);
}

ParsedResponse parseFixture(const std::string& name, const std::string& service = "codex",
                            int offset_minutes = 480) {
  ParseOptions options;
  options.service = service;
  options.utc_offset_minutes = offset_minutes;
  options.now_utc_ms = 1'772'000'000'000;
  return parseQuotaResponse(fixture(name), options);
}

const Record& byId(const ParsedResponse& parsed, const std::string& id) {
  for (const auto& record : parsed.invocations) {
    if (record.get<std::string>(inv::kRequestId) == id) return record;
  }
  FAIL("no record with requestId " << id);
  throw std::logic_error("unreachable");
}

std::string allProblems(const ParsedResponse& parsed) {
  std::string text;
  for (const auto& problem : parsed.problems) text += problem + "\n";
  return text;
}

}  // namespace

TEST_CASE("happy path: 20 records with every field, and the quota snapshot", "[parser]") {
  const auto parsed = parseFixture("quota-happy.json");
  REQUIRE(parsed.envelope == Envelope::kOk);
  CHECK(parsed.records_seen == 20);
  CHECK(parsed.records_rejected == 0);
  CHECK(parsed.problems.empty());
  REQUIRE(parsed.invocations.size() == 20);

  const Record& first = parsed.invocations.front();
  CHECK(first.stream == "invocation");
  CHECK(first.key == "fc6f031c-2d6c-4f50-aa16-ea1dd75eed90|2026-02-25T02:09:41Z");
  CHECK(first.time_ms == 1'771'985'381'000);
  CHECK(first.get<std::string>(inv::kRequestTime) == "2026-02-25 10:09:41");
  CHECK(first.get<std::string>(inv::kOccurredAt) == "2026-02-25T02:09:41Z");
  CHECK(first.get<std::string>(inv::kService) == "codex");
  CHECK(first.get<std::string>(inv::kModel) == "gpt-5.3-codex");
  CHECK(first.get<std::int64_t>(inv::kInputTokens) == 48175);
  CHECK(first.get<std::int64_t>(inv::kOutputTokens) == 1815);
  CHECK(first.get<std::int64_t>(inv::kCacheInputTokens) == 39680);
  CHECK(first.get<std::int64_t>(inv::kCacheCreationTokens) == 0);
  CHECK(first.get<std::int64_t>(inv::kCacheReadTokens) == 39680);
  CHECK(first.get<std::int64_t>(inv::kReasoningTokens) == 781);
  CHECK(first.get<std::int64_t>(inv::kTotalTokens) == 49990);
  CHECK(first.get<double>(inv::kCostUsd) == Approx(0.04722));
  CHECK(first.get<std::int64_t>(inv::kResponseTimeMs) == 44914);
  CHECK(first.get<std::int64_t>(inv::kFirstByteTimeMs) == 3484);
  CHECK(first.get<std::string>(inv::kStatus) == "success");
  CHECK(first.get<std::string>(inv::kErrorMessage) == "");
  CHECK_FALSE(first.get<std::string>(inv::kServiceTier));
  CHECK(first.raw_json.find("\"requestId\":\"fc6f031c-2d6c-4f50-aa16-ea1dd75eed90\"") !=
        std::string::npos);

  CHECK(parsed.invocations[1].get<std::string>(inv::kServiceTier) == "priority");
  const Record& failed = parsed.invocations[2];
  CHECK(failed.get<std::string>(inv::kStatus) == "failed");
  CHECK(failed.get<std::string>(inv::kErrorMessage)->find("usage_limit_reached") !=
        std::string::npos);

  REQUIRE(parsed.quota);
  const Record& quota = *parsed.quota;
  CHECK(quota.stream == "quota");
  CHECK(quota.key == "codex");
  CHECK(quota.time_ms == 1'772'000'000'000);
  CHECK(quota.get<std::string>(quo::kPlanName) == "codex 月卡 90刀类型");
  CHECK(quota.get<std::string>(quo::kPlanId) == "48213");
  CHECK(quota.get<std::string>(quo::kBillingType) == "amount");
  CHECK(quota.get<double>(quo::kAmountLimitUsd) == Approx(90));
  CHECK(quota.get<double>(quo::kAmountUsedUsd) == Approx(20.1734));
  CHECK(quota.get<double>(quo::kAmountRemainingUsd) == Approx(69.8266));
  // An amount plan never reports counts, although the upstream also sends limit/usedCount.
  CHECK_FALSE(quota.fields.count(quo::kCountLimit));
  CHECK_FALSE(quota.fields.count(quo::kCountUsed));
  CHECK_FALSE(quota.fields.count(quo::kCountRemaining));
  CHECK(quota.get<std::string>(quo::kPeriod) == "daily");
  CHECK(quota.get<std::string>(quo::kPeriodResetAt) == "2026-02-26T01:41:07Z");
  CHECK(quota.get<std::string>(quo::kExpiresAt) == "2026-03-24T01:41:07Z");
  CHECK(quota.get<bool>(quo::kIsActive) == true);
  CHECK(quota.get<bool>(quo::kIsLongTerm) == false);
  CHECK(quota.get<bool>(quo::kIsAuth) == true);
  CHECK(quota.get<std::int64_t>(quo::kUsage24hRequests) == 3127);
  CHECK(quota.get<std::int64_t>(quo::kUsage24hTokens) == 162384550);
  CHECK(quota.get<double>(quo::kUsage24hCostUsd) == Approx(47.318));
  CHECK(quota.get<std::string>(quo::kLastRequestAt) == "2026-02-25T02:09:41Z");
}

TEST_CASE("the apiKey never reaches a record or raw JSON", "[parser][secrets]") {
  const std::string api_key = "sk-SYNTHETIC-REDACT-ME-0000000000000000";
  std::string body = fixture("quota-happy.json");
  // The key also turns up inside an error message and an unknown field.
  const std::string marker = "\"errorMessage\": \"request failed: HTTP 502";
  const auto at = body.find(marker);
  REQUIRE(at != std::string::npos);
  body.replace(at, marker.size(),
               "\"leak\": \"" + api_key + "\", \"errorMessage\": \"key " + api_key +
                   " request failed: HTTP 502");
  ParseOptions options;
  const auto parsed = parseQuotaResponse(body, options);
  REQUIRE(parsed.envelope == Envelope::kOk);
  REQUIRE(parsed.invocations.size() == 20);
  bool saw_redaction = false;
  for (const auto& record : parsed.invocations) {
    CHECK(record.raw_json.find(api_key) == std::string::npos);
    CHECK(record.key.find(api_key) == std::string::npos);
    for (const auto& [name, value] : record.fields) {
      if (const auto* text = std::get_if<std::string>(&value)) {
        CHECK(text->find(api_key) == std::string::npos);
        saw_redaction = saw_redaction || text->find("[redacted]") != std::string::npos;
      }
    }
  }
  CHECK(saw_redaction);
  REQUIRE(parsed.quota);
  CHECK(parsed.quota->raw_json.find(api_key) == std::string::npos);
  CHECK(parsed.quota->raw_json.find("\"apiKey\":\"[redacted]\"") != std::string::npos);
}

TEST_CASE("code -1 is an expired session", "[parser]") {
  const auto parsed = parseFixture("quota-expired.json");
  CHECK(parsed.envelope == Envelope::kAuthExpired);
  CHECK(parsed.code == -1);
  CHECK(parsed.message == "认证失败，请重新登录");
  CHECK(parsed.invocations.empty());
}

TEST_CASE("code 0 is a business error with the upstream's msg", "[parser]") {
  const auto parsed = parseFixture("quota-code-zero.json");
  CHECK(parsed.envelope == Envelope::kBusinessError);
  CHECK(parsed.code == 0);
  CHECK(parsed.message == "quota unavailable");
}

TEST_CASE("code 1 without data, or with data.codex null, is malformed", "[parser]") {
  const auto no_data = parseFixture("quota-no-data.json");
  CHECK(no_data.envelope == Envelope::kMalformed);
  CHECK(no_data.message.find("no 'data'") != std::string::npos);
  const auto codex_null = parseFixture("quota-codex-null.json");
  CHECK(codex_null.envelope == Envelope::kMalformed);
  CHECK(codex_null.message.find("data.codex") != std::string::npos);
}

TEST_CASE("code sent as the string \"1\" is success", "[parser]") {
  const auto parsed = parseFixture("quota-code-string.json");
  REQUIRE(parsed.envelope == Envelope::kOk);
  REQUIRE(parsed.invocations.size() == 1);
  CHECK(parsed.invocations[0].key == "cs-1|2026-02-25T02:00:00Z");
}

TEST_CASE("the service key selects codex or claudecode", "[parser]") {
  SECTION("only claudecode present, codex configured: a clear error naming the other key") {
    const auto parsed = parseFixture("quota-claudecode-only.json", "codex");
    CHECK(parsed.envelope == Envelope::kMalformed);
    CHECK(parsed.message.find("claudecode") != std::string::npos);
  }
  SECTION("claudecode configured") {
    const auto parsed = parseFixture("quota-claudecode-only.json", "claudecode");
    REQUIRE(parsed.envelope == Envelope::kOk);
    REQUIRE(parsed.invocations.size() == 2);
    const Record& first = byId(parsed, "cc-1");
    CHECK(first.get<std::string>(inv::kService) == "claudecode");
    CHECK(first.get<std::string>(inv::kModel) == "claude-opus-4");
    CHECK(first.get<std::int64_t>(inv::kCacheCreationTokens) == 10);
    CHECK(first.get<std::int64_t>(inv::kCacheReadTokens) == 40);
    REQUIRE(parsed.quota);
    CHECK(parsed.quota->key == "claudecode");
    CHECK(parsed.quota->get<std::int64_t>(quo::kUsage24hRequests) == 5);
    CHECK_FALSE(parsed.quota->fields.count(quo::kBillingType));
  }
  SECTION("both present: each instance reads its own") {
    CHECK(parseFixture("quota-both-services.json", "codex").invocations.size() == 1);
    CHECK(parseFixture("quota-both-services.json", "claudecode").invocations.size() == 2);
  }
}

TEST_CASE("lenient records: strings, nulls, blanks, odd statuses and times", "[parser]") {
  const auto parsed = parseFixture("quota-lenient-records.json");
  REQUIRE(parsed.envelope == Envelope::kOk);
  CHECK(parsed.records_seen == 12);
  CHECK(parsed.records_rejected == 4);
  CHECK(parsed.invocations.size() == 8);
  const std::string problems = allProblems(parsed);
  INFO(problems);
  CHECK(problems.find("record 7 (blank-time-7): no requestTime (rejected)") != std::string::npos);
  CHECK(problems.find("record 8: no requestId (rejected)") != std::string::npos);
  CHECK(problems.find("record 9: not a JSON object (rejected)") != std::string::npos);
  CHECK(problems.find("requestTime '25/02/2026 10:03' is not a time (rejected)") !=
        std::string::npos);
  CHECK(problems.find("outputTokens 'not-a-number' is not a whole number") != std::string::npos);

  SECTION("numbers as strings, snake_case service_tier, unknown fields kept in raw JSON") {
    const Record& record = byId(parsed, "str-1");
    CHECK(record.get<std::int64_t>(inv::kInputTokens) == 10);
    CHECK(record.get<std::int64_t>(inv::kOutputTokens) == 20);
    CHECK(record.get<std::int64_t>(inv::kTotalTokens) == 30);
    CHECK(record.get<double>(inv::kCostUsd) == Approx(1.23));
    CHECK(record.get<std::int64_t>(inv::kResponseTimeMs) == 1500);
    CHECK(record.get<std::string>(inv::kServiceTier) == "flex");
    CHECK(record.raw_json.find("\"unknownField\":{\"nested\":[1,2]}") != std::string::npos);
  }
  SECTION("nulls leave fields out; status is lower-cased; null errorMessage is empty") {
    const Record& record = byId(parsed, "null-2");
    CHECK_FALSE(record.fields.count(inv::kModel));
    CHECK_FALSE(record.fields.count(inv::kInputTokens));
    CHECK_FALSE(record.fields.count(inv::kCostUsd));
    CHECK(record.get<std::string>(inv::kStatus) == "success");
    CHECK(record.get<std::string>(inv::kErrorMessage) == "");
  }
  SECTION("blank and non-numeric numbers are left out, the record is kept") {
    const Record& record = byId(parsed, "bad-3");
    CHECK_FALSE(record.fields.count(inv::kInputTokens));
    CHECK_FALSE(record.fields.count(inv::kOutputTokens));
    CHECK(record.get<std::int64_t>(inv::kTotalTokens) == 120);
    CHECK(record.get<std::string>(inv::kStatus) == "running");
  }
  SECTION("times with an offset, with Z and milliseconds") {
    const Record& iso = byId(parsed, "iso-4");
    CHECK(iso.get<std::string>(inv::kOccurredAt) == "2026-02-25T02:07:00Z");
    CHECK(iso.get<std::string>(inv::kRequestTime) == "2026-02-25T10:07:00+08:00");
    CHECK(iso.get<std::string>(inv::kStatus) == "pending");
    CHECK(iso.get<double>(inv::kCostUsd) == 0.0);
    const Record& zulu = byId(parsed, "z-5");
    CHECK(zulu.key == "z-5|2026-02-25T02:06:00.250Z");
    CHECK(zulu.time_ms % 1000 == 250);
    CHECK(zulu.get<double>(inv::kCostUsd) == Approx(0.000123456789).epsilon(1e-12));
  }
  SECTION("numeric ids, empty status, non-ASCII text") {
    const Record& record = byId(parsed, "123456789");
    CHECK(record.get<std::string>(inv::kStatus) == "unknown");
    CHECK(record.get<std::string>(inv::kErrorMessage) ==
          "请求失败：上游超时 (HTTP 504) — réessayer");
    CHECK(record.raw_json.find("请求失败") != std::string::npos);
  }
  SECTION("long ids and far-future times are kept as they are") {
    const Record& record = byId(parsed, "long-" + std::string(200, 'x'));
    CHECK(record.get<std::string>(inv::kServiceTier) == "priority");
    CHECK(record.get<std::string>(inv::kStatus) == "failed");
    CHECK(byId(parsed, "future-12").get<std::string>(inv::kOccurredAt) == "2098-12-31T16:00:00Z");
  }
  CHECK_FALSE(parsed.quota);  // subscriptions null and no currentUsage
}

TEST_CASE("count billing from an array of subscriptions, strings and 0/1 flags", "[parser]") {
  const auto parsed = parseFixture("quota-count-billing.json");
  REQUIRE(parsed.envelope == Envelope::kOk);
  CHECK(parsed.invocations.empty());
  CHECK_FALSE(parsed.is_auth);
  REQUIRE(parsed.quota);
  const Record& quota = *parsed.quota;
  CHECK(quota.get<std::string>(quo::kPlanId) == "901");  // the active one, not the first
  CHECK(quota.get<std::string>(quo::kPlanName) == "codex 次卡 500次");
  CHECK(quota.get<std::string>(quo::kBillingType) == "count");
  CHECK(quota.get<std::int64_t>(quo::kCountLimit) == 500);
  CHECK(quota.get<std::int64_t>(quo::kCountUsed) == 120);
  CHECK(quota.get<std::int64_t>(quo::kCountRemaining) == 380);
  CHECK_FALSE(quota.fields.count(quo::kAmountLimitUsd));
  CHECK_FALSE(quota.fields.count(quo::kAmountUsedUsd));
  CHECK(quota.get<bool>(quo::kIsActive) == true);
  CHECK(quota.get<bool>(quo::kIsLongTerm) == true);
  CHECK(quota.get<bool>(quo::kIsAuth) == false);
  CHECK(quota.get<std::string>(quo::kPeriod) == "Daily");
  CHECK(quota.get<std::string>(quo::kExpiresAt) == "2026-03-24T01:41:07Z");
  CHECK(quota.get<std::string>(quo::kPeriodResetAt) == "2026-02-25T16:00:00Z");
  CHECK(quota.get<std::int64_t>(quo::kUsage24hRequests) == 42);
  CHECK(quota.get<std::int64_t>(quo::kUsage24hTokens) == 2100000);
  CHECK(quota.get<double>(quo::kUsage24hCostUsd) == Approx(0.63));
  CHECK_FALSE(quota.fields.count(quo::kLastRequestAt));  // blank upstream value
  CHECK(quota.raw_json.find("\"balance\":\"3.00\"") != std::string::npos);
  CHECK(quota.raw_json.find("sk-SYNTHETIC-COUNT-5555") == std::string::npos);
}

TEST_CASE("recentRecords, subscriptions and currentUsage null: an ok poll with nothing",
          "[parser]") {
  const auto parsed = parseFixture("quota-records-null.json");
  CHECK(parsed.envelope == Envelope::kOk);
  CHECK(parsed.records_seen == 0);
  CHECK(parsed.invocations.empty());
  CHECK_FALSE(parsed.quota);
}

TEST_CASE("truncated JSON, HTML and empty bodies are malformed", "[parser]") {
  CHECK(parseFixture("quota-truncated.json").envelope == Envelope::kMalformed);
  const auto html = parseFixture("challenge.html");
  CHECK(html.envelope == Envelope::kMalformed);
  CHECK(html.message.find("not a JSON object") != std::string::npos);
  CHECK(parseQuotaResponse("", ParseOptions{}).envelope == Envelope::kMalformed);
  CHECK(parseQuotaResponse("[1,2]", ParseOptions{}).envelope == Envelope::kMalformed);
  CHECK(parseQuotaResponse(R"({"msg":"no code"})", ParseOptions{}).envelope ==
        Envelope::kMalformed);
  CHECK(parseQuotaResponse(R"({"code":1,"data":{"codex":{"recentRecords":{}}}})", ParseOptions{})
            .envelope == Envelope::kMalformed);
}

TEST_CASE("naive times follow utc_offset, times with an offset do not", "[parser]") {
  const auto shanghai = parseFixture("quota-lenient-records.json", "codex", 480);
  const auto new_york = parseFixture("quota-lenient-records.json", "codex", -300);
  CHECK(byId(new_york, "str-1").get<std::string>(inv::kOccurredAt) == "2026-02-25T15:10:00Z");
  CHECK(byId(shanghai, "str-1").get<std::string>(inv::kOccurredAt) == "2026-02-25T02:10:00Z");
  CHECK(byId(new_york, "iso-4").key == byId(shanghai, "iso-4").key);
}

TEST_CASE("the cookie given to the parser is masked in records and messages", "[parser][secrets]") {
  const std::string cookie = "cookie-value-SYNTHETIC-7777";
  Redactor redactor;
  redactor.add(cookie);
  ParseOptions options;
  options.redactor = &redactor;
  const std::string body =
      R"({"code":1,"data":{"codex":{"recentRecords":[{"requestId":"r1",)"
      R"("requestTime":"2026-02-25 10:00:00","status":"failed","errorMessage":)"
      R"("bad session cookie-value-SYNTHETIC-7777","cookie":"x"}]}}})";
  const auto parsed = parseQuotaResponse(body, options);
  REQUIRE(parsed.invocations.size() == 1);
  CHECK(parsed.invocations[0].get<std::string>(inv::kErrorMessage) == "bad session [redacted]");
  CHECK(parsed.invocations[0].raw_json.find(cookie) == std::string::npos);
  CHECK(parsed.invocations[0].raw_json.find("\"cookie\":\"[redacted]\"") != std::string::npos);
}

TEST_CASE("the change fingerprint follows status, cost and tokens only", "[parser]") {
  const auto parsed = parseFixture("quota-happy.json");
  Record record = parsed.invocations[0];
  const auto original = changeFingerprint(record);
  Record same = record;
  same.raw_json = "{}";
  CHECK(changeFingerprint(same) == original);
  Record status = record;
  status.fields[inv::kStatus] = std::string("failed");
  CHECK(changeFingerprint(status) != original);
  Record cost = record;
  cost.fields[inv::kCostUsd] = 0.5;
  CHECK(changeFingerprint(cost) != original);
  Record tokens = record;
  tokens.fields[inv::kOutputTokens] = std::int64_t{1};
  CHECK(changeFingerprint(tokens) != original);
}

TEST_CASE("a member name that holds a secret is redacted in raw JSON (fuzz finding)",
          "[parser][secrets]") {
  const std::string cookie = "FUZZ-cookie-secret-value";
  Redactor redactor;
  redactor.add(cookie);
  ParseOptions options;
  options.redactor = &redactor;
  const std::string body =
      R"({"code":1,"msg":"ok","data":{"codex":{"isAuth":true,"subscriptions":{"billingType":"amount",")" +
      cookie +
      R"(untLimit":90},"recentRecords":[{"requestId":"r1","requestTime":"2026-02-25 10:09:41",")" +
      cookie + R"(":1}]}}})";
  const auto parsed = parseQuotaResponse(body, options);
  REQUIRE(parsed.envelope == Envelope::kOk);
  REQUIRE(parsed.quota);
  REQUIRE(parsed.invocations.size() == 1);
  CHECK(parsed.quota->raw_json.find(cookie) == std::string::npos);
  CHECK(parsed.invocations[0].raw_json.find(cookie) == std::string::npos);
  CHECK(parsed.invocations[0].raw_json.find("\"[redacted]\":1") != std::string::npos);
}
