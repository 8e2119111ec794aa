// The fault suite: the real gatherd binary with the sqlite sink and its durable spool, against
// the fake xychatai upstream in --rolling mode (which logs every answer, so the test knows
// every record it served). Faults: kill -9 at random moments, a 30 s exclusive lock, a damaged
// spool file at start-up, SIGTERM during writes with shutdown_grace = 0, a full disk, the
// database damaged or made unwritable at runtime.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include "gatherd/sdk/testing/eventually.hpp"
#include "gatherd/sdk/testing/immutable_files.hpp"
#include "gatherd_process.hpp"
#include "runtime_support.hpp"
#include <signal.h>
#include <sys/mount.h>

using namespace gatherd::testing;
using gatherd::sdk::testing::ImmutableFiles;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string config(const TempDir& dir, const Upstream& upstream, const std::string& extra = {}) {
  std::string text = baseConfig(dir.path(), "200ms");
  text.insert(text.find("\n[http]"), "shutdown_grace = 2s\n" + extra);
  return text +
         "[source.acct]\nplugin = xychatai-codex\nbase_url = http://127.0.0.1:" + upstream.port() +
         "\ncookie = fault-suite-cookie\n\n[sink.db]\nplugin = sqlite\n";
}

fs::path dbPath(const TempDir& dir) {
  return dir.path() / "data" / "gatherd.db";
}

struct DbCheck {
  std::map<std::string, int> invocations;  // invoke id -> rows
  std::string integrity;
  long long windows = 0;
};

DbCheck checkDb(const fs::path& path) {
  DbCheck check;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT invoke_id, COUNT(*) FROM codex_invocations GROUP BY invoke_id",
                             -1, &statement, nullptr) == SQLITE_OK);
  while (sqlite3_step(statement) == SQLITE_ROW) {
    std::string id = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    id = id.substr(0, id.find('|'));
    check.invocations[id] += sqlite3_column_int(statement, 1);
  }
  sqlite3_finalize(statement);
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &statement, nullptr) == SQLITE_OK);
  while (sqlite3_step(statement) == SQLITE_ROW) {
    check.integrity += reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  }
  sqlite3_finalize(statement);
  REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM window_ledger", -1, &statement, nullptr) ==
          SQLITE_OK);
  if (sqlite3_step(statement) == SQLITE_ROW) check.windows = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return check;
}

// Lets gatherd catch up with a frozen upstream, then stops it cleanly.
void finish(GatherdProcess& gatherd, const Upstream& upstream) {
  upstream.freeze();
  REQUIRE(upstream.waitAnswers(upstream.answers() + 4, 30s));
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(30s) == 0);
}

void requireEveryServedRecordOnce(const TempDir& dir, const Upstream& upstream) {
  const DbCheck check = checkDb(dbPath(dir));
  CHECK(check.integrity == "ok");
  const std::set<std::string> served = upstream.served();
  REQUIRE_FALSE(served.empty());
  std::size_t missing = 0, doubled = 0;
  for (const std::string& id : served) {
    const auto it = check.invocations.find(id);
    if (it == check.invocations.end())
      ++missing;
    else if (it->second != 1)
      ++doubled;
  }
  INFO("served " << served.size() << ", stored " << check.invocations.size());
  CHECK(missing == 0);
  CHECK(doubled == 0);
  CHECK(check.invocations.size() == served.size());
}

std::vector<fs::path> segments(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (entry.path().extension() == ".journal") found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

/// Polls /ready until it answers 200; the last status.
int waitUntilReady(int port, std::chrono::seconds timeout) {
  int status = 0;
  gatherd::sdk::testing::eventually([&] { return (status = get(port, "/ready").status) == 200; },
                                    timeout, 200ms);
  return status;
}

/// Polls /ready until it answers 503 with `reason` in the body; the last answer.
Http waitUntilNotReady(int port, const std::string& reason, std::chrono::seconds timeout) {
  Http ready;
  gatherd::sdk::testing::eventually(
      [&] {
        ready = get(port, "/ready");
        return ready.status == 503 && ready.body.find(reason) != std::string::npos;
      },
      timeout, 200ms);
  return ready;
}

/// gatherd with the sqlite sink against its own rolling upstream, started, past 3 answers.
struct Running {
  Running() {
    REQUIRE(gatherd.waitForLog("started", 20s));
    REQUIRE(upstream.waitAnswers(3, 20s));
  }
  TempDir dir;
  Upstream upstream{dir.path() / "upstream"};
  fs::path ini = dir.write("gatherd.ini", config(dir, upstream));
  GatherdProcess gatherd{ini};
  int port = portOf(gatherd);
};

}  // namespace

