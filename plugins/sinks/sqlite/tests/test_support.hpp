#pragma once
// Helpers for the sqlite sink tests: temp folders, records, a started sink on a FakeHost.

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/streams.hpp"
#include "gatherd/sdk/testing/fake_host.hpp"
#include "gatherd/sdk/testing/temp_dir.hpp"
#include "sqlite_sink.hpp"
#include "store_suite.hpp"

namespace gatherd::plugins::sqlite::testing {

/// The sdk's TempDir (gatherd/sdk/testing/temp_dir.hpp).
using gatherd::sdk::testing::TempDir;

using gatherd::store_suite::Invocation;
using gatherd::store_suite::makeBatch;
using gatherd::store_suite::toRecord;

inline constexpr std::int64_t kT0 =
    1'772'000'000'000;  // 2026-02-25T06:13:20Z, the ManualClock's start

/// An invocation of 1,500 tokens (500 out) at `time_ms`.
inline Invocation invocation(const std::string& id, std::int64_t time_ms, double cost = 0.0125,
                             std::int64_t total = 1500) {
  Invocation value;
  value.request_id = id;
  value.time_ms = time_ms;
  value.input_tokens = total - 500;
  value.output_tokens = 500;
  value.total_tokens = total;
  value.cost_usd = cost;
  return value;
}

/// A SqliteSink on a FakeHost, initialised and started on `path` with extra config keys.
struct SinkFixture {
  explicit SinkFixture(const std::string& path,
                       std::map<std::string, std::string, std::less<>> extra = {},
                       const std::string& data_dir = "/tmp")
      : host("db", data_dir) {
    extra["path"] = path;
    init_status = std::make_unique<sdk::Status>(sink.init(sdk::Config("db", extra), host));
    if (*init_status) start_status = std::make_unique<sdk::Status>(sink.start());
  }
  bool started() const { return init_status && *init_status && start_status && *start_status; }
  /// Why init or start failed (empty when both succeeded).
  std::string problem() const {
    if (init_status && !*init_status) return init_status->message();
    if (start_status && !*start_status) return start_status->message();
    return {};
  }
  sdk::Store& store() { return *sink.store(); }

  sdk::testing::FakeHost host;
  SqliteSink sink;
  std::unique_ptr<sdk::Status> init_status;
  std::unique_ptr<sdk::Status> start_status;
};

/// A plain sqlite3 connection, as another process would hold one.
class RawDb {
 public:
  explicit RawDb(const std::string& path) { sqlite3_open(path.c_str(), &db_); }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  int exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
  std::int64_t integer(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    std::int64_t value = -1;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW) {
      value = sqlite3_column_int64(statement, 0);
    }
    sqlite3_finalize(statement);
    return value;
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    std::string value;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK &&
        sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
    return value;
  }
  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace gatherd::plugins::sqlite::testing
