// A source's state has one author, the core: the real gatherd polls a fake upstream that answers
// "session expired", and the `source` events of /events carry the same state and failures in a
// row as /api/sources, published when they change (the store keeps one row per source).
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include "gatherd/sdk/testing/eventually.hpp"
#include "gatherd_process.hpp"
#include "http_test_client.hpp"
#include "runtime_support.hpp"
#include <signal.h>

using namespace gatherd::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// The data of every `event: source` received so far, parsed.
std::vector<Poco::JSON::Object::Ptr> sourceEvents(const std::string& stream) {
  std::vector<Poco::JSON::Object::Ptr> events;
  const std::string marker = "event: source\ndata: ";
  for (auto at = stream.find(marker); at != std::string::npos; at = stream.find(marker, at + 1)) {
    const auto start = at + marker.size();
    const auto end = stream.find('\n', start);
    if (end == std::string::npos) break;
    events.push_back(Poco::JSON::Parser()
                         .parse(stream.substr(start, end - start))
                         .extract<Poco::JSON::Object::Ptr>());
  }
  return events;
}

long long sourceStatusRows(const fs::path& db_path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM records WHERE stream = 'source_status'", -1,
                             &statement, nullptr) == SQLITE_OK);
  long long rows = -1;
  if (sqlite3_step(statement) == SQLITE_ROW) rows = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return rows;
}

}  // namespace

TEST_CASE("source events carry the core's state of a source: the same as /api/sources",
          "[source_status]") {
  TempDir dir;
  fs::create_directories(dir.path() / "upstream");
  ChildProcess upstream({FAKE_UPSTREAM_BIN, "--port", "0", "--print-port", "--expired"},
                        dir.path() / "upstream");
  const auto ini = dir.write(
      "gatherd.ini", baseConfig(dir.path(), "200ms") +
                         "[source.acct]\nplugin = xychatai-codex\nbase_url = http://127.0.0.1:" +
                         printedPort(upstream) +
                         "\ncookie = status-suite-cookie\n\n[sink.db]\nplugin = sqlite\n\n"
                         "[sink.live]\nplugin = sse\n");
  GatherdProcess gatherd(ini);
  REQUIRE(gatherd.waitForLog("started", 20s));
  const int port = portOf(gatherd);
  gatherd::core::testing::RawClient stream(static_cast<std::uint16_t>(port));
  REQUIRE(stream.send("GET /events?lastEventId=0 HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  // Expired windows in a row, each one more failure. The store keeps one row per source and a
  // change points at it, so a stream that reads two changes at once sees the newer state twice:
  // the counts only ever grow.
  std::vector<Poco::JSON::Object::Ptr> events;
  const bool three = gatherd::sdk::testing::eventually(
      [&] {
        stream.readUntil("\x01", 200);  // reads for 200 ms
        events = sourceEvents(stream.received());
        return !events.empty() && events.back()->getValue<std::int64_t>("consecutiveFailures") >= 3;
      },
      30s, 10ms);
  INFO(stream.received());
  REQUIRE(three);
  std::int64_t previous = 0;
  for (const auto& event : events) {
    CHECK(event->getValue<std::string>("name") == "acct");
    CHECK(event->getValue<std::string>("state") == "running");
    CHECK(event->getValue<std::string>("authState") == "expired");
    const std::int64_t failures = event->getValue<std::int64_t>("consecutiveFailures");
    CHECK(failures >= std::max<std::int64_t>(previous, 1));
    previous = failures;
  }
  CHECK_THAT(events.front()->getValue<std::string>("authHint"),
             Catch::Contains("XY_SESSION_COOKIE_VALUE"));

  // The API says what the last event said (or one window more, whose event is on its way).
  const Http sources = get(port, "/api/sources");
  REQUIRE(sources.status == 200);
  INFO(sources.body);
  const auto source = Poco::JSON::Parser()
                          .parse(sources.body)
                          .extract<Poco::JSON::Object::Ptr>()
                          ->getArray("sources")
                          ->getObject(0);
  const std::int64_t api_failures = source->getValue<std::int64_t>("consecutiveFailures");
  const std::int64_t event_failures = events.back()->getValue<std::int64_t>("consecutiveFailures");
  CHECK(api_failures >= event_failures);
  CHECK(api_failures <= event_failures + 1);
  CHECK(source->getValue<std::string>("authState") == "expired");
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(30s) == 0);
  // One row per source, updated in place.
  CHECK(sourceStatusRows(dir.path() / "data" / "gatherd.db") == 1);
}
