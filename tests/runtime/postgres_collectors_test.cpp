// Several collectors, one PostgreSQL, one dashboard, with the real binary on a throwaway
// cluster: two gatherds with their own fake upstreams write at once while a third serves, and
// the server is stopped and restarted during writes.
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <catch2/catch.hpp>

#include "gatherd/sdk/testing/eventually.hpp"
#include "gatherd_process.hpp"
#include "http_test_client.hpp"
#include "postgres_runtime_support.hpp"
#include "runtime_support.hpp"
#include <signal.h>

using namespace gatherd::testing;
using namespace std::chrono_literals;

namespace {

/// A collector: the xychatai source against its own fake upstream, into the shared database.
std::string collectorConfig(const TempDir& dir, const std::string& name, const Upstream& upstream,
                            const std::string& conninfo) {
  return baseConfig(dir.path() / name, "200ms") +
         "[source.acct]\nplugin = xychatai-codex\nbase_url = http://127.0.0.1:" + upstream.port() +
         "\ncookie = cookie-of-" + name + "\n\n[sink.db]\nplugin = postgres\ndsn = " + conninfo +
         "\ncollector = " + name + "\n";
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
      if (it == rows.end())
        ++missing;
      else if (it->second != 1)
        ++doubled;
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
  (void)gatherd::sdk::testing::eventually(
      [&] {
        if (streamedInvocations(stream.received()) == expected) return true;
        stream.readUntil("\x01 not in any stream", 200);
        return false;
      },
      30s);
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

TEST_CASE(
    "two collectors write to one PostgreSQL at once, a third serves them: every record "
    "once, exact stats, live events of both",
    "[postgres-runtime]") {
  TempDir dir;
  const std::string database = "collectors";
  const std::string conninfo = freshDatabase(database);
  Upstream upstream_alpha(dir.path() / "upstream-alpha", 3);
  Upstream upstream_beta(dir.path() / "upstream-beta", 3);

  Hub hub(dir, conninfo);

  GatherdProcess alpha(
      dir.write("alpha.ini", collectorConfig(dir, "alpha", upstream_alpha, conninfo)));
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
  const std::string owner = cluster().query(
      "SELECT collector FROM gatherd.source_owners WHERE source = 'acct'", database);
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
  const auto all_time =
      parser.parse(stats.body).extract<Poco::JSON::Object::Ptr>()->getObject("allTime");
  CHECK(all_time->getValue<std::int64_t>("count") == static_cast<std::int64_t>(total));
  CHECK(all_time->getValue<std::int64_t>("count") ==
        pgInt(database, "SELECT sum(count) FROM gatherd.invocation_rollup_hourly"));
  const auto expected = pairs(served);
  readStreamUntil(hub.stream, expected);
  CHECK(streamedInvocations(hub.stream.received()) == expected);
  hub.process.signal(SIGTERM);
  CHECK(hub.process.wait(30s) == 0);
}

TEST_CASE(
    "PostgreSQL stopped and restarted while a collector writes: nothing lost, the hub's "
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
  CHECK(gatherd::sdk::testing::eventually(
      [&] {
        return pgInt(database, "SELECT count(*) FROM gatherd.codex_invocations") >=
               static_cast<std::int64_t>(served.at("acct").size());
      },
      60s, 100ms));
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
