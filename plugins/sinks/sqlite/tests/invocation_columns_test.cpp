#include "invocation_columns.hpp"

#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace gatherd;
using namespace gatherd::plugins::sqlite;
using namespace gatherd::plugins::sqlite::testing;
namespace inv = sdk::streams::invocation;

namespace {

// An invocation as the xychatai source emits one (UPSTREAM.md), with its upstream JSON.
sdk::Record upstreamLike(const std::string& id) {
  sdk::Record record;
  record.stream = sdk::streams::kInvocation;
  record.time_ms = kT0;
  record.key = id + "|2026-02-25T06:13:20Z";
  sdk::Fields& f = record.fields;
  f[inv::kRequestId] = id;
  f[inv::kRequestTime] = std::string("2026-02-25 14:13:20");
  f[inv::kOccurredAt] = std::string("2026-02-25T06:13:20Z");
  f[inv::kService] = std::string("codex");
  f[inv::kModel] = std::string("gpt-5.3-codex");
  f[inv::kStatus] = std::string("success");
  f[inv::kErrorMessage] = std::string();
  f[inv::kInputTokens] = std::int64_t{48175};
  f[inv::kOutputTokens] = std::int64_t{1815};
  f[inv::kCacheInputTokens] = std::int64_t{39680};
  f[inv::kCacheCreationTokens] = std::int64_t{0};
  f[inv::kCacheReadTokens] = std::int64_t{39680};
  f[inv::kReasoningTokens] = std::int64_t{781};
  f[inv::kTotalTokens] = std::int64_t{49990};
  f[inv::kCostUsd] = 0.04722;
  f[inv::kResponseTimeMs] = std::int64_t{44914};
  f[inv::kFirstByteTimeMs] = std::int64_t{3484};
  record.raw_json = R"({"requestId":")" + id +
                    R"(","requestTime":"2026-02-25 14:13:20","model":"gpt-5.3-codex",)"
                    R"("inputTokens":48175,"outputTokens":1815,"cacheInputTokens":39680,)"
                    R"("cacheCreationTokens":0,"cacheReadTokens":39680,"reasoningTokens":781,)"
                    R"("totalTokens":49990,"responseTime":44914,"firstByteTime":3484,)"
                    R"("cost":0.04722,"status":"success","errorMessage":""})";
  return record;
}

sdk::Batch batchOf(std::vector<sdk::Record> records) {
  sdk::Batch batch;
  batch.window.source = "xy";
  batch.window.window_ms = kT0;
  batch.window.started_ms = kT0;
  batch.window.finished_ms = kT0 + 300;
  batch.records = std::move(records);
  return batch;
}

sdk::StoredInvocation readBack(SinkFixture& fixture, const std::string& id) {
  sdk::InvocationQuery query;
  query.limit = 50;
  sdk::InvocationPage page;
  REQUIRE(fixture.store().listInvocations(query, page));
  for (const auto& item : page.items) {
    if (item.record.key.rfind(id + "|", 0) == 0) return item;
  }
  FAIL("invocation " << id << " not read back");
  return {};
}

}  // namespace

TEST_CASE("an upstream-like invocation is stored once: no extra, no raw, every field read back") {
  TempDir dir;
  SinkFixture fixture(dir.file("compact.db"));
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  const sdk::Record record = upstreamLike("fc6f031c-2d6c-4f50-aa16-ea1dd75eed90");
  REQUIRE(fixture.sink.write(batchOf({record})) == sdk::WriteResult::kOk);

  RawDb raw(dir.file("compact.db"));
  CHECK(raw.integer("SELECT count(*) FROM codex_invocations WHERE extra IS NULL AND "
                    "raw_response IS NULL") == 1);
  const sdk::StoredInvocation stored = readBack(fixture, "fc6f031c-2d6c-4f50-aa16-ea1dd75eed90");
  CHECK(stored.record.fields == record.fields);
  CHECK(stored.record.raw_json.empty());
  // The seed's payload column, as sqlite3 shows it, holds every field.
  CHECK(raw.text("SELECT payload FROM codex_invocations") ==
        R"({"request_id":"fc6f031c-2d6c-4f50-aa16-ea1dd75eed90","occurred_at":)"
        R"("2026-02-25T06:13:20Z","model":"gpt-5.3-codex","status":"success",)"
        R"("error_message":"","input_tokens":48175,"output_tokens":1815,)"
        R"("cache_input_tokens":39680,"reasoning_tokens":781,"total_tokens":49990,)"
        R"("cost_usd":0.04722,"response_time_ms":44914,"first_byte_time_ms":3484,)"
        R"("request_time":"2026-02-25 14:13:20","service":"codex","cache_creation_tokens":0,)"
        R"("cache_read_tokens":39680})");
}