TEST_CASE("fault: kill -9 at random moments, 30 times: every record served is stored once",
          "[fault]") {
  TempDir dir;
  Upstream upstream(dir.path() / "upstream");
  const auto ini = dir.write("gatherd.ini", config(dir, upstream));
  std::mt19937 random(20261201);
  std::uniform_int_distribution<int> delay_ms(0, 700);
  for (int round = 0; round < 30; ++round) {
    GatherdProcess gatherd(ini);
    REQUIRE(gatherd.waitForLog("started", 20s));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    gatherd.signal(SIGKILL);
    REQUIRE(gatherd.wait(10s) != -1);
  }
  GatherdProcess gatherd(ini);
  REQUIRE(gatherd.waitForLog("started", 20s));
  finish(gatherd, upstream);
  INFO(gatherd.err());
  requireEveryServedRecordOnce(dir, upstream);
}

TEST_CASE("fault: an exclusive lock held 30 s by another process loses nothing, and /ready says so",
          "[fault]") {
  Running run;
  auto& [dir, upstream, ini, gatherd, port] = run;

  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(dbPath(dir).c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 10'000);
  REQUIRE(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const auto locked_until = std::chrono::steady_clock::now() + 30s;
  bool saw_503 = false;
  std::string ready_body;
  while (std::chrono::steady_clock::now() < locked_until) {
    const Http ready = get(port, "/ready");
    if (ready.status == 503) {
      saw_503 = true;
      ready_body = ready.body;
    }
    std::this_thread::sleep_for(500ms);
  }
  const Http sources = get(port, "/api/sources");
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  CHECK(saw_503);
  CHECK_THAT(ready_body, Catch::Contains("sink db is backlogged"));
  CHECK_THAT(sources.body, Catch::Contains("\"sinks\":[{\"name\":\"db\""));
  CHECK_THAT(sources.body, Catch::Contains("\"health\":\"backlogged\""));

  // It recovers by itself.
  CHECK(waitUntilReady(port, 60s) == 200);
  finish(gatherd, upstream);
  requireEveryServedRecordOnce(dir, upstream);
}

TEST_CASE("fault: a damaged spool file at start-up is reported, the rest is delivered", "[fault]") {
  TempDir dir;
  Upstream upstream(dir.path() / "upstream");
  const auto ini = dir.write("gatherd.ini", config(dir, upstream));
  {
    GatherdProcess gatherd(ini);
    REQUIRE(gatherd.waitForLog("started", 20s));
    REQUIRE(upstream.waitAnswers(2, 20s));
    // Lock the store so that batches pile up in the spool, then crash.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dbPath(dir).c_str(), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 10'000);
    REQUIRE(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
    // The upstream lists the 20 newest records, 2 new an answer: a batch is in the window of
    // the next 9 answers only. Freezing it before the crash keeps the damaged batch's records in
    // the window the restarted gatherd sees, whatever the timing.
    const std::size_t before = upstream.answers();
    REQUIRE(upstream.waitAnswers(before + 6, 20s));
    upstream.freeze();
    REQUIRE(upstream.waitAnswers(upstream.answers() + 1, 20s));
    gatherd.signal(SIGKILL);
    gatherd.wait(10s);
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  const auto files = segments(dir.path() / "data" / "spool" / "db");
  REQUIRE_FALSE(files.empty());
  {
    // Damage the payload of the second record of the oldest segment.
    std::fstream file(files.front(), std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), {});
    const auto second = bytes.find("GSR1", 1);
    REQUIRE(second != std::string::npos);
    file.seekp(static_cast<std::streamoff>(second + 30));
    file.put('\x01').put('\x02').put('\x03');
  }
  GatherdProcess gatherd(ini);
  const int port = portOf(gatherd);
  REQUIRE(gatherd.waitForLog("started", 20s));
  CHECK(gatherd.waitForLog("damaged record(s)", 5s));
  CHECK(gatherd.waitForLog("from the last run are delivered first", 5s));
  const Http sources = get(port, "/api/sources");
  CHECK_THAT(sources.body, Catch::Contains("\"badRecords\":1"));
  finish(gatherd, upstream);
  INFO(gatherd.err());
  // The damaged batch's records came again in later answers (each lists the 20 newest).
  requireEveryServedRecordOnce(dir, upstream);
}

TEST_CASE("fault: SIGTERM during writes with shutdown_grace = 0, looped: clean exit", "[fault]") {
  TempDir dir;
  Upstream upstream(dir.path() / "upstream");
  std::string text = config(dir, upstream);
  text.replace(text.find("shutdown_grace = 2s"), std::string("shutdown_grace = 2s").size(),
               "shutdown_grace = 0");
  const auto ini = dir.write("gatherd.ini", text);
  std::mt19937 random(7);
  std::uniform_int_distribution<int> delay_ms(0, 400);
  for (int round = 0; round < 8; ++round) {
    GatherdProcess gatherd(ini);
    REQUIRE(gatherd.waitForLog("started", 20s));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    gatherd.signal(SIGTERM);
    const int code = gatherd.wait(30s);
    INFO(gatherd.err());
    CHECK(code == 0);
    // Under AddressSanitizer a report would be on stderr and the exit code would not be 0.
    CHECK(gatherd.err().find("AddressSanitizer") == std::string::npos);
    CHECK(gatherd.err().find("runtime error") == std::string::npos);
  }
  GatherdProcess gatherd(ini);
  REQUIRE(gatherd.waitForLog("started", 20s));
  finish(gatherd, upstream);
  requireEveryServedRecordOnce(dir, upstream);
}

TEST_CASE("fault: the disk of the data folder fills up, then space is freed: nothing lost",
          "[fault]") {
  TempDir dir;
  fs::create_directories(dir.path() / "upstream");
  const fs::path data = dir.path() / "data";
  fs::create_directories(data);
  if (::mount("tmpfs", data.c_str(), "tmpfs", 0, "size=24m,mode=0700") != 0) {
    WARN("SKIPPED: cannot mount a tmpfs on "
         << data.string() << " (" << std::strerror(errno)
         << "); the disk-full fault needs root or CAP_SYS_ADMIN");
    return;
  }
  struct Unmount {
    fs::path path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{data};
  Upstream upstream(dir.path() / "upstream");
  const auto ini = dir.write("gatherd.ini", config(dir, upstream));
  GatherdProcess gatherd(ini);
  const int port = portOf(gatherd);
  REQUIRE(gatherd.waitForLog("started", 20s));
  REQUIRE(upstream.waitAnswers(3, 20s));

  // Fill the disk.
  const fs::path filler = data / "filler";
  {
    std::ofstream out(filler, std::ios::binary);
    const std::string block(1 << 16, 'f');
    while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  std::string reason;
  const bool saw_503 = gatherd::sdk::testing::eventually(
      [&] {
        const Http ready = get(port, "/ready");
        reason = ready.body;
        return ready.status == 503;
      },
      30s, 200ms);
  CHECK(saw_503);
  INFO(reason);
  std::this_thread::sleep_for(2s);
  CHECK(gatherd.running());
  fs::remove(filler);
  CHECK(waitUntilReady(port, 90s) == 200);
  finish(gatherd, upstream);
  INFO(gatherd.err());
  requireEveryServedRecordOnce(dir, upstream);
}

TEST_CASE(
    "fault: the database damaged at runtime: degraded, visible, no crash, batches kept in "
    "the spool",
    "[fault]") {
  Running run;
  auto& [dir, upstream, ini, gatherd, port] = run;
  // Another connection writes once, so that gatherd's connection must drop its page cache and
  // read the pages again; then garbage over every page but the first, in the file and in the
  // WAL (whose frames hold the pages written since the start).
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dbPath(dir).c_str(), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 10'000);
    REQUIRE(sqlite3_exec(
                db,
                "CREATE TABLE IF NOT EXISTS fault_probe (x); INSERT INTO fault_probe VALUES (1)",
                nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  for (const fs::path& file : {dbPath(dir), fs::path(dbPath(dir).string() + "-wal")}) {
    std::error_code error;
    const auto size = fs::file_size(file, error);
    if (error || size <= 4096) continue;
    std::fstream out(file, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(file.extension() == ".db" ? 4096 : 32);
    for (std::uintmax_t at = 4096; at < size; ++at) out.put(static_cast<char>(0x5A ^ (at * 131)));
  }
  const Http ready = waitUntilNotReady(port, "degraded", 60s);
  CHECK(ready.status == 503);
  CHECK_THAT(ready.body, Catch::Contains("sink db is degraded"));
  // New batches wait in the spool, and the process keeps running.
  const std::size_t answers = upstream.answers();
  REQUIRE(upstream.waitAnswers(answers + 5, 20s));
  std::this_thread::sleep_for(500ms);
  const Http sources = get(port, "/api/sources");
  CHECK_THAT(sources.body, Catch::Contains("\"health\":\"degraded\""));
  CHECK(sources.body.find("\"records\":0,") == std::string::npos);
  CHECK(gatherd.running());
  gatherd.signal(SIGTERM);
  const int code = gatherd.wait(30s);
  INFO(gatherd.err());
  CHECK(code == 0);
  CHECK_FALSE(segments(dir.path() / "data" / "spool" / "db").empty());
  CHECK_THAT(gatherd.err(), Catch::Contains("kept in the spool for the next start"));
}

TEST_CASE(
    "fault: the database made unwritable at runtime: degraded, visible, no crash, the spool "
    "keeps the batches, nothing lost once it can be written again",
    "[fault]") {
  Running run;
  auto& [dir, upstream, ini, gatherd, port] = run;
  {
    // The immutable flag: writes through gatherd's open descriptors fail with EPERM (see
    // immutable_files.hpp for why a read-only remount or a read-only loop device cannot do it).
    ImmutableFiles frozen({dbPath(dir), fs::path(dbPath(dir).string() + "-wal")});
    if (!frozen.error().empty()) {
      WARN("SKIPPED: cannot make the database immutable (" << frozen.error()
                                                           << "); this needs CAP_LINUX_IMMUTABLE "
                                                              "and ext4, xfs, btrfs or tmpfs");
      return;
    }
    const Http ready = waitUntilNotReady(port, "degraded", 30s);
    CHECK(ready.status == 503);
    CHECK_THAT(ready.body, Catch::Contains("sink db is degraded"));
    CHECK_THAT(ready.body, Catch::Contains("cannot be written"));
    // New batches wait in the spool, none is dropped, and the process keeps running.
    REQUIRE(upstream.waitAnswers(upstream.answers() + 5, 20s));
    std::this_thread::sleep_for(500ms);
    const Http sources = get(port, "/api/sources");
    REQUIRE(sources.status == 200);
    const auto sink = Poco::JSON::Parser()
                          .parse(sources.body)
                          .extract<Poco::JSON::Object::Ptr>()
                          ->getArray("sinks")
                          ->getObject(0);
    CHECK(sink->getValue<std::string>("health") == "degraded");
    CHECK_THAT(sink->getValue<std::string>("healthReason"),
               Catch::Contains("Operation not permitted"));
    CHECK(sink->getValue<long long>("dropped") == 0);
    CHECK(sink->getObject("spool")->getValue<long long>("records") >= 5);
    CHECK(sink->getObject("spool")->getValue<long long>("dropped") == 0);
    CHECK(gatherd.running());
    CHECK_THAT(gatherd.err(), Catch::Contains("degraded: the database cannot be written"));
  }
  // Writable again: it recovers by itself and delivers what the spool held.
  CHECK(waitUntilReady(port, 60s) == 200);
  finish(gatherd, upstream);
  INFO(gatherd.err());
  requireEveryServedRecordOnce(dir, upstream);
}
