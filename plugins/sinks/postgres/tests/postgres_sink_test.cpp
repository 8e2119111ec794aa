#include "postgres_sink.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "batch_writer.hpp"
#include "migrations.hpp"
#include "pg_test_support.hpp"
#include "store_suite.hpp"
#include <poll.h>

using namespace gatherd;
using namespace gatherd::plugins::postgres;
using namespace gatherd::plugins::postgres::testing;
using gatherd::store_suite::Invocation;
using gatherd::store_suite::makeBatch;

namespace {

constexpr std::int64_t kT0 = 1'772'000'000'000;

std::vector<Invocation> invocations(const std::string& prefix, int first, int count) {
  std::vector<Invocation> list;
  for (int i = first; i < first + count; ++i) {
    Invocation value;
    value.request_id = prefix + std::to_string(i);
    value.time_ms = kT0 + i * 1000;
    value.total_tokens = 10;
    value.cost_usd = 0.001;
    list.push_back(value);
  }
  return list;
}

}  // namespace

TEST_CASE("a fresh schema is created at the current version and a newer one is refused") {
  REQUIRE(cluster().ok());
  const std::string schema = freshSchema("versions");
  {
    SinkFixture fixture(schema);
    INFO(fixture.problem());
    REQUIRE(fixture.started());
  }
  CHECK(queryInt(schema, "SELECT value FROM meta WHERE name = 'schema_version'") == kSchemaVersion);
  CHECK(queryInt(schema, "SELECT count(*) FROM information_schema.tables WHERE table_schema = '" +
                             schema + "'") == 12);
  {
    SinkFixture again(schema);  // an existing schema at the current version opens as it is
    INFO(again.problem());
    REQUIRE(again.started());
  }
  REQUIRE(
      cluster().psql("UPDATE " + schema + ".meta SET value = 99 WHERE name = 'schema_version'"));
  SinkFixture newer(schema);
  REQUIRE_FALSE(newer.started());
  CHECK_THAT(newer.problem(), Catch::Contains("newer gatherd") && Catch::Contains("99"));
}

TEST_CASE("several gatherds starting at once against an empty database do not race") {
  REQUIRE(cluster().ok());
  const std::string schema = freshSchema("race");
  constexpr int kStarters = 6;
  std::vector<std::unique_ptr<SinkFixture>> fixtures(kStarters);
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int i = 0; i < kStarters; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      fixtures[static_cast<std::size_t>(i)] = std::make_unique<SinkFixture>(
          schema,
          std::map<std::string, std::string, std::less<>>{{"collector", "c" + std::to_string(i)}});
    });
  }
  go = true;
  for (auto& thread : threads) thread.join();
  for (auto& fixture : fixtures) {
    INFO(fixture->problem());
    CHECK(fixture->started());
  }
  CHECK(queryInt(schema, "SELECT value FROM meta WHERE name = 'schema_version'") == kSchemaVersion);
  CHECK(queryInt(schema, "SELECT count(*) FROM meta WHERE name = 'schema_version'") == 1);
}

