#include "migrations.hpp"

#include <fstream>
#include <iterator>

#include <catch2/catch.hpp>

#include "connection.hpp"
#include "gatherd/sdk/streams.hpp"
#include "test_support.hpp"

using namespace gatherd;
using namespace gatherd::plugins::sqlite;
using namespace gatherd::plugins::sqlite::testing;

namespace {

constexpr std::int64_t kNow = 1'772'000'000'000;

std::vector<std::string> tables(RawDb& raw) {
  std::vector<std::string> names;
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(
      raw.handle(),
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
      "ORDER BY name",
      -1, &statement, nullptr);
  while (sqlite3_step(statement) == SQLITE_ROW) {
    names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)));
  }
  sqlite3_finalize(statement);
  return names;
}

// Rows as the seed's tool stored them: camelCase payload, SQLite's datetime('now') created_at.
void insertSeedRows(RawDb& raw) {
  REQUIRE(
      raw.exec(
          R"(INSERT INTO codex_invocations (invoke_id, occurred_at, payload, raw_response, created_at) VALUES
    ('req-1', '2026-02-25T02:09:41Z', '{"model":"gpt-5-codex","status":"success","inputTokens":1200,"outputTokens":300,"cacheInputTokens":1000,"reasoningTokens":50,"totalTokens":1500,"cost":0.0125,"responseTime":44914,"firstByteTime":3484}', '{"requestId":"req-1"}', '2026-02-25 02:09:50'),
    ('req-2', '2026-02-25T03:00:00Z', '{"model":"gpt-5","status":"failed","errorMessage":"timeout after 30s","totalTokens":0,"cost":0}', NULL, '2026-02-25 03:00:05'),
    ('req-3', '2026-02-25T03:10:00Z', 'not json at all', NULL, '2026-02-25 03:10:05'))") ==
      SQLITE_OK);
}

}  // namespace

TEST_CASE("an empty file migrates to the newest schema") {
  TempDir dir;
  const std::string path = dir.file("empty.db");
  {
    Connection connection(path, 200);
    registerFunctions(connection);
    REQUIRE(schemaVersion(connection) == 0);
    migrate(connection, "xychatai", kNow);
    REQUIRE(schemaVersion(connection) == kSchemaVersion);
    // Running again is a no-op.
    migrate(connection, "xychatai", kNow);
    REQUIRE(schemaVersion(connection) == kSchemaVersion);
  }
  RawDb raw(path);
  const auto names = tables(raw);
  for (const char* expected :
       {"changes", "codex_invocations", "invocation_rollup_daily", "invocation_rollup_hourly",
        "invocation_rollup_hourly_source", "invocation_updates", "meta", "quota_snapshots",
        "records", "window_ledger"}) {
    CHECK(std::find(names.begin(), names.end(), expected) != names.end());
  }
  // The seed's columns keep their names and types; payload and created_at are generated
  // (hidden = 2: virtual), so they cost no space.
  CHECK(raw.text("SELECT type || ' ' || hidden FROM pragma_table_xinfo('codex_invocations') "
                 "WHERE name = 'payload'") == "JSON 2");
  CHECK(raw.text("SELECT type || ' ' || hidden FROM pragma_table_xinfo('codex_invocations') "
                 "WHERE name = 'created_at'") == "TEXT 2");
  {
    // A new file made by the sink is incremental from its first table on: no VACUUM needed.
    SinkFixture fixture(dir.file("new.db"));
    INFO(fixture.problem());
    REQUIRE(fixture.started());
    CHECK_THAT(fixture.host.allLogText(), !Catch::Contains("auto_vacuum"));
    RawDb made(dir.file("new.db"));
    CHECK(made.integer("PRAGMA auto_vacuum") == 2);
  }
  CHECK(raw.exec("INSERT INTO codex_invocations (invoke_id, occurred_at, source, occurred_ms, "
                 "created_ms, updated_ms) "
                 "VALUES ('a', 't', 's', 0, 0, 0)") == SQLITE_OK);
  CHECK(raw.exec("INSERT INTO codex_invocations (invoke_id, occurred_at, source, occurred_ms, "
                 "created_ms, updated_ms) "
                 "VALUES ('a', 't', 's', 0, 0, 0)") == SQLITE_CONSTRAINT);
  CHECK(raw.exec("INSERT INTO codex_invocations (invoke_id, occurred_at, source, occurred_ms, "
                 "created_ms, updated_ms) "
                 "VALUES ('a', 't', 'other', 0, 0, 0)") == SQLITE_OK);
  CHECK(raw.text("SELECT created_at || ' ' || payload FROM codex_invocations WHERE source = "
                 "'other'") ==
        R"(1970-01-01 00:00:00 {"request_id":"a","occurred_at":"t","model":"","status":"",)"
        R"("error_message":""})");
}

