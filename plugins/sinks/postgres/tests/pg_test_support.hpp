#pragma once
// Helpers for the postgres sink tests: one throwaway cluster per test process, a started sink
// on a FakeHost in a fresh schema, plain SQL from another connection.

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "gatherd/sdk/testing/fake_host.hpp"
#include "pg.hpp"
#include "postgres_cluster.hpp"
#include "postgres_sink.hpp"

namespace gatherd::plugins::postgres::testing {

/// The cluster every test of this process uses (started on first use, ~1.5 s).
inline gatherd::pgtest::PostgresCluster& cluster() {
  static gatherd::pgtest::PostgresCluster instance(GATHERD_PG_BINDIR);
  return instance;
}

/// A schema name no other test of this process uses.
inline std::string freshSchema(const std::string& name) {
  static std::atomic<int> counter{0};
  return "t" + std::to_string(++counter) + "_" + name;
}

/// A PostgresSink on a FakeHost, initialised and started with `dsn` + extra keys.
struct SinkFixture {
  SinkFixture(const std::string& schema, std::map<std::string, std::string, std::less<>> extra = {},
              const std::string& instance = "db")
      : host(instance, "/tmp") {
    extra["schema"] = schema;
    if (extra.find("dsn") == extra.end()) extra["dsn"] = cluster().conninfo();
    init_status = std::make_unique<sdk::Status>(sink.init(sdk::Config(instance, extra), host));
    if (*init_status) start_status = std::make_unique<sdk::Status>(sink.start());
  }
  bool started() const { return init_status && *init_status && start_status && *start_status; }
  std::string problem() const {
    if (init_status && !*init_status) return init_status->message();
    if (start_status && !*start_status) return start_status->message();
    return {};
  }
  sdk::Store& store() { return *sink.store(); }

  sdk::testing::FakeHost host;
  PostgresSink sink;
  std::unique_ptr<sdk::Status> init_status;
  std::unique_ptr<sdk::Status> start_status;
};

/// Plain SQL in `schema`, as another client would run it. -1 when there is no row.
inline std::int64_t queryInt(const std::string& schema, const std::string& sql) {
  Connection connection(cluster().conninfo(), "SET search_path = " + quoteIdentifier(schema));
  Result result = connection.exec(sql);
  return result.rows() == 0 ? -1 : result.integer(0, 0, -1);
}

}  // namespace gatherd::plugins::postgres::testing