TEST_CASE("what the columns cannot give back exactly stays in extra and raw_response") {
  TempDir dir;
  SinkFixture fixture(dir.file("odd.db"));
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  sdk::Record record = upstreamLike("odd-1");
  sdk::Fields& f = record.fields;
  f[inv::kInputTokens] = 12.7;         // a double where the column keeps a rounded integer
  f[inv::kCostUsd] = std::int64_t{0};  // an integer where the column keeps a double
  f[inv::kService] = true;             // not the documented type
  f["unknown_field"] = std::string("kept");
  f["nothing"] = std::monostate{};
  f.erase(inv::kCacheReadTokens);
  // Members no field holds (or holds with another value) stay; nested ones always do.
  record.raw_json =
      R"({"requestId":"odd-1","model":"GPT-5","inputTokens":"12.7","totalTokens":49990,)"
      R"("responseTime":44914,"userAgent":"codex/1.0","usage":{"in":[1,2]},"flag":false,)"
      R"("gone":null,"errorMessage":""})";
  REQUIRE(fixture.sink.write(batchOf({record})) == sdk::WriteResult::kOk);

  const sdk::StoredInvocation stored = readBack(fixture, "odd-1");
  CHECK(stored.record.fields == record.fields);
  CHECK(stored.record.raw_json ==
        R"({"model":"GPT-5","inputTokens":"12.7","userAgent":"codex/1.0","usage":{"in":[1,2]},)"
        R"("flag":false,"gone":null})");
  RawDb raw(dir.file("odd.db"));
  CHECK(raw.text("SELECT extra FROM codex_invocations") ==
        R"({"cost_usd":0,"input_tokens":12.7,"nothing":null,"service":true,)"
        R"("unknown_field":"kept"})");
}

TEST_CASE("a record without model, status or error message reads back with them empty") {
  TempDir dir;
  SinkFixture fixture(dir.file("bare.db"));
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  sdk::Record record;
  record.stream = sdk::streams::kInvocation;
  record.time_ms = kT0;
  record.key = "bare|2026-02-25T06:13:20Z";
  record.raw_json = "[1,2]";  // not an object: kept whole
  REQUIRE(fixture.sink.write(batchOf({record})) == sdk::WriteResult::kOk);
  const sdk::StoredInvocation stored = readBack(fixture, "bare");
  const sdk::Fields expected = {{inv::kRequestId, std::string("bare")},
                                {inv::kOccurredAt, std::string("2026-02-25T06:13:20Z")},
                                {inv::kModel, std::string()},
                                {inv::kStatus, std::string()},
                                {inv::kErrorMessage, std::string()}};
  CHECK(stored.record.fields == expected);
  CHECK(stored.record.raw_json == "[1,2]");
}

TEST_CASE("the raw residue matches names without case, '_' and the units ms and usd") {
  TempDir dir;
  Connection connection(dir.file("residue.db"), 200);
  const sdk::Fields fields = {{"response_time_ms", std::int64_t{5}},
                              {"cost_usd", 0.5},
                              {"total_tokens", std::int64_t{7}},
                              {"is_active", true}};
  CHECK_FALSE(rawResidue(connection, R"({"responseTime":5,"COST":0.5,"isActive":true})", fields));
  // A name that only begins like a field's is not that field.
  CHECK(rawResidue(connection, R"({"total":7})", fields) ==
        std::optional<std::string>(R"({"total":7})"));
  CHECK(rawResidue(connection, R"({"responseTime":6})", fields) ==
        std::optional<std::string>(R"({"responseTime":6})"));
  CHECK(rawResidue(connection, "not json", fields) == std::optional<std::string>("not json"));
  CHECK_FALSE(rawResidue(connection, "", fields));
  CHECK_FALSE(rawResidue(connection, "{}", fields));
  CHECK(rawResidue(connection, R"({"s":"caf\u00e9 \"q\""})", fields) ==
        std::optional<std::string>("{\"s\":\"caf\xc3\xa9 \\\"q\\\"\"}"));
}

TEST_CASE("retention gives the pages it freed back to the file system (auto_vacuum)") {
  TempDir dir;
  SinkFixture fixture(dir.file("vacuum.db"), {{"invocation_retention_days", "1"}});
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  // Written while they were recent (the first write runs the maintenance too), ten days before
  // the clock's time, each with an upstream member no field holds (so the rows are not small).
  constexpr std::int64_t kDayMs = 86'400'000;
  fixture.host.manualClock().jumpWall(-10 * kDayMs);
  const std::string filler(1'000, 'x');
  for (int batch = 0; batch < 20; ++batch) {
    std::vector<sdk::Record> records;
    for (int i = 0; i < 100; ++i) {
      sdk::Record record = upstreamLike("old-" + std::to_string(batch * 100 + i));
      record.time_ms = kT0 - 10 * kDayMs + batch * 100 + i;
      record.key = "old-" + std::to_string(batch * 100 + i) + "|" + std::to_string(record.time_ms);
      record.raw_json = R"({"note":")" + filler + R"("})";
      records.push_back(std::move(record));
    }
    REQUIRE(fixture.sink.write(batchOf(std::move(records))) == sdk::WriteResult::kOk);
  }
  RawDb raw(dir.file("vacuum.db"));
  REQUIRE(raw.integer("SELECT count(*) FROM codex_invocations") == 2'000);
  const std::int64_t pages_before = raw.integer("PRAGMA page_count");
  fixture.host.manualClock().jumpWall(10 * kDayMs);
  REQUIRE(fixture.sink.runMaintenance());
  CHECK(raw.integer("SELECT count(*) FROM codex_invocations") == 0);
  CHECK(raw.integer("PRAGMA freelist_count") == 0);
  // 2,000 rows of about 1.2 KB were some 700 pages; the schema and the rollups are left.
  CHECK(raw.integer("PRAGMA page_count") < pages_before / 4);
}
