// PostgreSQL as the central store, with the real gatherd binary on a throwaway cluster:
// `gatherd migrate` of a database the sqlite sink made (equal API answers, idempotent, resumed
// after kill -9), and several collectors writing at once while a third gatherd serves.
#include <signal.h>
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "gatherd_process.hpp"
#include "http_test_client.hpp"
#include "postgres_cluster.hpp"
#include "runtime_support.hpp"

using namespace gatherd::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

gatherd::pgtest::PostgresCluster& cluster() {
  static gatherd::pgtest::PostgresCluster instance(GATHERD_PG_BINDIR);
  return instance;
}

/// A database of its own per test, so tests do not see each other's rows.
std::string freshDatabase(const std::string& name) {
  REQUIRE(cluster().ok());
  INFO(cluster().problem());
  REQUIRE(cluster().query("DROP DATABASE IF EXISTS " + name) == "");
  REQUIRE(cluster().query("CREATE DATABASE " + name) == "");
  return cluster().conninfo(name);
}

std::int64_t pgInt(const std::string& database, const std::string& sql) {
  const std::string text = cluster().query(sql, database);
  INFO(sql << " -> " << text);
  REQUIRE(!text.empty());
  return std::stoll(text);
}

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
  GatherdProcess gatherd(dir.write("collect.ini", baseConfig(dir.path(), "200ms") +
                                                      "[source.demo]\nplugin = demo\nseed = 7\n" +
                                                      demo_keys + "\n[sink.db]\nplugin = sqlite\n"));
  REQUIRE(gatherd.waitForLog("sqlite store open", 20s));
  const auto until = std::chrono::steady_clock::now() + 120s;
  while (sqliteInt(db, "SELECT count(*) FROM codex_invocations") < invocations) {
    REQUIRE(std::chrono::steady_clock::now() < until);
    std::this_thread::sleep_for(100ms);
  }
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(60s) == 0);
  return db;
}

std::string serveConfig(const TempDir& dir, const std::string& name, const std::string& sink) {
  std::string text = baseConfig(dir.path() / name, "10s") + sink;
  return text;
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
    const Http reply = get(port, "/api/invocations?limit=500" +
                                     (cursor.empty() ? "" : "&cursor=" + cursor));
    REQUIRE(reply.status == 200);
    pages.push_back(reply.body);
    const auto at = reply.body.find("\"nextCursor\":\"");
    if (at == std::string::npos) break;
    const auto begin = at + std::string("\"nextCursor\":\"").size();
    cursor = reply.body.substr(begin, reply.body.find('"', begin) - begin);
  }
  return pages;
}

}  // namespace

TEST_CASE("migrate: a sqlite history into PostgreSQL answers the API the same, and run again stores nothing twice",
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
  GatherdProcess on_sqlite(dir.write(
      "serve-sqlite.ini",
      serveConfig(dir, "a", "[sink.db]\nplugin = sqlite\npath = " + db.string() + "\n")));
  GatherdProcess on_postgres(dir.write(
      "serve-postgres.ini",
      serveConfig(dir, "b", "[sink.db]\nplugin = postgres\ndsn = " + conninfo + "\n")));
  const int sqlite_port = portOf(on_sqlite);
  const int postgres_port = portOf(on_postgres);
  for (const std::string path :
       {"/api/stats", "/api/stats/models?range=30d", "/api/stats/errors?range=30d",
        "/api/stats/latency?range=30d", "/api/stats/timeseries?range=1d&bucket=1h",
        "/api/quota/latest", "/api/windows?limit=1000"}) {
    INFO(path);
    const Http expected = get(sqlite_port, path);
    REQUIRE(expected.status == 200);
    CHECK(get(postgres_port, path).body == expected.body);
  }
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
  on_sqlite.signal(SIGTERM);
  on_postgres.signal(SIGTERM);
  CHECK(on_sqlite.wait(30s) == 0);
  CHECK(on_postgres.wait(30s) == 0);
}

