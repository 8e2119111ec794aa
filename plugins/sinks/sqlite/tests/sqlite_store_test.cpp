// The shared Store suite (tests/store_suite) on the sqlite sink: each store is a database file in
// the backend's temp folder.
#include <catch2/catch.hpp>

#include "store_suite.hpp"
#include "test_support.hpp"

namespace gatherd::store_suite {
namespace {

using plugins::sqlite::testing::RawDb;
using plugins::sqlite::testing::SinkFixture;
using plugins::sqlite::testing::TempDir;

class SqliteUnderTest final : public StoreUnderTest {
 public:
  SqliteUnderTest(const std::string& path, Extra extra)
      : path_(path), fixture_(path, std::move(extra)) {}
  bool started() const override { return fixture_.started(); }
  std::string problem() const override { return fixture_.problem(); }
  sdk::WriteResult write(const sdk::Batch& batch) override { return fixture_.sink.write(batch); }
  sdk::Status runMaintenance() override { return fixture_.sink.runMaintenance(); }
  sdk::Store& store() override { return fixture_.store(); }
  void stop() override { fixture_.sink.stop(); }
  sdk::testing::FakeHost& host() override { return fixture_.host; }
  std::int64_t counter(const std::string& name) override {
    return fixture_.host.counter("sqlite_" + name);
  }
  std::int64_t integer(const std::string& sql) override { return RawDb(path_).integer(sql); }

 private:
  std::string path_;
  SinkFixture fixture_;
};

class SqliteBackend final : public StoreBackend {
 public:
  std::unique_ptr<StoreUnderTest> open(const std::string& name, Extra extra) override {
    return std::make_unique<SqliteUnderTest>(dir_.file(name + ".db"), std::move(extra));
  }

 private:
  TempDir dir_;
};

}  // namespace

std::unique_ptr<StoreBackend> makeStoreBackend() {
  return std::make_unique<SqliteBackend>();
}

}  // namespace gatherd::store_suite
