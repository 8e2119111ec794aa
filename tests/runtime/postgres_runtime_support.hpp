#pragma once
// Shared by the PostgreSQL runtime tests: one throwaway cluster per test process, a fresh
// database per test, plain SQL, and a serve-only config.

#include <cstdint>
#include <string>

#include <catch2/catch.hpp>

#include "gatherd_process.hpp"
#include "postgres_cluster.hpp"

namespace gatherd::testing {

inline gatherd::pgtest::PostgresCluster& cluster() {
  static gatherd::pgtest::PostgresCluster instance(GATHERD_PG_BINDIR);
  return instance;
}

/// A database of its own per test, so tests do not see each other's rows.
inline std::string freshDatabase(const std::string& name) {
  REQUIRE(cluster().ok());
  INFO(cluster().problem());
  REQUIRE(cluster().query("DROP DATABASE IF EXISTS " + name) == "");
  REQUIRE(cluster().query("CREATE DATABASE " + name) == "");
  return cluster().conninfo(name);
}

inline std::int64_t pgInt(const std::string& database, const std::string& sql) {
  const std::string text = cluster().query(sql, database);
  INFO(sql << " -> " << text);
  REQUIRE(!text.empty());
  return std::stoll(text);
}

/// A gatherd without sources in `dir`/`name`, with `sink` (sections) as its store.
inline std::string serveConfig(const TempDir& dir, const std::string& name,
                               const std::string& sink) {
  std::string text = baseConfig(dir.path() / name, "10s") + sink;
  return text;
}

}  // namespace gatherd::testing
