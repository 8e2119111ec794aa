// gatherd migrate with the real binary on a throwaway PostgreSQL cluster: a database the
// sqlite sink made, copied (API answers byte-equal, a second run stores nothing, kill -9 halfway
// through 50k rows then resumed: exact), and the error cases.
#include <thread>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include "gatherd/sdk/testing/eventually.hpp"
#include "gatherd_process.hpp"
#include "postgres_runtime_support.hpp"
#include "runtime_support.hpp"
#include <signal.h>

using namespace gatherd::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::int64_t sqliteInt(const fs::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  const std::int64_t value =
      sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : -1;
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return value;
}

std::string sqliteText(const fs::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  std::string value;
  if (sqlite3_step(statement) == SQLITE_ROW) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return value;
}

/// Runs the demo source into a sqlite sink until the file holds `invocations` invocations.
fs::path makeSqliteHistory(const TempDir& dir, const std::string& demo_keys,
                           std::int64_t invocations) {
  const fs::path db = dir.path() / "data" / "gatherd.db";
  GatherdProcess gatherd(dir.write(
      "collect.ini", baseConfig(dir.path(), "200ms") + "[source.demo]\nplugin = demo\nseed = 7\n" +
                         demo_keys + "\n[sink.db]\nplugin = sqlite\n"));
  REQUIRE(gatherd.waitForLog("sqlite store open", 20s));
  REQUIRE(gatherd::sdk::testing::eventually(
      [&] { return sqliteInt(db, "SELECT count(*) FROM codex_invocations") >= invocations; }, 120s,
      100ms));
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(60s) == 0);
  return db;
}

/// `gatherd migrate` with `args`; returns its exit code (stdout/stderr in `out`/`err`).
int migrate(const TempDir& dir, const std::vector<std::string>& args, std::string& out,
            std::string& err) {
  const auto ini = dir.write("migrate.ini", baseConfig(dir.path(), "10s"));
  std::vector<std::string> argv = {"migrate"};
  argv.insert(argv.end(), args.begin(), args.end());
  GatherdProcess process(ini, argv);
  const int code = process.wait(300s);
  out = process.out();
  err = process.err();
  return code;
}

/// Every page of /api/invocations, newest first, as the raw bodies.
std::vector<std::string> allInvocationPages(int port) {
  std::vector<std::string> pages;
  std::string cursor;
  for (int page = 0; page < 1000; ++page) {
    const Http reply =
        get(port, "/api/invocations?limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor));
    REQUIRE(reply.status == 200);
    pages.push_back(reply.body);
    const auto at = reply.body.find("\"nextCursor\":\"");
    if (at == std::string::npos) break;
    const auto begin = at + std::string("\"nextCursor\":\"").size();
    cursor = reply.body.substr(begin, reply.body.find('"', begin) - begin);
  }
  return pages;
}

/// A gatherd without sources on each store (nothing changes while their answers are compared).
struct ServedBoth {
  ServedBoth(const TempDir& dir, const fs::path& db, const std::string& conninfo)
      : on_sqlite(dir.write(
            "serve-sqlite.ini",
            serveConfig(dir, "a", "[sink.db]\nplugin = sqlite\npath = " + db.string() + "\n"))),
        on_postgres(dir.write(
            "serve-postgres.ini",
            serveConfig(dir, "b", "[sink.db]\nplugin = postgres\ndsn = " + conninfo + "\n"))),
        sqlite_port(portOf(on_sqlite)),
        postgres_port(portOf(on_postgres)) {}
  void stop() {
    on_sqlite.signal(SIGTERM);
    on_postgres.signal(SIGTERM);
    CHECK(on_sqlite.wait(30s) == 0);
    CHECK(on_postgres.wait(30s) == 0);
  }
  GatherdProcess on_sqlite;
  GatherdProcess on_postgres;
  int sqlite_port;
  int postgres_port;
};

/// The API answers of a gatherd on each store are the same, byte for byte.
void checkSameAnswers(int sqlite_port, int postgres_port) {
  for (const std::string path :
       {"/api/stats", "/api/stats/models?range=30d", "/api/stats/errors?range=30d",
        "/api/stats/latency?range=30d", "/api/stats/timeseries?range=1d&bucket=1h",
        "/api/quota/latest", "/api/windows?limit=1000"}) {
    INFO(path);
    const Http expected = get(sqlite_port, path);
    REQUIRE(expected.status == 200);
    CHECK(get(postgres_port, path).body == expected.body);
  }
}

}  // namespace