TEST_CASE("a version 1 database (the seed's table) migrates with its rows, typed and rolled up") {
  TempDir dir;
  const std::string path = dir.file("seed.db");
  SECTION("made by this migration chain") {
    Connection connection(path, 200);
    registerFunctions(connection);
    migrate(connection, "xychatai", kNow, 1);
    REQUIRE(schemaVersion(connection) == 1);
  }
  SECTION("made by the seed's own tool, without a schema version") {
    RawDb raw(path);
    REQUIRE(raw.exec(R"(CREATE TABLE IF NOT EXISTS codex_invocations (
        id INTEGER PRIMARY KEY AUTOINCREMENT, invoke_id TEXT NOT NULL, occurred_at TEXT NOT NULL,
        payload JSON, raw_response JSON, created_at TEXT NOT NULL DEFAULT (datetime('now')),
        UNIQUE(invoke_id, occurred_at)))") == SQLITE_OK);
  }
  {
    RawDb raw(path);
    insertSeedRows(raw);
  }
  SinkFixture fixture(path, {{"legacy_source", "xychatai"}});
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  RawDb raw(path);
  CHECK(raw.integer("PRAGMA user_version") == kSchemaVersion);
  CHECK(raw.integer("SELECT count(*) FROM codex_invocations WHERE source = 'xychatai'") == 3);
  CHECK(raw.integer("SELECT occurred_ms FROM codex_invocations WHERE invoke_id = 'req-1'") ==
        1'771'985'381'000);
  CHECK(raw.integer("SELECT cache_input_tokens FROM codex_invocations WHERE invoke_id = 'req-1'") ==
        1000);
  CHECK(raw.text("SELECT error_key FROM codex_invocations WHERE invoke_id = 'req-2'") ==
        "timeout after <dur>");
  CHECK(raw.text("SELECT payload FROM codex_invocations WHERE invoke_id = 'req-3'") ==
        "not json at all");

  // The API reads migrated rows with the well-known field names, whatever their payload says.
  sdk::InvocationQuery query;
  query.limit = 10;
  sdk::InvocationPage page;
  REQUIRE(fixture.store().listInvocations(query, page));
  REQUIRE(page.items.size() == 3);
  for (const auto& item : page.items) {
    namespace field = sdk::streams::invocation;
    const auto& record = item.record;
    INFO(record.key);
    CHECK(record.get<std::string>(field::kRequestId).has_value());
    CHECK_FALSE(record.get<std::string>(field::kRequestId)->empty());
    if (*record.get<std::string>(field::kRequestId) == "req-1") {
      CHECK(record.get<std::int64_t>(field::kTotalTokens) == 1500);
      CHECK(record.get<std::int64_t>(field::kCacheInputTokens) == 1000);
      CHECK(record.get<double>(field::kCostUsd) == Approx(0.0125));
      CHECK(record.get<std::int64_t>(field::kResponseTimeMs) == 44914);
      CHECK(record.get<std::int64_t>(field::kFirstByteTimeMs) == 3484);
    }
  }

  sdk::Totals totals;
  REQUIRE(fixture.store().totals({}, totals));
  CHECK(totals.count == 3);
  CHECK(totals.success == 1);
  CHECK(totals.total_tokens == 1500);
  CHECK(totals.cost_usd == 0.0125);

  // The same invocation arriving from the configured source is recognised, not duplicated.
  Invocation again;
  again.request_id = "req-1";
  again.time_ms = 1'771'985'381'000;
  again.model = "gpt-5-codex";
  again.input_tokens = 1200;
  again.output_tokens = 300;
  again.cache_input_tokens = 1000;
  again.reasoning_tokens = 50;
  again.total_tokens = 1500;
  again.cost_usd = 0.0125;
  REQUIRE(fixture.sink.write(makeBatch("xychatai", kNow, {again})) == sdk::WriteResult::kOk);
  CHECK(raw.integer("SELECT count(*) FROM codex_invocations") == 3);
  CHECK(fixture.host.counter("sqlite_invocations_unchanged") == 1);
}

