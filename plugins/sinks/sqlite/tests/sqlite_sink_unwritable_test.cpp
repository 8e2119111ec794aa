// A database that can no longer be written while the sink has it open: SQLite says only "disk
// I/O error" (SQLITE_IOERR_WRITE, no errno kept), and the sink must tell that from a failing
// disk (by asking whether the files may be written) so that the store is degraded, with the
// reason, until a write works again.
#include <catch2/catch.hpp>

#include "gatherd/sdk/testing/immutable_files.hpp"
#include "test_support.hpp"

using namespace gatherd;
using namespace gatherd::plugins::sqlite::testing;

TEST_CASE("a database made immutable while open degrades the sink until it can be written again") {
  TempDir dir;
  const std::string path = dir.file("frozen.db");
  SinkFixture fixture(path);
  INFO(fixture.problem());
  REQUIRE(fixture.started());
  REQUIRE(fixture.sink.write(makeBatch("xy", kT0, {invocation("a", kT0)})) ==
          sdk::WriteResult::kOk);
  REQUIRE(fixture.host.sinkHealth() == sdk::SinkHealth::kOk);

  sdk::testing::ImmutableFiles frozen({path, path + "-wal"});
  if (!frozen.error().empty()) {
    WARN("SKIPPED: cannot make the database immutable (" << frozen.error()
                                                         << "); this needs CAP_LINUX_IMMUTABLE");
    return;
  }
  const auto second = makeBatch("xy", kT0 + 1000, {invocation("b", kT0 + 1000)});
  // Kept for a retry, not dropped; degraded, not merely "retrying".
  CHECK(fixture.sink.write(second) == sdk::WriteResult::kRetry);
  CHECK(fixture.sink.write(second) == sdk::WriteResult::kRetry);
  CHECK(fixture.host.sinkHealth() == sdk::SinkHealth::kDegraded);
  CHECK_THAT(fixture.host.sinkHealthReason(), Catch::Contains("cannot be written"));
  CHECK_THAT(fixture.host.sinkHealthReason(), Catch::Contains("Operation not permitted"));
  // Reads still work meanwhile.
  sdk::Totals totals;
  REQUIRE(fixture.store().totals({}, totals));
  CHECK(totals.count == 1);

  frozen.release();
  CHECK(fixture.sink.write(second) == sdk::WriteResult::kOk);
  CHECK(fixture.host.sinkHealth() == sdk::SinkHealth::kOk);
  REQUIRE(fixture.store().totals({}, totals));
  CHECK(totals.count == 2);
}