TEST_CASE(
    "migrate: a sqlite history into PostgreSQL answers the API the same, and run again stores "
    "nothing twice",
    "[postgres-runtime]") {
  TempDir dir;
  const fs::path db =
      makeSqliteHistory(dir, "calls_per_minute = 60000\nfailure_ratio = 0.1\n", 3000);
  const std::string conninfo = freshDatabase("migrate_equal");
  std::string out, err;
  REQUIRE(migrate(dir, {"--from", "sqlite:" + db.string(), "--to", "postgres:" + conninfo}, out,
                  err) == 0);
  INFO(out << err);
  const std::int64_t invocations = sqliteInt(db, "SELECT count(*) FROM codex_invocations");
  const std::int64_t windows = sqliteInt(db, "SELECT count(*) FROM window_ledger");
  const std::int64_t quotas = sqliteInt(db, "SELECT count(*) FROM quota_snapshots");
  const std::int64_t records = sqliteInt(db, "SELECT count(*) FROM records");
  const std::int64_t rows = invocations + windows + quotas + records;
  CHECK_THAT(out, Catch::Contains("migrate: done: " + std::to_string(rows) + " rows read, " +
                                  std::to_string(rows) + " new, 0 already there"));
  CHECK_THAT(err, Catch::Contains("/" + std::to_string(rows) + " rows (100%)"));
  const std::string database = "migrate_equal";
  CHECK(pgInt(database, "SELECT count(*) FROM gatherd.codex_invocations") == invocations);
  CHECK(pgInt(database, "SELECT count(*) FROM gatherd.window_ledger") == windows);
  CHECK(pgInt(database, "SELECT count(*) FROM gatherd.quota_snapshots") == quotas);
  CHECK(pgInt(database, "SELECT count(*) FROM gatherd.records") == records);
  // The migration adds no live events: no change rows.
  CHECK(pgInt(database, "SELECT count(*) FROM gatherd.changes") == 0);

  // The same API answers from a gatherd on each store (no sources: nothing changes meanwhile).
  ServedBoth served(dir, db, conninfo);
  const int sqlite_port = served.sqlite_port;
  const int postgres_port = served.postgres_port;
  checkSameAnswers(sqlite_port, postgres_port);
  const auto expected_pages = allInvocationPages(sqlite_port);
  CHECK(expected_pages.size() >= 6);  // 3000+ rows, 500 a page
  CHECK(allInvocationPages(postgres_port) == expected_pages);
  const std::string stats = get(postgres_port, "/api/stats").body;

  // Run again: every row is already there.
  REQUIRE(migrate(dir, {"--from", "sqlite:" + db.string(), "--to", "postgres:" + conninfo}, out,
                  err) == 0);
  CHECK_THAT(out, Catch::Contains("migrate: done: " + std::to_string(rows) + " rows read, 0 new, " +
                                  std::to_string(rows) + " already there"));
  CHECK(pgInt(database, "SELECT count(*) FROM gatherd.codex_invocations") == invocations);
  CHECK(pgInt(database, "SELECT count(*) FROM gatherd.window_ledger") == windows);
  CHECK(pgInt(database, "SELECT count(*) FROM gatherd.quota_snapshots") == quotas);
  CHECK(get(postgres_port, "/api/stats").body == stats);
  served.stop();
}