TEST_CASE("two collectors write at once: every record once, names qualified, replay gap-free") {
  REQUIRE(cluster().ok());
  const std::string schema = freshSchema("writers");
  SinkFixture alpha(schema, {{"collector", "alpha-host"}}, "db");
  SinkFixture beta(schema, {{"collector", "beta-host"}}, "db");
  SinkFixture reader(schema, {{"collector", "dashboard"}}, "db");  // serves only
  INFO(alpha.problem() << beta.problem() << reader.problem());
  REQUIRE(alpha.started());
  REQUIRE(beta.started());
  REQUIRE(reader.started());

  constexpr int kBatches = 120;
  std::atomic<bool> writing{true};
  // The reader follows the change sequence while both write: replaying "after its cursor" must
  // never skip a change that commits later with a smaller number.
  std::set<std::int64_t> seen;
  std::int64_t cursor = 0;
  std::atomic<int> woken{0};
  std::thread follower([&] {
    while (true) {
      const bool last_round = !writing.load();
      if (reader.store().waitForChange(cursor, std::chrono::milliseconds(200)) > cursor) ++woken;
      sdk::ChangeList list;
      REQUIRE(reader.store().changesSince(cursor, 1000, list));
      REQUIRE_FALSE(list.too_old);
      for (const auto& change : list.changes) {
        REQUIRE(change.sequence > cursor);
        cursor = change.sequence;
        seen.insert(change.sequence);
      }
      if (last_round && list.changes.empty()) break;
    }
  });
  auto writer = [&](SinkFixture& fixture) {
    for (int b = 0; b < kBatches; ++b) {
      // Each poll repeats the newest 20: most are already stored.
      const int newest = b * 3 + 3;
      const int first = std::max(0, newest - 20);
      auto batch = makeBatch("xychatai", kT0 + b * 10'000, invocations("r", first, newest - first));
      REQUIRE(fixture.sink.write(batch) == sdk::WriteResult::kOk);
    }
  };
  std::thread a([&] { writer(alpha); });
  std::thread b([&] { writer(beta); });
  a.join();
  b.join();
  writing = false;
  follower.join();

  constexpr int kDistinct = kBatches * 3;
  CHECK(queryInt(schema, "SELECT count(*) FROM codex_invocations") == 2 * kDistinct);
  CHECK(queryInt(schema, "SELECT count(DISTINCT source) FROM codex_invocations") == 2);
  // The first collector keeps the name; the second one's rows are qualified by its collector.
  const std::int64_t qualified =
      queryInt(schema, "SELECT count(*) FROM codex_invocations WHERE source LIKE '%/xychatai'");
  CHECK(qualified == kDistinct);
  CHECK(queryInt(schema, "SELECT count(*) FROM window_ledger") == 2 * kBatches);

  sdk::Totals totals;
  REQUIRE(reader.store().totals({}, totals));
  CHECK(totals.count == 2 * kDistinct);
  CHECK(totals.total_tokens == 2 * kDistinct * 10);
  sdk::Totals one;
  REQUIRE(reader.store().totals({std::string("xychatai"), {}, {}}, one));
  CHECK(one.count == kDistinct);

  // Everything committed was seen, in order, and the reader was woken by the others' commits.
  CHECK(static_cast<std::int64_t>(seen.size()) == queryInt(schema, "SELECT count(*) FROM changes"));
  CHECK(*seen.rbegin() == queryInt(schema, "SELECT max(seq) FROM changes"));
  CHECK(reader.store().latestSequence() == *seen.rbegin());
  CHECK(woken.load() > 0);
}

TEST_CASE("a commit by another collector wakes waitForChange through LISTEN/NOTIFY") {
  REQUIRE(cluster().ok());
  const std::string schema = freshSchema("notify");
  SinkFixture writer(schema, {{"collector", "w"}});
  SinkFixture reader(schema, {{"collector", "r"}});
  REQUIRE(writer.started());
  REQUIRE(reader.started());
  const std::int64_t before = reader.store().latestSequence();
  sdk::Store* store = &reader.store();
  auto waiter = std::async(std::launch::async,
                           [&] { return store->waitForChange(before, std::chrono::seconds(60)); });
  REQUIRE(writer.sink.write(makeBatch("xy", kT0, invocations("n", 0, 2))) == sdk::WriteResult::kOk);
  REQUIRE(waiter.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  CHECK(waiter.get() == before + 3);  // two invocations and the window
}

TEST_CASE("a burst of commits is announced a few times, its last sequence always") {
  REQUIRE(cluster().ok());
  const std::string schema = freshSchema("burst");
  SinkFixture writer(schema, {{"collector", "w"}});
  REQUIRE(writer.started());
  // Another gatherd's view of the channel: a plain LISTEN beside the sink.
  Connection listener(cluster().conninfo());
  listener.run("LISTEN " + quoteIdentifier(BatchWriter::channel(schema)));

  constexpr int kBatches = 60;
  for (int b = 0; b < kBatches; ++b) {
    REQUIRE(writer.sink.write(makeBatch("xy", kT0 + b * 10'000, invocations("b", b, 1))) ==
            sdk::WriteResult::kOk);
  }
  const std::int64_t last = queryInt(schema, "SELECT max(seq) FROM changes");
  REQUIRE(last == 2 * kBatches);  // one invocation and one window each
  int notifications = 0;
  std::int64_t newest = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (newest < last && std::chrono::steady_clock::now() < give_up) {
    pollfd descriptor{PQsocket(listener.handle()), POLLIN, 0};
    ::poll(&descriptor, 1, 100);
    REQUIRE(PQconsumeInput(listener.handle()) == 1);
    while (PGnotify* notice = PQnotifies(listener.handle())) {
      ++notifications;
      newest = std::max<std::int64_t>(newest, std::stoll(notice->extra));
      PQfreemem(notice);
    }
  }
  // The writer's commits announced themselves while none had for a while, the listener thread
  // the rest: the last one, within ~kAnnounceEveryMs of the commit, not one per commit.
  INFO(notifications << " notifications for " << kBatches << " commits");
  CHECK(newest == last);
  CHECK(notifications >= 1);
  CHECK(notifications < kBatches);
}

TEST_CASE(
    "the server stopped and restarted during writes: writes retry, reads fail, nothing lost") {
  REQUIRE(cluster().ok());
  const std::string schema = freshSchema("restart");
  SinkFixture fixture(schema);
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  REQUIRE(fixture.sink.write(makeBatch("xy", kT0, invocations("s", 0, 5))) ==
          sdk::WriteResult::kOk);

  REQUIRE(cluster().stop("fast"));
  // The core keeps a batch that got kRetry and offers it again later.
  std::vector<sdk::Batch> kept;
  for (int b = 1; b <= 4; ++b) {
    auto batch = makeBatch("xy", kT0 + b * 10'000, invocations("s", b * 5, 5));
    CHECK(fixture.sink.write(batch) == sdk::WriteResult::kRetry);
    kept.push_back(batch);
  }
  CHECK(fixture.host.counter("postgres_write_retries") == 4);
  sdk::Totals totals;
  const sdk::Status down = fixture.store().totals({}, totals);
  REQUIRE_FALSE(down);
  CHECK_THAT(down.message(), Catch::Contains("PostgreSQL unavailable"));

  REQUIRE(cluster().start());
  for (const auto& batch : kept) REQUIRE(fixture.sink.write(batch) == sdk::WriteResult::kOk);
  REQUIRE(fixture.store().totals({}, totals));
  CHECK(totals.count == 25);
  CHECK(queryInt(schema, "SELECT count(*) FROM codex_invocations") == 25);
  CHECK(queryInt(schema, "SELECT count(*) FROM window_ledger") == 5);
  // The listener reconnects by itself: a later commit still wakes waiters.
  const std::int64_t before = fixture.store().latestSequence();
  REQUIRE(fixture.sink.write(makeBatch("xy", kT0 + 60'000, {})) == sdk::WriteResult::kOk);
  CHECK(fixture.store().waitForChange(before, std::chrono::seconds(10)) > before);
}

TEST_CASE("configuration errors name the key and the password never shows") {
  sdk::testing::FakeHost host("db");
  {
    PostgresSink sink;
    CHECK_FALSE(sink.init(sdk::Config("db", {}), host));
  }
  {
    PostgresSink sink;
    const auto status =
        sink.init(sdk::Config("db", {{"dsn", "host=x"}, {"schema", "bad-name"}}), host);
    REQUIRE_FALSE(status);
    CHECK_THAT(status.message(), Catch::Contains("'schema'"));
  }
  {
    PostgresSink sink;
    const auto status =
        sink.init(sdk::Config("db", {{"dsn", "host=x"}, {"sslmode", "sometimes"}}), host);
    REQUIRE_FALSE(status);
    CHECK_THAT(status.message(), Catch::Contains("'sslmode'"));
  }
  PostgresSink sink;
  REQUIRE(sink.init(sdk::Config("db", {{"dsn", "postgresql://gatherd:s3cret-pw@127.0.0.1:1/x"},
                                       {"sslmode", "disable"}}),
                    host));
  CHECK(sink.settings().conninfo == "postgresql://gatherd:s3cret-pw@127.0.0.1:1/x?sslmode=disable");
  const auto status = sink.start();
  REQUIRE_FALSE(status);
  CHECK_THAT(status.message(), Catch::Contains("cannot connect") && Catch::Contains("***"));
  CHECK_THAT(status.message() + host.allLogText(), !Catch::Contains("s3cret-pw"));
  CHECK(maskConninfo("host=a password=abc user=b") == "host=a password=*** user=b");
}

TEST_CASE("importHistory keeps a copied history once, beside rows a collector wrote live") {
  REQUIRE(cluster().ok());
  const std::string schema = freshSchema("import");
  SinkFixture fixture(schema, {{"collector", "laptop"}});
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  // Live rows 0..9 first; then a copied history holding 5..24 (the overlap is the same calls).
  REQUIRE(fixture.sink.write(makeBatch("acct", kT0, invocations("call-", 0, 10))) ==
          sdk::WriteResult::kOk);
  sdk::HistoryPage page;
  page.table = sdk::HistoryTable::kInvocations;
  std::int64_t id = 0;
  for (const Invocation& value : invocations("call-", 5, 20)) {
    sdk::StoredInvocation item;
    item.id = ++id;
    item.source = "acct";
    item.record = store_suite::toRecord(value);
    item.created_ms = item.updated_ms = value.time_ms + 1;
    page.invocations.push_back(item);
  }
  page.last_id = id;
  std::int64_t inserted = -1;
  REQUIRE(fixture.sink.importHistory(page, inserted));
  CHECK(inserted == 15);
  REQUIRE(fixture.sink.importHistory(page, inserted));  // again: nothing new
  CHECK(inserted == 0);

  CHECK(queryInt(schema, "SELECT count(*) FROM codex_invocations") == 25);
  sdk::Totals totals;
  REQUIRE(fixture.store().totals({}, totals));
  CHECK(totals.count == 25);
  CHECK(totals.total_tokens == 250);
  CHECK(totals.cost_usd == Approx(0.025).margin(1e-12));
  // Copied rows keep their times and enter no change sequence (one change row per live call
  // and one for its window).
  CHECK(queryInt(schema, "SELECT created_ms FROM codex_invocations WHERE invoke_id = 'call-20'") ==
        kT0 + 20 * 1000 + 1);
  CHECK(queryInt(schema, "SELECT count(*) FROM changes") == 11);

  sdk::HistoryPage windows;
  windows.table = sdk::HistoryTable::kWindows;
  sdk::StoredWindow entry;
  entry.id = 1;
  entry.window = makeBatch("acct", kT0 - 10'000, {}).window;
  windows.windows = {entry, entry};  // the same entry twice in the source
  windows.last_id = 1;
  REQUIRE(fixture.sink.importHistory(windows, inserted));
  CHECK(inserted == 2);
  REQUIRE(fixture.sink.importHistory(windows, inserted));
  CHECK(inserted == 0);
  CHECK(queryInt(schema, "SELECT count(*) FROM window_ledger") == 3);
}

TEST_CASE("a version 1 schema is upgraded to version 2 (imported_pruned_totals) at start") {
  REQUIRE(cluster().ok());
  const std::string schema = freshSchema("upgrade");
  {
    Connection connection(cluster().conninfo());
    migrate(connection, schema, 1);
  }
  CHECK(queryInt(schema, "SELECT value FROM meta WHERE name = 'schema_version'") == 1);
  CHECK(queryInt(schema,
                 "SELECT count(*) FROM information_schema.tables WHERE table_name = "
                 "'imported_pruned_totals' AND table_schema = '" +
                     schema + "'") == 0);
  SinkFixture fixture(schema);
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  CHECK(queryInt(schema, "SELECT value FROM meta WHERE name = 'schema_version'") == 2);
  CHECK(queryInt(schema, "SELECT count(*) FROM imported_pruned_totals") == 0);
}
