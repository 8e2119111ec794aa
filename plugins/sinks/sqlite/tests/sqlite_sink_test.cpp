#include "sqlite_sink.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "gatherd/sdk/plugin.hpp"
#include "test_support.hpp"
#include <dlfcn.h>
#include <sys/stat.h>

using namespace gatherd;
using namespace gatherd::plugins::sqlite::testing;
using gatherd::plugins::sqlite::SqliteSink;

namespace {

mode_t modeOf(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 0777;
}

std::string runCommand(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  ::pclose(pipe);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  return output;
}

}  // namespace

TEST_CASE("a store is made through the sdk alone, with the path defaulting to the data dir") {
  TempDir dir;
  sdk::testing::FakeHost host("db", dir.path());
  SqliteSink sink;
  REQUIRE(sink.init(sdk::Config("db", {}), host));
  REQUIRE(sink.store() == nullptr);
  REQUIRE(sink.start());
  REQUIRE(sink.store() != nullptr);
  CHECK(std::filesystem::exists(dir.file("gatherd.db")));
  sdk::Totals totals;
  REQUIRE(sink.store()->totals({}, totals));
  CHECK(totals.count == 0);
  sink.stop();
  sink.stop();
  CHECK(sink.store() == nullptr);
}

TEST_CASE("bad settings are refused with the key named") {
  sdk::testing::FakeHost host("db", "/tmp");
  SqliteSink sink;
  auto status = sink.init(sdk::Config("db", {{"synchronous", "sometimes"}}), host);
  REQUIRE_FALSE(status);
  CHECK_THAT(status.message(), Catch::Contains("synchronous"));
  SqliteSink other;
  status = other.init(sdk::Config("db", {{"invocation_retention_days", "-3"}}), host);
  REQUIRE_FALSE(status);
  CHECK_THAT(status.message(), Catch::Contains("invocation_retention_days"));
  SqliteSink no_cache;
  status = no_cache.init(sdk::Config("db", {{"cache_mb", "0"}}), host);
  REQUIRE_FALSE(status);
  CHECK_THAT(status.message(), Catch::Contains("cache_mb"));
  SqliteSink bad_map;
  status = bad_map.init(sdk::Config("db", {{"mmap_mb", "lots"}}), host);
  REQUIRE_FALSE(status);
  CHECK_THAT(status.message(), Catch::Contains("mmap_mb"));
}

TEST_CASE("the database file is 0600 and a folder it creates is 0700") {
  TempDir dir;
  const std::string folder = dir.file("state/nested");
  const std::string path = folder + "/gatherd.db";
  SinkFixture fixture(path);
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  REQUIRE(fixture.sink.write(makeBatch("xy", kT0, {invocation("a", kT0)})) ==
          sdk::WriteResult::kOk);
  CHECK(modeOf(path) == 0600);
  CHECK(modeOf(path + "-wal") == 0600);
  CHECK(modeOf(path + "-shm") == 0600);
  CHECK(modeOf(folder) == 0700);
  CHECK(modeOf(dir.file("state")) == 0700);
}

TEST_CASE("an existing file readable by others is tightened to 0600") {
  TempDir dir;
  const std::string path = dir.file("open.db");
  { std::ofstream touch(path); }
  ::chmod(path.c_str(), 0644);
  SinkFixture fixture(path);
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  CHECK(modeOf(path) == 0600);
}

TEST_CASE("a file that is not a database is refused with a clear message") {
  TempDir dir;
  const std::string path = dir.file("garbage.db");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>((i * 7919) % 251));
  }
  SinkFixture fixture(path);
  REQUIRE(fixture.init_status->ok());
  REQUIRE_FALSE(fixture.start_status->ok());
  CHECK_THAT(fixture.start_status->message(), Catch::Contains(path));
  CHECK_THAT(fixture.start_status->message(), Catch::Contains("not a usable SQLite database"));
  CHECK(fixture.sink.store() == nullptr);
}

