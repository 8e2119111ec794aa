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

#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/streams.hpp"
#include "gatherd/sdk/testing/fake_host.hpp"
#include "json/time_format.hpp"
#include "sqlite_sink.hpp"

namespace gatherd::plugins::sqlite::testing {

/// A fresh folder under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "gatherd-sqlite-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// What a test knows about one invocation.
struct Invocation {
  std::string request_id;
  std::int64_t time_ms = 0;
  std::string model = "gpt-5-codex";
  std::string status = "success";
  std::string error_message;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cache_input_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::int64_t total_tokens = 0;
  double cost_usd = 0;
  std::optional<std::int64_t> response_time_ms;
  std::optional<std::int64_t> first_byte_time_ms;
};

inline sdk::Record toRecord(const Invocation& invocation) {
  namespace inv = sdk::streams::invocation;
  sdk::Record record;
  record.stream = sdk::streams::kInvocation;
  const std::string iso = json::formatIsoUtc(invocation.time_ms);
  record.key = invocation.request_id + "|" + iso;
  record.time_ms = invocation.time_ms;
  record.fields[inv::kRequestId] = invocation.request_id;
  record.fields[inv::kOccurredAt] = iso;
  record.fields[inv::kRequestTime] = iso;
  record.fields[inv::kModel] = invocation.model;
  record.fields[inv::kStatus] = invocation.status;
  record.fields[inv::kErrorMessage] = invocation.error_message;
  record.fields[inv::kInputTokens] = invocation.input_tokens;
  record.fields[inv::kOutputTokens] = invocation.output_tokens;
  record.fields[inv::kCacheInputTokens] = invocation.cache_input_tokens;
  record.fields[inv::kReasoningTokens] = invocation.reasoning_tokens;
  record.fields[inv::kTotalTokens] = invocation.total_tokens;
  record.fields[inv::kCostUsd] = invocation.cost_usd;
  if (invocation.response_time_ms)
    record.fields[inv::kResponseTimeMs] = *invocation.response_time_ms;
  if (invocation.first_byte_time_ms) {
    record.fields[inv::kFirstByteTimeMs] = *invocation.first_byte_time_ms;
  }
  record.raw_json =
      "{\"requestId\":\"" + invocation.request_id + "\",\"status\":\"" + invocation.status + "\"}";
  return record;
}

inline sdk::Batch makeBatch(const std::string& source, std::int64_t window_ms,
                            const std::vector<Invocation>& invocations) {
  sdk::Batch batch;
  batch.window.source = source;
  batch.window.window_ms = window_ms;
  batch.window.started_ms = window_ms;
  batch.window.finished_ms = window_ms + 250;
  batch.window.records_seen = static_cast<std::int64_t>(invocations.size());
  batch.window.records_emitted = static_cast<std::int64_t>(invocations.size());
  for (const auto& invocation : invocations) batch.records.push_back(toRecord(invocation));
  return batch;
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