TEST_CASE("migrate: bad arguments, a missing file and an unreachable server are clear errors",
          "[postgres-runtime]") {
  TempDir dir;
  const std::string conninfo = cluster().conninfo("postgres");
  std::string out, err;
  CHECK(migrate(dir, {"--to", "postgres:" + conninfo}, out, err) == 2);
  CHECK_THAT(err, Catch::Contains("--from and --to are both required"));
  CHECK(migrate(dir,
                {"--from", "sqlite:" + (dir.path() / "nope.db").string(), "--to",
                 "postgres:" + conninfo},
                out, err) == 2);
  CHECK_THAT(err, Catch::Contains("nope.db: no such file"));
  CHECK_FALSE(fs::exists(dir.path() / "nope.db"));
  CHECK(migrate(dir, {"--from", "mysql:x", "--to", "postgres:" + conninfo}, out, err) == 2);
  CHECK_THAT(err, Catch::Contains("only sqlite[:PATH] is a source"));
  // `--to postgres` reads the ini's postgres sink: there is none in migrate.ini.
  dir.write("empty.db", "");
  CHECK(migrate(dir, {"--from", "sqlite:" + (dir.path() / "empty.db").string(), "--to", "postgres"},
                out, err) == 2);
  CHECK_THAT(err, Catch::Contains("has no [sink.*] with plugin = postgres"));
  CHECK(migrate(dir, {"--from", "sqlite", "--to", "postgres:" + conninfo}, out, err) == 2);
  CHECK_THAT(err, Catch::Contains("has no [sink.*] with plugin = sqlite"));
  GatherdProcess missing(
      dir.write("missing.ini",
                baseConfig(dir.path(), "10s") + "[sink.db]\nplugin = sqlite\npath = missing.db\n"),
      {"migrate", "--from", "sqlite", "--to", "postgres:" + conninfo});
  CHECK(missing.wait(60s) == 2);
  CHECK_THAT(missing.err(), Catch::Contains("missing.db: no such file"));
  CHECK_FALSE(fs::exists(dir.path() / "missing.db"));
  // A port nobody listens on; the password must not show.
  CHECK(migrate(dir,
                {"--from", "sqlite:" + (dir.path() / "empty.db").string(), "--to",
                 "postgres:host=127.0.0.1 port=1 user=x password=hunter2-secret "
                 "connect_timeout=2"},
                out, err) == 1);
  CHECK_THAT(err, Catch::Contains("[sink.migrate-to] cannot start"));
  CHECK_THAT(err, !Catch::Contains("hunter2-secret"));
}

TEST_CASE(
    "migrate: --from sqlite and --to postgres take the ini's sinks (schema and collector too)",
    "[postgres-runtime]") {
  TempDir dir;
  const fs::path db = makeSqliteHistory(dir, "calls_per_minute = 6000\n", 200);
  const std::string conninfo = freshDatabase("migrate_ini");
  const auto ini = dir.write("team.ini", baseConfig(dir.path(), "10s") +
                                             "[sink.team]\nplugin = postgres\ndsn = " + conninfo +
                                             "\nschema = team\ncollector = laptop\n\n"
                                             "[sink.local]\nplugin = sqlite\npath = " +
                                             db.string() + "\n");
  GatherdProcess process(ini, {"migrate", "--from", "sqlite:" + db.string(), "--to", "postgres"});
  REQUIRE(process.wait(120s) == 0);
  INFO(process.out() << process.err());
  CHECK(pgInt("migrate_ini", "SELECT count(*) FROM team.codex_invocations") ==
        sqliteInt(db, "SELECT count(*) FROM codex_invocations"));
  CHECK(cluster().query("SELECT source || '=' || collector FROM team.source_owners",
                        "migrate_ini") == "demo=laptop");
  // --from sqlite alone: the ini's sqlite sink.
  GatherdProcess again(ini, {"migrate", "--from", "sqlite", "--to", "postgres"});
  REQUIRE(again.wait(120s) == 0);
  CHECK_THAT(again.out(), Catch::Contains(" 0 new, "));
}