TEST_CASE("a damaged database is refused at start or made degraded by the background check") {
  TempDir dir;
  const std::string path = dir.file("damaged.db");
  {
    SinkFixture fixture(path);
    INFO(fixture.problem());
    REQUIRE(fixture.started());
    for (int batch = 0; batch < 40; ++batch) {
      std::vector<Invocation> invocations;
      for (int i = 0; i < 20; ++i) {
        invocations.push_back(
            invocation("r" + std::to_string(batch * 20 + i), kT0 + batch * 1000 + i));
      }
      REQUIRE(fixture.sink.write(makeBatch("xy", kT0, invocations)) == sdk::WriteResult::kOk);
    }
  }
  // Overwrite pages after the header (page 1 stays intact, so the file still opens).
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4096 * 3);
    for (int i = 0; i < 4096 * 4; ++i) file.put(static_cast<char>(0xA5));
  }
  SinkFixture fixture(path);
  if (!fixture.start_status->ok()) {
    // The schema itself was hit: start-up refuses with the same advice.
    CHECK_THAT(fixture.start_status->message(),
               Catch::Contains("corrupt") || Catch::Contains("not a usable SQLite database") ||
                   Catch::Contains("malformed"));
    return;
  }
  // The start-up is quick; the integrity check in the background finds the damage.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (fixture.host.sinkHealth() != sdk::SinkHealth::kDegraded &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(fixture.host.sinkHealth() == sdk::SinkHealth::kDegraded);
  CHECK_THAT(fixture.host.sinkHealthReason(), Catch::Contains("corrupt"));
  CHECK_THAT(fixture.host.sinkHealthReason(), Catch::Contains("aside"));
}

TEST_CASE("a database from a newer gatherd is refused") {
  TempDir dir;
  const std::string path = dir.file("newer.db");
  {
    RawDb raw(path);
    REQUIRE(raw.exec("CREATE TABLE future (x); PRAGMA user_version = 7") == SQLITE_OK);
  }
  SinkFixture fixture(path);
  REQUIRE_FALSE(fixture.start_status->ok());
  CHECK_THAT(fixture.start_status->message(), Catch::Contains("newer gatherd"));
  CHECK_THAT(fixture.start_status->message(), Catch::Contains("schema version 7"));
}