TEST_CASE("migrate: bad arguments, a missing file and an unreachable server are clear errors",
          "[postgres-runtime]") {
  TempDir dir;
  const std::string conninfo = cluster().conninfo("postgres");
  std::string out, err;
  CHECK(migrate(dir, {"--to", "postgres:" + conninfo}, out, err) == 2);
  CHECK_THAT(err, Catch::Contains("--from and --to are both required"));
  CHECK(migrate(dir, {"--from", "sqlite:" + (dir.path() / "nope.db").string(), "--to",
                      "postgres:" + conninfo},
                out, err) == 2);
  CHECK_THAT(err, Catch::Contains("nope.db: no such file"));
  CHECK_FALSE(fs::exists(dir.path() / "nope.db"));
  CHECK(migrate(dir, {"--from", "mysql:x", "--to", "postgres:" + conninfo}, out, err) == 2);
  CHECK_THAT(err, Catch::Contains("only sqlite[:PATH] is a source"));
  // `--to postgres` reads the ini's postgres sink: there is none in migrate.ini.
  dir.write("empty.db", "");
  CHECK(migrate(dir, {"--from", "sqlite:" + (dir.path() / "empty.db").string(), "--to",
                      "postgres"},
                out, err) == 2);
  CHECK_THAT(err, Catch::Contains("has no [sink.*] with plugin = postgres"));
  CHECK(migrate(dir, {"--from", "sqlite", "--to", "postgres:" + conninfo}, out, err) == 2);
  CHECK_THAT(err, Catch::Contains("has no [sink.*] with plugin = sqlite"));
  GatherdProcess missing(
      dir.write("missing.ini", baseConfig(dir.path(), "10s") +
                                   "[sink.db]\nplugin = sqlite\npath = missing.db\n"),
      {"migrate", "--from", "sqlite", "--to", "postgres:" + conninfo});
  CHECK(missing.wait(60s) == 2);
  CHECK_THAT(missing.err(), Catch::Contains("missing.db: no such file"));
  CHECK_FALSE(fs::exists(dir.path() / "missing.db"));
  // A port nobody listens on; the password must not show.
  CHECK(migrate(dir, {"--from", "sqlite:" + (dir.path() / "empty.db").string(), "--to",
                      "postgres:host=127.0.0.1 port=1 user=x password=hunter2-secret "
                      "connect_timeout=2"},
                out, err) == 1);
  CHECK_THAT(err, Catch::Contains("[sink.migrate-to] cannot start"));
  CHECK_THAT(err, !Catch::Contains("hunter2-secret"));
}

