// bench_store's sqlite half: the sqlite sink on a file and its raw sqlite3 C API baseline.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <sqlite3.h>

#include "bench_store.hpp"
#include "gatherd/lib/storage/flat_fields.hpp"
#include "gatherd/sdk/streams.hpp"
#include "sqlite_sink.hpp"
#include <sys/stat.h>

namespace gatherd::bench_store {
namespace {

namespace inv = sdk::streams::invocation;

std::int64_t fileSize(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? static_cast<std::int64_t>(info.st_size) : 0;
}

/// The baseline: the same batches into the same table and indexes through the raw C API, one
/// BEGIN IMMEDIATE per batch, INSERT ... ON CONFLICT DO NOTHING per record (no rollups, no
/// updates, no ledger, no change sequence), each record kept whole: every field as JSON in
/// extra, the upstream JSON in raw_response.
class RawWriter final : public RawLoop {
 public:
  explicit RawWriter(const std::string& path) {
    sqlite3_open(path.c_str(), &db_);
    // The sink's own settings, so that only the work differs.
    sqlite3_exec(db_,
                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                 "PRAGMA cache_size = -32000; PRAGMA mmap_size = 1073741824; "
                 "PRAGMA wal_autocheckpoint = 4000",
                 nullptr, nullptr, nullptr);
    const char* sql =
        "INSERT INTO codex_invocations (invoke_id, occurred_at, extra, raw_response, source, "
        "occurred_ms, model, status, error_message, error_key, input_tokens, output_tokens, "
        "cache_input_tokens, reasoning_tokens, total_tokens, cost, response_time_ms, "
        "first_byte_time_ms, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
        "NULL, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18) "
        "ON CONFLICT (source, invoke_id, occurred_at) DO NOTHING";
    if (sqlite3_prepare_v2(db_, sql, -1, &insert_, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("raw prepare: ") + sqlite3_errmsg(db_));
    }
  }
  ~RawWriter() override {
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }
  RawWriter(const RawWriter&) = delete;
  RawWriter& operator=(const RawWriter&) = delete;

  const char* name() const override { return "raw C API"; }
  void write(const sdk::Batch& batch) override {
    sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    const std::int64_t now_ms = utcNowMs();
    for (const sdk::Record& record : batch.records) {
      const auto bar = record.key.rfind('|');
      const std::string payload = storage::encodeFields(record.fields);
      sqlite3_bind_text(insert_, 1, record.key.c_str(), static_cast<int>(bar), SQLITE_TRANSIENT);
      sqlite3_bind_text(insert_, 2, record.key.c_str() + bar + 1, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert_, 3, payload.c_str(), static_cast<int>(payload.size()),
                        SQLITE_TRANSIENT);
      sqlite3_bind_text(insert_, 4, record.raw_json.c_str(),
                        static_cast<int>(record.raw_json.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(insert_, 5, batch.window.source.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(insert_, 6, record.time_ms);
      text(7, record, inv::kModel);
      text(8, record, inv::kStatus);
      text(9, record, inv::kErrorMessage);
      integer(10, record, inv::kInputTokens);
      integer(11, record, inv::kOutputTokens);
      integer(12, record, inv::kCacheInputTokens);
      integer(13, record, inv::kReasoningTokens);
      integer(14, record, inv::kTotalTokens);
      sqlite3_bind_double(insert_, 15, record.get<double>(inv::kCostUsd).value_or(0));
      integer(16, record, inv::kResponseTimeMs);
      integer(17, record, inv::kFirstByteTimeMs);
      sqlite3_bind_int64(insert_, 18, now_ms);
      if (sqlite3_step(insert_) != SQLITE_DONE) {
        throw std::runtime_error(std::string("raw insert: ") + sqlite3_errmsg(db_));
      }
      sqlite3_reset(insert_);
    }
    sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  }

 private:
  void text(int index, const sdk::Record& record, const char* name) {
    const auto value = record.get<std::string>(name);
    sqlite3_bind_text(insert_, index, value ? value->c_str() : "", -1, SQLITE_TRANSIENT);
  }
  void integer(int index, const sdk::Record& record, const char* name) {
    sqlite3_bind_int64(insert_, index, record.get<std::int64_t>(name).value_or(0));
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
};

class SqliteBackend final : public Backend {
 public:
  SqliteBackend(const Options& options, const std::string& scratch)
      : path_(options.keep.empty() ? scratch + "/gatherd.db" : options.keep),
        raw_path_(scratch + "/raw.db"),
        host_("db", scratch) {
    if (!options.keep.empty() && !options.reuse) {
      for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(options.keep + suffix);
      }
    }
    if (auto status = sink_.init(sdk::Config("db", {{"path", path_}}), host_); !status) {
      problem_ = status.message();
      return;
    }
    if (auto status = sink_.start(); !status) {
      problem_ = status.message();
      return;
    }
    if (!options.raw || options.reuse) return;
    // The baseline database: same schema (made by the sink), same machine, same run.
    BenchHost raw_host("raw", scratch);
    plugins::sqlite::SqliteSink schema_only;
    if (!schema_only.init(sdk::Config("raw", {{"path", raw_path_}}), raw_host) ||
        !schema_only.start()) {
      problem_ = "cannot create the baseline database";
      return;
    }
    schema_only.stop();
    raw_ = std::make_unique<RawWriter>(raw_path_);
  }

  const char* sinkName() const override { return "sqlite sink"; }
  std::string where() const override { return "database " + path_; }
  sdk::Sink& sink() override { return sink_; }
  BenchHost& host() override { return host_; }
  std::vector<RawLoop*> rawLoops() override {
    if (!raw_) return {};
    return {raw_.get()};
  }
  void rawDone() override {
    if (!raw_) return;
    raw_.reset();
    std::printf("  raw baseline file: %.1f MB\n",
                static_cast<double>(fileSize(raw_path_) + fileSize(raw_path_ + "-wal")) / 1e6);
  }
  void finish(std::int64_t rows, std::size_t raw_json_bytes) override {
    const std::int64_t unpruned = fileSize(path_) + fileSize(path_ + "-wal");
    // What the daemon does hourly: the change sequence (one entry per new row here) is cut to
    // changes_keep and the freed pages go back to the file system.
    const sdk::Status maintained = sink_.runMaintenance();
    sink_.stop();  // closes the last connection: the WAL is checkpointed into the file
    const std::int64_t bytes = fileSize(path_) + fileSize(path_ + "-wal");
    const double count = static_cast<double>(rows);
    std::printf(
        "\nfile: %.1f MB for %lld invocations (upstream JSON ~%zu B each) = %.0f bytes per "
        "invocation after the hourly maintenance (change sequence cut to changes_keep)%s; "
        "before it %.0f bytes per invocation (file + WAL)\n",
        static_cast<double>(bytes) / 1e6, static_cast<long long>(rows), raw_json_bytes,
        static_cast<double>(bytes) / count, maintained ? "" : " (maintenance FAILED)",
        static_cast<double>(unpruned) / count);
  }

 private:
  std::string path_;
  std::string raw_path_;
  BenchHost host_;
  plugins::sqlite::SqliteSink sink_;
  std::unique_ptr<RawWriter> raw_;
};

}  // namespace

std::unique_ptr<Backend> makeSqliteBackend(const Options& options, const std::string& scratch) {
  return std::make_unique<SqliteBackend>(options, scratch);
}

}  // namespace gatherd::bench_store