TEST_CASE("repeats are ignored, changed invocations are updated and the change is recorded") {
  TempDir dir;
  SinkFixture fixture(dir.file("dedup.db"));
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  auto first = invocation("a", kT0, 0.01, 1000);
  auto second = invocation("b", kT0 + 1000, 0.02, 2000);
  auto third = invocation("c", kT0 + 2000, 0.03, 3000);
  REQUIRE(fixture.sink.write(makeBatch("xy", kT0, {first, second, third})) ==
          sdk::WriteResult::kOk);
  const std::int64_t after_first = fixture.store().latestSequence();
  REQUIRE(fixture.sink.write(makeBatch("xy", kT0 + 10'000, {first, second, third})) ==
          sdk::WriteResult::kOk);
  CHECK(fixture.host.counter("sqlite_invocations_inserted") == 3);
  CHECK(fixture.host.counter("sqlite_invocations_unchanged") == 3);

  // The exact repeat produced only its window's ledger entry.
  sdk::ChangeList changes;
  REQUIRE(fixture.store().changesSince(after_first, 100, changes));
  REQUIRE(changes.changes.size() == 1);
  CHECK(changes.changes[0].kind == sdk::Change::Kind::kWindow);

  second.status = "failed";
  second.error_message = "upstream timeout after 30s";
  second.cost_usd = 0.0;
  second.total_tokens = 100;
  REQUIRE(fixture.sink.write(makeBatch("xy", kT0 + 20'000, {first, second, third})) ==
          sdk::WriteResult::kOk);
  CHECK(fixture.host.counter("sqlite_invocations_updated") == 1);

  sdk::InvocationPage page;
  REQUIRE(fixture.store().listInvocations({}, page));
  REQUIRE(page.items.size() == 3);
  const auto& updated = page.items[1];
  CHECK(updated.record.get<std::string>("request_id") == "b");
  CHECK(updated.record.get<std::string>("status") == "failed");
  CHECK(updated.record.get<double>("cost_usd") == 0.0);
  CHECK(updated.updated_ms >= updated.created_ms);

  RawDb raw(dir.file("dedup.db"));
  CHECK(raw.integer("SELECT count(*) FROM codex_invocations") == 3);
  CHECK(raw.integer("SELECT count(*) FROM invocation_updates WHERE old_status = 'success' "
                    "AND new_status = 'failed'") == 1);

  sdk::Totals totals;
  REQUIRE(fixture.store().totals({}, totals));
  CHECK(totals.count == 3);
  CHECK(totals.success == 2);
  CHECK(totals.failure == 1);
  CHECK(totals.total_tokens == 1000 + 100 + 3000);
  CHECK(totals.cost_usd == Approx(0.04).epsilon(1e-12));

  REQUIRE(fixture.store().changesSince(after_first, 100, changes));
  bool saw_update = false;
  for (const auto& change : changes.changes) {
    if (change.kind == sdk::Change::Kind::kInvocationUpdated) {
      saw_update = true;
      REQUIRE(change.invocation);
      CHECK(change.invocation->record.get<std::string>("status") == "failed");
    }
  }
  CHECK(saw_update);
}

TEST_CASE("the same request id at another time, or from another source, is another invocation") {
  TempDir dir;
  SinkFixture fixture(dir.file("identity.db"));
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  REQUIRE(fixture.sink.write(
              makeBatch("one", kT0, {invocation("a", kT0), invocation("a", kT0 + 1000)})) ==
          sdk::WriteResult::kOk);
  REQUIRE(fixture.sink.write(makeBatch("two", kT0, {invocation("a", kT0)})) ==
          sdk::WriteResult::kOk);
  sdk::Totals totals;
  REQUIRE(fixture.store().totals({}, totals));
  CHECK(totals.count == 3);
  sdk::RangeQuery only_two;
  only_two.source = "two";
  REQUIRE(fixture.store().totals(only_two, totals));
  CHECK(totals.count == 1);
}

TEST_CASE("a locked database makes writes retry and loses nothing") {
  TempDir dir;
  const std::string path = dir.file("locked.db");
  SinkFixture fixture(path);
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  std::vector<sdk::Batch> delivered;
  for (int i = 0; i < 5; ++i) {
    delivered.push_back(makeBatch("xy", kT0 + i * 10'000,
                                  {invocation("locked-" + std::to_string(i), kT0 + i * 10'000)}));
  }
  // Whatever a record carries never reaches the logs, also not the retry warnings.
  delivered[1].records[0].raw_json = R"({"note":"share-session=SECRET-COOKIE-VALUE"})";
  REQUIRE(fixture.sink.write(delivered[0]) == sdk::WriteResult::kOk);

  RawDb other(path);
  REQUIRE(other.exec("BEGIN EXCLUSIVE") == SQLITE_OK);
  // The core keeps a batch that got kRetry and offers it again, in order; ten attempts at the
  // 200 ms busy timeout hold the lock for about two seconds.
  std::size_t next = 1;
  int retries = 0;
  while (retries < 10) {
    const auto result = fixture.sink.write(delivered[next]);
    REQUIRE(result == sdk::WriteResult::kRetry);
    ++retries;
  }
  // Readers are not blocked by the writer's lock (WAL).
  sdk::Totals totals;
  REQUIRE(fixture.store().totals({}, totals));
  CHECK(totals.count == 1);
  REQUIRE(other.exec("COMMIT") == SQLITE_OK);

  for (; next < delivered.size(); ++next) {
    REQUIRE(fixture.sink.write(delivered[next]) == sdk::WriteResult::kOk);
  }
  CHECK(fixture.host.counter("sqlite_write_retries") == 10);
  CHECK_THAT(fixture.host.allLogText(), Catch::Contains("retried"));
  CHECK_THAT(fixture.host.allLogText(), !Catch::Contains("SECRET-COOKIE-VALUE"));
  REQUIRE(fixture.store().totals({}, totals));
  CHECK(totals.count == 5);
  sdk::WindowPage windows;
  REQUIRE(fixture.store().listWindows({}, windows));
  CHECK(windows.items.size() == 5);
}

TEST_CASE("the sqlite3 command line reads the database while gatherd runs") {
  TempDir dir;
  const std::string path = dir.file("shared.db");
  SinkFixture fixture(path);
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  REQUIRE(
      fixture.sink.write(makeBatch("xy", kT0, {invocation("a", kT0), invocation("b", kT0 + 1)})) ==
      sdk::WriteResult::kOk);
  const std::string query =
      "sqlite3 -readonly '" + path + "' 'SELECT count(*) FROM codex_invocations' 2>&1";
  CHECK(runCommand(query) == "2");

  // Even while a write transaction is open, the CLI sees the last committed state.
  RawDb other(path);
  REQUIRE(other.exec("BEGIN IMMEDIATE") == SQLITE_OK);
  REQUIRE(other.exec("INSERT INTO codex_invocations (invoke_id, occurred_at, source, occurred_ms, "
                     "created_ms, updated_ms) VALUES ('x', 'y', 'z', 0, 0, 0)") == SQLITE_OK);
  CHECK(runCommand(query) == "2");
  REQUIRE(other.exec("ROLLBACK") == SQLITE_OK);
  REQUIRE(fixture.sink.write(makeBatch("xy", kT0 + 10'000, {invocation("c", kT0 + 2)})) ==
          sdk::WriteResult::kOk);
  CHECK(runCommand(query) == "3");
  CHECK(runCommand("sqlite3 -readonly '" + path + "' 'PRAGMA journal_mode' 2>&1") == "wal");
}

TEST_CASE("every window is in the ledger, also windows without records") {
  TempDir dir;
  SinkFixture fixture(dir.file("ledger.db"));
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  for (int i = 0; i < 7; ++i) {
    sdk::Batch batch = makeBatch("xy", kT0 + i * 10'000, {});
    if (i % 3 == 2) {
      batch.window.outcome = sdk::Outcome::kTimeout;
      batch.window.message = "deadline of 60s passed";
    }
    batch.window.auth_state = sdk::AuthState::kOk;
    batch.window.gap_suspected = i == 4;
    REQUIRE(fixture.sink.write(batch) == sdk::WriteResult::kOk);
  }
  sdk::WindowQuery query;
  query.limit = 3;
  std::vector<std::int64_t> seen;
  while (true) {
    sdk::WindowPage page;
    REQUIRE(fixture.store().listWindows(query, page));
    for (const auto& item : page.items) seen.push_back(item.window.window_ms);
    if (page.next_cursor.empty()) break;
    query.cursor = page.next_cursor;
  }
  REQUIRE(seen.size() == 7);
  for (int i = 0; i < 7; ++i) CHECK(seen[static_cast<std::size_t>(i)] == kT0 + (6 - i) * 10'000);

  sdk::WindowQuery timeouts;
  timeouts.outcome = sdk::Outcome::kTimeout;
  sdk::WindowPage page;
  REQUIRE(fixture.store().listWindows(timeouts, page));
  REQUIRE(page.items.size() == 2);
  CHECK(page.items[0].window.message == "deadline of 60s passed");
  CHECK(page.items[0].window.auth_state == sdk::AuthState::kOk);

  sdk::WindowQuery bad;
  bad.cursor = "not-a-cursor";
  CHECK_FALSE(fixture.store().listWindows(bad, page));
}

TEST_CASE("quota snapshots are written on change and at least every five minutes") {
  TempDir dir;
  SinkFixture fixture(dir.file("quota.db"));
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  auto quota = [](std::int64_t time_ms, double used) {
    sdk::Record record;
    record.stream = sdk::streams::kQuota;
    record.key = "codex";
    record.time_ms = time_ms;
    record.fields[sdk::streams::quota::kAmountUsedUsd] = used;
    record.fields[sdk::streams::quota::kPlanName] = std::string("Pro");
    record.fields[sdk::streams::quota::kIsActive] = true;
    record.raw_json = R"({"plan":"Pro"})";
    return record;
  };
  auto write = [&](std::int64_t time_ms, double used) {
    sdk::Batch batch = makeBatch("xy", time_ms, {});
    batch.records.push_back(quota(time_ms, used));
    REQUIRE(fixture.sink.write(batch) == sdk::WriteResult::kOk);
  };
  write(kT0, 1.5);
  write(kT0 + 10'000, 1.5);            // unchanged: skipped
  write(kT0 + 20'000, 2.0);            // changed
  write(kT0 + 30'000, 2.0);            // unchanged: skipped
  write(kT0 + 20'000 + 300'000, 2.0);  // five minutes since the last snapshot
  RawDb raw(dir.file("quota.db"));
  CHECK(raw.integer("SELECT count(*) FROM quota_snapshots") == 3);

  std::vector<sdk::Record> latest;
  REQUIRE(fixture.store().latestQuota(std::nullopt, latest));
  REQUIRE(latest.size() == 1);
  CHECK(latest[0].key == "codex");
  CHECK(latest[0].time_ms == kT0 + 320'000);
  CHECK(latest[0].get<double>(sdk::streams::quota::kAmountUsedUsd) == 2.0);
  CHECK(std::holds_alternative<double>(latest[0].fields.at(sdk::streams::quota::kAmountUsedUsd)));
  CHECK(latest[0].get<bool>(sdk::streams::quota::kIsActive) == true);
  CHECK(latest[0].get<std::string>(sdk::streams::quota::kPlanName) == "Pro");
  CHECK(latest[0].raw_json == R"({"plan":"Pro"})");
  REQUIRE(fixture.store().latestQuota(std::string("other"), latest));
  CHECK(latest.empty());
}

TEST_CASE("records of other streams are kept generically and replayed") {
  TempDir dir;
  SinkFixture fixture(dir.file("other.db"));
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  sdk::Record record;
  record.stream = "balance";
  record.key = "wallet";
  record.time_ms = kT0;
  record.fields["amount"] = std::int64_t{12};
  record.fields["note"] = std::string("caf\xc3\xa9 \"quoted\"");
  sdk::Batch batch = makeBatch("xy", kT0, {});
  batch.records.push_back(record);
  REQUIRE(fixture.sink.write(batch) == sdk::WriteResult::kOk);
  REQUIRE(fixture.sink.write(batch) == sdk::WriteResult::kOk);
  sdk::ChangeList changes;
  REQUIRE(fixture.store().changesSince(0, 100, changes));
  int others = 0;
  for (const auto& change : changes.changes) {
    if (change.kind != sdk::Change::Kind::kOther) continue;
    ++others;
    REQUIRE(change.record);
    CHECK(change.record->stream == "balance");
    CHECK(change.record->get<std::int64_t>("amount") == 12);
    CHECK(change.record->get<std::string>("note") == "caf\xc3\xa9 \"quoted\"");
  }
  CHECK(others == 1);
}

TEST_CASE("the plugin library exports a descriptor whose sinks work") {
  void* library = ::dlopen(GATHERD_PLUGIN_FILE, RTLD_NOW | RTLD_LOCAL);
  REQUIRE(library != nullptr);
  using DescriptorFunction = const sdk::PluginDescriptor* (*)();
  auto function = reinterpret_cast<DescriptorFunction>(::dlsym(library, sdk::kDescriptorSymbol));
  REQUIRE(function != nullptr);
  const sdk::PluginDescriptor* descriptor = function();
  CHECK(std::string(descriptor->id) == "sqlite");
  CHECK(descriptor->kind == sdk::PluginKind::kSink);
  CHECK(descriptor->create_source == nullptr);
  bool has_path = false;
  for (const auto& key : descriptor->schema()) has_path = has_path || key.name == "path";
  CHECK(has_path);
  {
    TempDir dir;
    sdk::testing::FakeHost host("db", dir.path());
    std::unique_ptr<sdk::Sink> sink = descriptor->create_sink();
    REQUIRE(sink->init(sdk::Config("db", {}), host));
    REQUIRE(sink->start());
    REQUIRE(sink->write(makeBatch("xy", kT0, {invocation("a", kT0)})) == sdk::WriteResult::kOk);
    sdk::Totals totals;
    REQUIRE(sink->store()->totals({}, totals));
    CHECK(totals.count == 1);
    sink->stop();
  }
  ::dlclose(library);
}