TEST_CASE("migrate: --from sqlite and --to postgres take the ini's sinks (schema and collector too)",
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
  CHECK_THAT(process.err(), !Catch::Contains("warning: the source's retention"));

  // A source whose retention deleted rows: their totals cannot come along, and migrate says so.
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &handle) == SQLITE_OK);
  REQUIRE(sqlite3_exec(handle,
                       "UPDATE meta SET value = 1795000000000 WHERE name = "
                       "'invocations_pruned_before_ms'",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(handle);
  // --from sqlite alone: the ini's sqlite sink.
  GatherdProcess again(ini, {"migrate", "--from", "sqlite", "--to", "postgres"});
  REQUIRE(again.wait(120s) == 0);
  CHECK_THAT(again.err(), Catch::Contains("warning: the source's retention deleted invocations "
                                          "before 2026-11-18T11:06:40Z"));
}

TEST_CASE("migrate: killed mid-copy of 50k rows, run again: complete and exact",
          "[postgres-runtime]") {
  TempDir dir;
  const fs::path db = makeSqliteHistory(
      dir, "calls_per_minute = 0\nburst_every = 1s\nburst_size = 5000\n", 50'000);
  const std::int64_t invocations = sqliteInt(db, "SELECT count(*) FROM codex_invocations");
  const std::string database = "migrate_resume";
  const std::string conninfo = freshDatabase(database);
  // The schema, made by a gatherd starting on it.
  {
    GatherdProcess gatherd(dir.write(
        "schema.ini", serveConfig(dir, "s", "[sink.db]\nplugin = postgres\ndsn = " + conninfo +
                                                "\n")));
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
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (pgInt(database, sql) != value) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(50ms);
    }
    return true;
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
  CHECK_THAT(resumed.out(), Catch::Contains("migrate: done: " + std::to_string(rows) +
                                            " rows read, " + std::to_string(rows - before) +
                                            " new"));
  CHECK(pgInt(database, "SELECT count(*) FROM gatherd.codex_invocations") == invocations);
  CHECK(pgInt(database, "SELECT count(DISTINCT (invoke_id, occurred_at)) FROM "
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

namespace {

/// A collector: the xychatai source against its own fake upstream, into the shared database.
std::string collectorConfig(const TempDir& dir, const std::string& name, const Upstream& upstream,
                            const std::string& conninfo) {
  return baseConfig(dir.path() / name, "200ms") +
         "[source.acct]\nplugin = xychatai-codex\nbase_url = http://127.0.0.1:" +
         upstream.port() + "\ncookie = cookie-of-" + name +
         "\n\n[sink.db]\nplugin = postgres\ndsn = " + conninfo + "\ncollector = " + name + "\n";
}

/// (source, requestId) of every `event: invocation` in an SSE stream's text.
std::set<std::pair<std::string, std::string>> streamedInvocations(const std::string& text) {
  std::set<std::pair<std::string, std::string>> seen;
  const std::string marker = "event: invocation\ndata: ";
  for (auto at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) {
    const auto begin = at + marker.size();
    const auto end = text.find('\n', begin);
    if (end == std::string::npos) break;
    Poco::JSON::Parser parser;
    const auto event =
        parser.parse(text.substr(begin, end - begin)).extract<Poco::JSON::Object::Ptr>();
    seen.emplace(event->getValue<std::string>("source"), event->getValue<std::string>("requestId"));
  }
  return seen;
}

/// source -> requestId -> rows, as stored.
std::map<std::string, std::map<std::string, int>> storedInvocations(const std::string& database) {
  std::map<std::string, std::map<std::string, int>> stored;
  std::istringstream lines(cluster().query(
      "SELECT source, invoke_id, count(*) FROM gatherd.codex_invocations GROUP BY 1, 2", database));
  for (std::string line; std::getline(lines, line);) {
    const auto first = line.find('|');
    const auto second = line.find('|', first + 1);
    REQUIRE(second != std::string::npos);
    stored[line.substr(0, first)][line.substr(first + 1, second - first - 1)] =
        std::stoi(line.substr(second + 1));
  }
  return stored;
}

/// Checks that every id of `served` (by stored source name) is stored exactly once and nothing
/// else is; returns how many there are.
std::size_t requireStoredOnce(const std::string& database,
                              const std::map<std::string, std::set<std::string>>& served) {
  const auto stored = storedInvocations(database);
  REQUIRE(stored.size() == served.size());
  std::size_t total = 0;
  for (const auto& [source, ids] : served) {
    INFO(source);
    REQUIRE(stored.count(source) == 1);
    const auto& rows = stored.at(source);
    CHECK(rows.size() == ids.size());
    std::size_t missing = 0, doubled = 0;
    for (const std::string& id : ids) {
      const auto it = rows.find(id);
      if (it == rows.end()) ++missing;
      else if (it->second != 1) ++doubled;
    }
    CHECK(missing == 0);
    CHECK(doubled == 0);
    total += ids.size();
  }
  return total;
}

std::set<std::pair<std::string, std::string>> pairs(
    const std::map<std::string, std::set<std::string>>& served) {
  std::set<std::pair<std::string, std::string>> result;
  for (const auto& [source, ids] : served) {
    for (const std::string& id : ids) result.emplace(source, id);
  }
  return result;
}

/// Reads `stream` until its invocation events are exactly `expected` (or 30 s passed).
void readStreamUntil(gatherd::core::testing::RawClient& stream,
                     const std::set<std::pair<std::string, std::string>>& expected) {
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (streamedInvocations(stream.received()) != expected &&
         std::chrono::steady_clock::now() < until) {
    stream.readUntil("\x01 not in any stream", 200);
  }
}

/// The team dashboard: no sources, the postgres store and the SSE stream, with a client on
/// its /events.
struct Hub {
  Hub(const TempDir& dir, const std::string& conninfo)
      : process(dir.write("hub.ini",
                          serveConfig(dir, "hub",
                                      "[sink.db]\nplugin = postgres\ndsn = " + conninfo +
                                          "\ncollector = hub\n\n[sink.live]\nplugin = sse\n"))),
        port(portOf(process)),
        stream(static_cast<std::uint16_t>(port)) {
    REQUIRE(stream.send("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    REQUIRE(stream.readUntil(": connected\n\n"));
  }
  GatherdProcess process;
  int port;
  gatherd::core::testing::RawClient stream;
};

}  // namespace

TEST_CASE("two collectors write to one PostgreSQL at once, a third serves them: every record "
          "once, exact stats, live events of both",
          "[postgres-runtime]") {
  TempDir dir;
  const std::string database = "collectors";
  const std::string conninfo = freshDatabase(database);
  Upstream upstream_alpha(dir.path() / "upstream-alpha", 3);
  Upstream upstream_beta(dir.path() / "upstream-beta", 3);

  Hub hub(dir, conninfo);

  GatherdProcess alpha(dir.write("alpha.ini", collectorConfig(dir, "alpha", upstream_alpha, conninfo)));
  GatherdProcess beta(dir.write("beta.ini", collectorConfig(dir, "beta", upstream_beta, conninfo)));
  REQUIRE(upstream_alpha.waitAnswers(15, 60s));
  REQUIRE(upstream_beta.waitAnswers(15, 60s));
  // Frozen upstreams: the collectors catch up, then stop.
  for (const Upstream* upstream : {&upstream_alpha, &upstream_beta}) {
    upstream->freeze();
    REQUIRE(upstream->waitAnswers(upstream->answers() + 4, 30s));
  }
  alpha.signal(SIGTERM);
  beta.signal(SIGTERM);
  REQUIRE(alpha.wait(30s) == 0);
  REQUIRE(beta.wait(30s) == 0);
  INFO(alpha.err() << beta.err());

  // The first collector to store keeps the name; the other's rows go under <collector>/acct.
  const std::string owner =
      cluster().query("SELECT collector FROM gatherd.source_owners WHERE source = 'acct'", database);
  REQUIRE((owner == "alpha" || owner == "beta"));
  const std::string other = owner == "alpha" ? "beta" : "alpha";
  const std::map<std::string, std::set<std::string>> served = {
      {"acct", (owner == "alpha" ? upstream_alpha : upstream_beta).served()},
      {other + "/acct", (owner == "alpha" ? upstream_beta : upstream_alpha).served()}};
  const std::size_t total = requireStoredOnce(database, served);

  // The hub's stats count every record once; its stream carried both collectors' records live.
  const Http stats = get(hub.port, "/api/stats");
  REQUIRE(stats.status == 200);
  Poco::JSON::Parser parser;
  const auto all_time = parser.parse(stats.body)
                            .extract<Poco::JSON::Object::Ptr>()
                            ->getObject("allTime");
  CHECK(all_time->getValue<std::int64_t>("count") == static_cast<std::int64_t>(total));
  CHECK(all_time->getValue<std::int64_t>("count") ==
        pgInt(database, "SELECT sum(count) FROM gatherd.invocation_rollup_hourly"));
  const auto expected = pairs(served);
  readStreamUntil(hub.stream, expected);
  CHECK(streamedInvocations(hub.stream.received()) == expected);
  hub.process.signal(SIGTERM);
  CHECK(hub.process.wait(30s) == 0);
}

TEST_CASE("PostgreSQL stopped and restarted while a collector writes: nothing lost, the hub's "
          "stream goes on",
          "[postgres-runtime]") {
  TempDir dir;
  const std::string database = "restart";
  const std::string conninfo = freshDatabase(database);
  Upstream upstream(dir.path() / "upstream", 3);
  Hub hub(dir, conninfo);
  GatherdProcess alpha(dir.write("alpha.ini", collectorConfig(dir, "alpha", upstream, conninfo)));
  REQUIRE(upstream.waitAnswers(5, 60s));
  REQUIRE(cluster().stop("fast"));
  const std::size_t served_before_stop = upstream.served().size();
  // Polls go on while the server is down: their batches wait in the collector's queue.
  REQUIRE(upstream.waitAnswers(upstream.answers() + 10, 60s));
  CHECK(get(hub.port, "/api/stats").status == 503);
  REQUIRE(cluster().start());
  upstream.freeze();
  REQUIRE(upstream.waitAnswers(upstream.answers() + 4, 30s));
  const std::map<std::string, std::set<std::string>> served = {{"acct", upstream.served()}};
  // Everything arrives once the writes are retried.
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (pgInt(database, "SELECT count(*) FROM gatherd.codex_invocations") <
             static_cast<std::int64_t>(served.at("acct").size()) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  alpha.signal(SIGTERM);
  REQUIRE(alpha.wait(30s) == 0);
  INFO(alpha.err());
  const std::size_t total = requireStoredOnce(database, served);
  CHECK(total > served_before_stop);  // records served while the server was down are there too
  readStreamUntil(hub.stream, pairs(served));
  CHECK(streamedInvocations(hub.stream.received()) == pairs(served));
  hub.process.signal(SIGTERM);
  CHECK(hub.process.wait(30s) == 0);
}