TEST_CASE("migrate: killed mid-copy of 50k rows, run again: complete and exact",
          "[postgres-runtime]") {
  TempDir dir;
  const fs::path db =
      makeSqliteHistory(dir, "calls_per_minute = 0\nburst_every = 1s\nburst_size = 5000\n", 50'000);
  const std::int64_t invocations = sqliteInt(db, "SELECT count(*) FROM codex_invocations");
  const std::string database = "migrate_resume";
  const std::string conninfo = freshDatabase(database);
  // The schema, made by a gatherd starting on it.
  {
    GatherdProcess gatherd(
        dir.write("schema.ini",
                  serveConfig(dir, "s", "[sink.db]\nplugin = postgres\ndsn = " + conninfo + "\n")));
    REQUIRE(gatherd.waitForLog("postgres store open", 20s));
    gatherd.signal(SIGTERM);
    REQUIRE(gatherd.wait(30s) == 0);
  }
  // Another session inserts, and does not commit, the invocation that comes 30001st: the copy
  // waits on it halfway through, deterministically, and is killed there.
  const std::string key_where = " FROM codex_invocations ORDER BY id LIMIT 1 OFFSET 30000";
  const std::string invoke_id = sqliteText(db, "SELECT invoke_id" + key_where);
  const std::string occurred_at = sqliteText(db, "SELECT occurred_at" + key_where);
  ChildProcess holder(
      {cluster().bindir() + "/psql", "-X", "-q", "-h", "127.0.0.1", "-p",
       std::to_string(cluster().port()), "-U", "gatherd", "-d", database, "-c",
       "BEGIN; INSERT INTO gatherd.codex_invocations (invoke_id, occurred_at, source, collector, "
       "occurred_ms, created_ms, updated_ms) VALUES ('" +
           invoke_id + "', '" + occurred_at +
           "', 'demo', 'holder', 0, 0, 0); SELECT pg_sleep(600) AS holding_the_row;"},
      dir.path());
  const std::string holding =
      "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%AS holding_the_row%' AND "
      "state = 'active' AND pid <> pg_backend_pid()";
  auto waitUntil = [&](const std::string& sql, std::int64_t value) {
    return gatherd::sdk::testing::eventually([&] { return pgInt(database, sql) == value; }, 60s,
                                             50ms);
  };
  REQUIRE(waitUntil(holding, 1));

  const auto ini = dir.write("migrate.ini", baseConfig(dir.path(), "10s"));
  const std::vector<std::string> args = {"migrate", "--from", "sqlite:" + db.string(), "--to",
                                         "postgres:" + conninfo};
  {
    GatherdProcess interrupted(ini, args);
    // Blocked on the held row: a lock not granted.
    REQUIRE(waitUntil("SELECT count(*) FROM pg_locks WHERE NOT granted", 1));
    interrupted.signal(SIGKILL);
    REQUIRE(interrupted.wait(30s) != 0);
  }
  const std::int64_t before = pgInt(database, "SELECT count(*) FROM gatherd.codex_invocations");
  INFO("copied before the kill: " << before << " of " << invocations);
  CHECK(before > 0);
  CHECK(before <= 30'000);
  CHECK(pgInt(database, "SELECT count(*) FROM gatherd.window_ledger") == 0);
  REQUIRE(cluster().query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query "
                          "LIKE '%AS holding_the_row%' AND pid <> pg_backend_pid()",
                          database) == "t");
  CHECK(holder.wait(30s) != -1);

  GatherdProcess resumed(ini, args);
  REQUIRE(resumed.wait(300s) == 0);
  INFO(resumed.out() << resumed.err());
  const std::int64_t rows = invocations + sqliteInt(db, "SELECT count(*) FROM window_ledger") +
                            sqliteInt(db, "SELECT count(*) FROM quota_snapshots") +
                            sqliteInt(db, "SELECT count(*) FROM records");
  CHECK_THAT(resumed.out(),
             Catch::Contains("migrate: done: " + std::to_string(rows) + " rows read, " +
                             std::to_string(rows - before) + " new"));
  CHECK(pgInt(database, "SELECT count(*) FROM gatherd.codex_invocations") == invocations);
  CHECK(pgInt(database,
              "SELECT count(DISTINCT (invoke_id, occurred_at)) FROM "
              "gatherd.codex_invocations") == invocations);
  CHECK(pgInt(database, "SELECT count(*) FROM gatherd.window_ledger") ==
        sqliteInt(db, "SELECT count(*) FROM window_ledger"));
  CHECK(pgInt(database, "SELECT count(*) FROM gatherd.quota_snapshots") ==
        sqliteInt(db, "SELECT count(*) FROM quota_snapshots"));
  // Rollups exact: each invocation counted once, cost to the nano-dollar.
  for (const char* column : {"count", "cost_nano", "total_tokens", "input_tokens"}) {
    INFO(column);
    const std::string sum = std::string("SELECT sum(") + column + ") FROM ";
    CHECK(pgInt(database, sum + "gatherd.invocation_rollup_hourly") ==
          sqliteInt(db, sum + "invocation_rollup_hourly"));
    CHECK(pgInt(database, sum + "gatherd.invocation_rollup_daily") ==
          sqliteInt(db, sum + "invocation_rollup_daily"));
    CHECK(pgInt(database, sum + "gatherd.invocation_rollup_hourly_source") ==
          sqliteInt(db, sum + "invocation_rollup_hourly_source"));
  }
}

TEST_CASE("migrate: a history whose retention deleted rows keeps its totals, once",
          "[postgres-runtime]") {
  TempDir dir;
  const fs::path db = makeSqliteHistory(dir, "calls_per_minute = 60000\n", 3000);
  // What the sqlite sink's retention does (invocation_retention_days): delete the older rows,
  // keep their totals in the rollups, record the horizon. Here the horizon is the median call,
  // so the hour it falls in keeps some rows and lost others.
  const std::int64_t horizon =
      sqliteInt(db,
                "SELECT occurred_ms FROM codex_invocations ORDER BY occurred_ms LIMIT 1 "
                "OFFSET (SELECT count(*) / 2 FROM codex_invocations)");
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &handle) == SQLITE_OK);
  const std::string prune = "DELETE FROM codex_invocations WHERE occurred_ms < " +
                            std::to_string(horizon) +
                            "; UPDATE meta SET value = " + std::to_string(horizon) +
                            " WHERE name = 'invocations_pruned_before_ms'";
  REQUIRE(sqlite3_exec(handle, prune.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(handle);

  const std::string conninfo = freshDatabase("migrate_pruned");
  std::string out, err;
  REQUIRE(migrate(dir, {"--from", "sqlite:" + db.string(), "--to", "postgres:" + conninfo}, out,
                  err) == 0);
  INFO(out << err);
  CHECK_THAT(out, Catch::Contains("the source's retention deleted invocations before"));
  CHECK(pgInt("migrate_pruned", "SELECT count(*) FROM gatherd.imported_pruned_totals") > 0);
  ServedBoth served(dir, db, conninfo);
  const int sqlite_port = served.sqlite_port;
  const int postgres_port = served.postgres_port;
  checkSameAnswers(sqlite_port, postgres_port);
  const std::string stats = get(postgres_port, "/api/stats").body;
  CHECK_THAT(stats, Catch::Contains("\"count\":" +
                                    std::to_string(sqliteInt(
                                        db, "SELECT sum(count) FROM invocation_rollup_hourly"))));

  // Again: the pruned totals are not added a second time.
  REQUIRE(migrate(dir, {"--from", "sqlite:" + db.string(), "--to", "postgres:" + conninfo}, out,
                  err) == 0);
  CHECK_THAT(out, Catch::Contains(" 0 new, "));
  CHECK(get(postgres_port, "/api/stats").body == stats);
  served.stop();
}