TEST_CASE("seed-era raw responses are validated and their secrets masked, none stays in the file",
          "[secrets]") {
  TempDir dir;
  const std::string path = dir.file("seed-secrets.db");
  {
    RawDb raw(path);
    REQUIRE(raw.exec(R"(CREATE TABLE IF NOT EXISTS codex_invocations (
        id INTEGER PRIMARY KEY AUTOINCREMENT, invoke_id TEXT NOT NULL, occurred_at TEXT NOT NULL,
        payload JSON, raw_response JSON, created_at TEXT NOT NULL DEFAULT (datetime('now')),
        UNIQUE(invoke_id, occurred_at)))") == SQLITE_OK);
    REQUIRE(
        raw.exec(
            R"(INSERT INTO codex_invocations (invoke_id, occurred_at, payload, raw_response) VALUES
    ('s-1', '2026-02-25T02:09:41Z', '{"model":"m","status":"success"}',
     '{"requestId":"s-1","apiKey":"CANARY-seed-apikey-1","nested":[{"Cookie":"CANARY-seed-cookie-2"}],"model":"m"}'),
    ('s-2', '2026-02-25T02:10:41Z', '{"model":"m","status":"success"}', 'CANARY-seed-notjson-3 {'),
    ('s-3', '2026-02-25T02:11:41Z', '{"model":"m","status":"success"}', '"CANARY-seed-scalar-4"'),
    ('s-4', '2026-02-25T02:12:41Z', '{"model":"m","status":"success"}', '{"requestId":"s-4","model":"m"}'))") ==
        SQLITE_OK);
  }
  {
    SinkFixture fixture(path, {{"legacy_source", "xychatai"}});
    INFO(fixture.problem());
    REQUIRE(fixture.started());
    RawDb raw(path);
    CHECK(raw.integer("SELECT count(*) FROM codex_invocations") == 4);
    const std::string masked =
        raw.text("SELECT raw_response FROM codex_invocations WHERE invoke_id = 's-1'");
    CHECK_THAT(masked, Catch::Contains("\"apiKey\":\"[redacted]\""));
    CHECK_THAT(masked, Catch::Contains("\"Cookie\":\"[redacted]\""));
    // requestId and model are held by the typed columns: the file keeps them once.
    CHECK(masked == R"({"apiKey":"[redacted]","nested":[{"Cookie":"[redacted]"}]})");
    CHECK(raw.integer(
              "SELECT raw_response IS NULL FROM codex_invocations WHERE invoke_id = 's-2'") == 1);
    CHECK(raw.integer(
              "SELECT raw_response IS NULL FROM codex_invocations WHERE invoke_id = 's-3'") == 1);
    CHECK(raw.integer(
              "SELECT raw_response IS NULL FROM codex_invocations WHERE invoke_id = 's-4'") == 1);
  }
  // The seed's table was dropped with secure_delete: its pages hold no copy of the canaries.
  std::string bytes;
  for (const char* suffix : {"", "-wal", "-journal"}) {
    std::ifstream in(path + suffix, std::ios::binary);
    bytes += std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  REQUIRE_FALSE(bytes.empty());
  CHECK(bytes.find("CANARY-seed") == std::string::npos);
}

TEST_CASE("a version 2 database gains the per-source hourly rollup, built from its rollups") {
  TempDir dir;
  const std::string path = dir.file("v2.db");
  {
    Connection connection(path, 200);
    registerFunctions(connection);
    migrate(connection, "xychatai", kNow, 2);
    REQUIRE(schemaVersion(connection) == 2);
    // What a version 2 writer left, including hours whose rows retention already deleted.
    connection.exec(
        "INSERT INTO invocation_rollup_hourly VALUES "
        "(3600000, 'a', 'm1', 'success', 3, 30, 1, 2, 3, 4, 5), "
        "(3600000, 'a', 'm2', 'failed', 2, 20, 1, 1, 1, 1, 1), "
        "(3600000, 'b', 'm1', 'success', 1, 7, 0, 0, 0, 0, 2), "
        "(7200000, 'b', 'm1', 'rate_limited', 1, 5, 0, 0, 0, 0, 9)");
    migrate(connection, "xychatai", kNow);
    REQUIRE(schemaVersion(connection) == kSchemaVersion);
  }
  RawDb raw(path);
  CHECK(raw.integer("SELECT count(*) FROM invocation_rollup_hourly_source") == 3);
  CHECK(
      raw.text("SELECT count || ' ' || success || ' ' || cost_nano || ' ' || total_tokens "
               "FROM invocation_rollup_hourly_source WHERE bucket_ms = 3600000 AND source = 'a'") ==
      "5 3 50 6");
  CHECK(
      raw.text("SELECT count || ' ' || success || ' ' || total_tokens "
               "FROM invocation_rollup_hourly_source WHERE bucket_ms = 7200000 AND source = 'b'") ==
      "1 0 9");
}

TEST_CASE("a version 3 database is rebuilt compact, its rows and ids kept") {
  TempDir dir;
  const std::string path = dir.file("v3.db");
  {
    Connection connection(path, 200);
    registerFunctions(connection);
    migrate(connection, "xychatai", kNow, 3);
    // Rows as a version 3 writer left them: every field in payload, the upstream JSON whole.
    connection.exec(
        R"(INSERT INTO codex_invocations (id, invoke_id, occurred_at, payload, raw_response,
             source, occurred_ms, model, status, error_message, input_tokens, total_tokens, cost,
             created_ms, updated_ms) VALUES
           (1, 'r-1', '2026-02-25T02:09:41Z',
            '{"cost_usd":0.5,"error_message":"","input_tokens":10,"model":"m","occurred_at":"2026-02-25T02:09:41Z","request_id":"r-1","request_time":"2026-02-25 10:09:41","service":"codex","status":"success","total_tokens":12,"upstream_hint":"x"}',
            '{"requestId":"r-1","requestTime":"2026-02-25 10:09:41","inputTokens":10,"hint":"x"}',
            'xychatai', 1771985381000, 'm', 'success', NULL, 10, 12, 0.5, 1771985390000,
            1771985390000),
           (2, 'r-2', '2026-02-25T02:10:41Z', NULL, NULL, 'xychatai', 1771985441000, 'm',
            'success', NULL, NULL, NULL, NULL, 1771985450000, 1771985450000),
           (3, 'r-3', '2026-02-25T02:11:41Z', NULL, NULL, 'xychatai', 1771985501000, 'm',
            'success', NULL, NULL, NULL, NULL, 1771985510000, 1771985510000))");
    connection.exec("DELETE FROM codex_invocations WHERE id = 3");
    connection.exec(
        "INSERT INTO window_ledger (source, window_ms, window_at, started_ms, finished_ms, "
        "outcome, message, http_status, records_seen, records_emitted, records_rejected, "
        "gap_suspected, gap_from_ms, gap_to_ms, auth_state, clock_jump) VALUES ('xychatai', "
        "1771985381250, '2026-02-25T02:09:41.250Z', 1, 2, 'ok', '', 200, 1, 1, 0, 0, 0, 0, 'ok', "
        "0), ('xychatai', 1771985400000, '2026-02-25T02:10:00Z', 1, 2, 'ok', '', 200, 1, 1, 0, "
        "0, 0, 0, 'ok', 0)");
  }
  SinkFixture fixture(path);
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  RawDb raw(path);
  CHECK(raw.integer("PRAGMA user_version") == kSchemaVersion);
  CHECK(raw.integer("PRAGMA auto_vacuum") == 2);
  CHECK(raw.integer("SELECT count(*) FROM codex_invocations") == 2);
  CHECK(raw.text("SELECT extra FROM codex_invocations WHERE id = 1") == R"({"upstream_hint":"x"})");
  CHECK(raw.text("SELECT raw_response FROM codex_invocations WHERE id = 1") == R"({"hint":"x"})");
  CHECK(raw.text("SELECT request_time || ' ' || service FROM codex_invocations WHERE id = 1") ==
        "2026-02-25 10:09:41 codex");
  CHECK(raw.text("SELECT created_at FROM codex_invocations WHERE id = 1") == "2026-02-25 02:09:50");
  // The id of the deleted newest row is not given out again (changes refer to ids).
  CHECK(raw.integer("SELECT seq FROM sqlite_sequence WHERE name = 'codex_invocations'") == 3);
  CHECK(raw.text("SELECT group_concat(window_at, ' ') FROM window_ledger") ==
        "2026-02-25T02:09:41.250Z 2026-02-25T02:10:00Z");
  CHECK(raw.integer("SELECT count(*) FROM sqlite_schema WHERE name LIKE '%_v3'") == 0);

  sdk::InvocationQuery query;
  query.limit = 10;
  sdk::InvocationPage page;
  REQUIRE(fixture.store().listInvocations(query, page));
  REQUIRE(page.items.size() == 2);
  const sdk::StoredInvocation& first = page.items.back();  // newest first
  REQUIRE(first.id == 1);
  CHECK(std::get<std::string>(first.record.fields.at("upstream_hint")) == "x");
  CHECK(std::get<std::string>(first.record.fields.at("request_time")) == "2026-02-25 10:09:41");
  CHECK(std::get<double>(first.record.fields.at("cost_usd")) == 0.5);
  CHECK(first.record.raw_json == R"({"hint":"x"})");
}

