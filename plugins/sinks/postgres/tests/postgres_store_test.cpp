// The shared Store suite (tests/store_suite) on the postgres sink: each store is a schema in the
// test process's throwaway cluster.
#include <catch2/catch.hpp>

#include "pg_test_support.hpp"
#include "store_suite.hpp"

namespace gatherd::store_suite {
namespace {

using plugins::postgres::testing::SinkFixture;

class PostgresUnderTest final : public StoreUnderTest {
 public:
  PostgresUnderTest(const std::string& schema, Extra extra)
      : schema_(schema), fixture_(schema, std::move(extra)) {}
  bool started() const override { return fixture_.started(); }
  std::string problem() const override { return fixture_.problem(); }
  sdk::WriteResult write(const sdk::Batch& batch) override { return fixture_.sink.write(batch); }
  sdk::Status runMaintenance() override { return fixture_.sink.runMaintenance(); }
  sdk::Store& store() override { return fixture_.store(); }
  void stop() override { fixture_.sink.stop(); }
  sdk::testing::FakeHost& host() override { return fixture_.host; }
  std::int64_t counter(const std::string& name) override {
    return fixture_.host.counter("postgres_" + name);
  }
  std::int64_t integer(const std::string& sql) override {
    return plugins::postgres::testing::queryInt(schema_, sql);
  }

 private:
  std::string schema_;
  SinkFixture fixture_;
};

class PostgresBackend final : public StoreBackend {
 public:
  PostgresBackend() : prefix_(plugins::postgres::testing::freshSchema("suite")) {}
  std::unique_ptr<StoreUnderTest> open(const std::string& name, Extra extra) override {
    INFO("PostgreSQL test cluster: " << plugins::postgres::testing::cluster().problem());
    REQUIRE(plugins::postgres::testing::cluster().ok());
    return std::make_unique<PostgresUnderTest>(prefix_ + "_" + name, std::move(extra));
  }

 private:
  std::string prefix_;
};

}  // namespace

std::unique_ptr<StoreBackend> makeStoreBackend() {
  return std::make_unique<PostgresBackend>();
}

}  // namespace gatherd::store_suite