TEST_CASE("a version 3 file is upgraded and compacted while another process reads it") {
  TempDir dir;
  const std::string path = dir.file("busy.db");
  {
    Connection connection(path, 200);
    registerFunctions(connection);
    connection.exec("PRAGMA journal_mode = WAL");
    migrate(connection, "xychatai", kNow, 3);
    connection.exec(
        "INSERT INTO codex_invocations (invoke_id, occurred_at, payload, source, occurred_ms, "
        "created_ms, updated_ms) VALUES ('r-1', '2026-02-25T02:09:41Z', '{}', 'xychatai', "
        "1771985381000, 1771985390000, 1771985390000)");
  }
  // Another process in the middle of a read (sqlite3 -readonly, a backup): in WAL mode neither
  // the upgrade nor its VACUUM waits for it, and it keeps reading what it saw.
  RawDb reader(path);
  REQUIRE(reader.exec("BEGIN") == SQLITE_OK);
  REQUIRE(reader.integer("SELECT count(*) FROM codex_invocations") == 1);
  SinkFixture fixture(path);
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  CHECK_THAT(fixture.host.allLogText(),
             Catch::Contains("upgrading the database from schema 3 to 4") &&
                 Catch::Contains("auto_vacuum = incremental"));
  CHECK(reader.integer("SELECT count(*) FROM codex_invocations") == 1);
  REQUIRE(reader.exec("COMMIT") == SQLITE_OK);
  CHECK(reader.integer("PRAGMA user_version") == kSchemaVersion);
  CHECK(reader.integer("PRAGMA auto_vacuum") == 2);
  CHECK(reader.text("SELECT created_at FROM codex_invocations") == "2026-02-25 02:09:50");
}
