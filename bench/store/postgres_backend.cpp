// bench_store's postgres half: the postgres sink on a throwaway PostgreSQL cluster (or the
// server --dsn names) and two raw libpq baselines, a multi-row INSERT and a COPY.

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_store.hpp"
#include "gatherd/lib/storage/flat_fields.hpp"
#include "gatherd/sdk/streams.hpp"
#include "pg.hpp"
#include "postgres_sink.hpp"
#include <libpq-fe.h>
#ifdef GATHERD_PG_BINDIR
#include "postgres_cluster.hpp"
#endif

namespace gatherd::bench_store {
namespace {

namespace inv = sdk::streams::invocation;
namespace pg = plugins::postgres;

constexpr const char* kSinkSchema = "bench_sink";
constexpr const char* kInsertSchema = "bench_raw_insert";
constexpr const char* kCopySchema = "bench_raw_copy";
constexpr const char* kCollector = "bench";
constexpr const char* kSinkApplication = "gatherd_bench_sink";

// The columns both baselines fill: what the sqlite baseline fills, plus collector (NOT NULL
// here). source, collector, created_ms and updated_ms are the same for a whole batch.
constexpr int kRowColumns = 16;
constexpr const char* kColumns =
    "invoke_id, occurred_at, payload, raw_response, occurred_ms, model, status, error_message, "
    "input_tokens, output_tokens, cache_input_tokens, reasoning_tokens, total_tokens, cost, "
    "response_time_ms, first_byte_time_ms, source, collector, created_ms, updated_ms";

/// One invocation as the baselines send it: text values, NULL for a missing number.
std::vector<std::optional<std::string>> rowValues(const sdk::Record& record) {
  const auto bar = record.key.rfind('|');
  std::vector<std::optional<std::string>> row;
  row.reserve(kRowColumns);
  row.emplace_back(record.key.substr(0, bar));
  row.emplace_back(record.key.substr(bar + 1));
  row.emplace_back(storage::encodeFields(record.fields));
  row.emplace_back(record.raw_json);
  row.emplace_back(std::to_string(record.time_ms));
  for (const char* name : {inv::kModel, inv::kStatus, inv::kErrorMessage}) {
    row.emplace_back(record.get<std::string>(name).value_or(""));
  }
  for (const char* name : {inv::kInputTokens, inv::kOutputTokens, inv::kCacheInputTokens,
                           inv::kReasoningTokens, inv::kTotalTokens}) {
    const auto value = record.get<std::int64_t>(name);
    row.emplace_back(value ? std::optional(std::to_string(*value)) : std::nullopt);
  }
  const auto cost = record.get<double>(inv::kCostUsd);
  row.emplace_back(cost ? std::optional(pg::formatDouble(*cost)) : std::nullopt);
  for (const char* name : {inv::kResponseTimeMs, inv::kFirstByteTimeMs}) {
    const auto value = record.get<std::int64_t>(name);
    row.emplace_back(value ? std::optional(std::to_string(*value)) : std::nullopt);
  }
  return row;
}

/// `pid` when it is a PostgreSQL process on this machine (whose CPU time can be read), else 0.
int localServerPid(int pid) {
  std::FILE* file = std::fopen(("/proc/" + std::to_string(pid) + "/comm").c_str(), "r");
  if (file == nullptr) return 0;
  char name[64] = {};
  const bool postgres =
      std::fgets(name, sizeof name, file) != nullptr && std::string(name).rfind("postgres", 0) == 0;
  std::fclose(file);
  return postgres && processCpuMs(pid) >= 0 ? pid : 0;
}

/// A plain libpq connection: the baselines use nothing of the sink's own layer.
class RawConnection {
 public:
  RawConnection(const std::string& conninfo, const std::string& schema)
      : connection_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(connection_) != CONNECTION_OK) fail("connect");
    check(PQexec(connection_, ("SET search_path = " + schema).c_str()), PGRES_COMMAND_OK, "set");
  }
  ~RawConnection() { PQfinish(connection_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  PGconn* get() { return connection_; }
  int pid() const { return PQbackendPID(connection_); }
  void check(PGresult* result, ExecStatusType expected, const char* what) {
    const bool ok = PQresultStatus(result) == expected;
    PQclear(result);
    if (!ok) fail(what);
  }
  [[noreturn]] void fail(const char* what) {
    throw std::runtime_error(std::string("raw libpq ") + what + ": " + PQerrorMessage(connection_));
  }

 private:
  PGconn* connection_;
};

/// Baseline 1: one multi-row INSERT ... VALUES ... ON CONFLICT DO NOTHING per batch, a prepared
/// statement per row count, in autocommit: the whole batch is one round trip and one
/// transaction.
class RawInsert final : public RawLoop {
 public:
  explicit RawInsert(const std::string& conninfo) : connection_(conninfo, kInsertSchema) {}
  const char* name() const override { return "raw libpq INSERT"; }
  int serverPid() const override { return localServerPid(connection_.pid()); }
  void write(const sdk::Batch& batch) override {
    const int rows = static_cast<int>(batch.records.size());
    if (rows == 0) return;
    const std::string statement = "insert" + std::to_string(rows);
    if (prepared_.insert(rows).second) {
      std::string sql = std::string("INSERT INTO codex_invocations (") + kColumns + ") VALUES ";
      int parameter = 4;  // $1 source, $2 collector, $3 now
      for (int row = 0; row < rows; ++row) {
        sql += row == 0 ? "(" : ", (";
        for (int column = 0; column < kRowColumns; ++column) {
          sql += "$" + std::to_string(parameter++) + ", ";
        }
        sql += "$1, $2, $3, $3)";
      }
      sql += " ON CONFLICT (source, invoke_id, occurred_at) DO NOTHING";
      connection_.check(PQprepare(connection_.get(), statement.c_str(), sql.c_str(), 0, nullptr),
                        PGRES_COMMAND_OK, "prepare");
    }
    std::vector<std::optional<std::string>> values;
    values.reserve(static_cast<std::size_t>(3 + rows * kRowColumns));
    values.emplace_back(batch.window.source);
    values.emplace_back(kCollector);
    values.emplace_back(std::to_string(utcNowMs()));
    for (const sdk::Record& record : batch.records) {
      for (auto& value : rowValues(record)) values.push_back(std::move(value));
    }
    std::vector<const char*> pointers;
    pointers.reserve(values.size());
    for (const auto& value : values) pointers.push_back(value ? value->c_str() : nullptr);
    connection_.check(
        PQexecPrepared(connection_.get(), statement.c_str(), static_cast<int>(pointers.size()),
                       pointers.data(), nullptr, nullptr, 0),
        PGRES_COMMAND_OK, "insert");
  }

 private:
  RawConnection connection_;
  std::set<int> prepared_;  // row counts with a prepared statement
};

/// COPY's text format: tab-separated, \N for NULL, backslash escapes.
void appendCopyField(std::string& line, const std::optional<std::string>& value) {
  if (!value) {
    line += "\\N";
    return;
  }
  for (char c : *value) {
    switch (c) {
      case '\\': line += "\\\\"; break;
      case '\t': line += "\\t"; break;
      case '\n': line += "\\n"; break;
      case '\r': line += "\\r"; break;
      default: line.push_back(c);
    }
  }
}

/// Baseline 2: COPY the batch into a temporary staging table, then INSERT ... SELECT ... ON
/// CONFLICT DO NOTHING and COMMIT (COPY itself cannot skip the rows already stored, and most of
/// every poll is): three round trips per batch.
class RawCopy final : public RawLoop {
 public:
  explicit RawCopy(const std::string& conninfo) : connection_(conninfo, kCopySchema) {
    connection_.check(
        PQexec(connection_.get(), (std::string("CREATE TEMP TABLE staging ON COMMIT DELETE ROWS AS "
                                               "SELECT ") +
                                   kColumns + " FROM codex_invocations WITH NO DATA")
                                      .c_str()),
        PGRES_COMMAND_OK, "staging table");
  }
  const char* name() const override { return "raw libpq COPY"; }
  int serverPid() const override { return localServerPid(connection_.pid()); }
  void write(const sdk::Batch& batch) override {
    if (batch.records.empty()) return;
    PGconn* connection = connection_.get();
    connection_.check(PQexec(connection, "BEGIN; COPY staging FROM STDIN"), PGRES_COPY_IN, "copy");
    const std::string now = std::to_string(utcNowMs());
    std::string data;
    for (const sdk::Record& record : batch.records) {
      for (const auto& value : rowValues(record)) {
        appendCopyField(data, value);
        data.push_back('\t');
      }
      appendCopyField(data, batch.window.source);
      data += std::string("\t") + kCollector + "\t" + now + "\t" + now + "\n";
    }
    if (PQputCopyData(connection, data.data(), static_cast<int>(data.size())) != 1 ||
        PQputCopyEnd(connection, nullptr) != 1) {
      connection_.fail("copy data");
    }
    connection_.check(PQgetResult(connection), PGRES_COMMAND_OK, "copy end");
    while (PGresult* extra = PQgetResult(connection)) PQclear(extra);
    connection_.check(
        PQexec(connection, (std::string("INSERT INTO codex_invocations (") + kColumns +
                            ") SELECT * FROM staging ON CONFLICT (source, invoke_id, "
                            "occurred_at) DO NOTHING; COMMIT")
                               .c_str()),
        PGRES_COMMAND_OK, "insert from staging");
  }

 private:
  RawConnection connection_;
};

class PostgresBackend final : public Backend {
 public:
  PostgresBackend(const Options& options, const std::string& scratch)
      : host_("db", scratch), sink_(std::make_unique<pg::PostgresSink>()) {
    if (options.dsn.empty()) {
#ifdef GATHERD_PG_BINDIR
      // A stock server but for synchronous_commit: a commit returns before its WAL reaches the
      // disk, as the sqlite sink's synchronous = NORMAL does; both loops pay the same.
      cluster_ =
          std::make_unique<pgtest::PostgresCluster>(GATHERD_PG_BINDIR, "-c synchronous_commit=off");
      if (!cluster_->ok()) {
        problem_ = "cannot start a PostgreSQL cluster: " + cluster_->problem();
        return;
      }
      if (!cluster_->psql("CREATE DATABASE gatherd_bench")) {
        problem_ = "CREATE DATABASE failed: " + cluster_->log();
        return;
      }
      conninfo_ = cluster_->conninfo("gatherd_bench");
      where_ = "throwaway cluster in " + cluster_->bindir() +
               " on 127.0.0.1:" + std::to_string(cluster_->port());
#else
      problem_ = "no PostgreSQL server was found at build time: give --dsn";
      return;
#endif
    } else {
      conninfo_ = options.dsn;
      where_ = pg::maskConninfo(conninfo_);
    }
    where_ += ", schema " + std::string(kSinkSchema);
    try {
      pg::Connection admin(conninfo_);
      if (!options.reuse) {
        for (const char* schema : {kSinkSchema, kInsertSchema, kCopySchema}) {
          admin.run(std::string("DROP SCHEMA IF EXISTS ") + schema + " CASCADE");
        }
      }
      server_version_ = admin.exec("SHOW server_version").text(0, 0);
    } catch (const std::exception& error) {
      problem_ = error.what();
      return;
    }
    if (!startSink(*sink_, host_, kSinkSchema)) return;
    // The sink's writer is its first connection (start() opens it before the store's).
    try {
      pg::Connection admin(conninfo_);
      sink_pid_ = localServerPid(static_cast<int>(admin.queryInt(
          "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY backend_start "
          "LIMIT 1",
          pg::Params().add(kSinkApplication))));
    } catch (const std::exception&) {
      sink_pid_ = 0;  // no server CPU figures then
    }
    if (!options.raw || options.reuse) return;
    // The baselines' schemas are made by the sink (same tables and indexes), then left to them.
    for (const char* schema : {kInsertSchema, kCopySchema}) {
      BenchHost schema_host(schema, scratch);
      pg::PostgresSink schema_only;
      if (!startSink(schema_only, schema_host, schema)) return;
      schema_only.stop();
    }
    try {
      if (options.raw_pg != "copy") insert_ = std::make_unique<RawInsert>(conninfo_);
      if (options.raw_pg != "insert") copy_ = std::make_unique<RawCopy>(conninfo_);
    } catch (const std::exception& error) {
      problem_ = error.what();
    }
  }
  ~PostgresBackend() override {
    insert_.reset();
    copy_.reset();
    sink_.reset();  // before the cluster goes
  }

  const char* sinkName() const override {
    return "postgres sink";
  }
  std::string where() const override {
    return "PostgreSQL " + server_version_ + ", " + where_;
  }
  sdk::Sink& sink() override {
    return *sink_;
  }
  BenchHost& host() override {
    return host_;
  }
  int sinkServerPid() override {
    return sink_pid_;
  }
  std::vector<RawLoop*> rawLoops() override {
    std::vector<RawLoop*> loops;
    if (insert_) loops.push_back(insert_.get());
    if (copy_) loops.push_back(copy_.get());
    return loops;
  }
  void rawDone() override {
    if (insert_) std::printf("  raw INSERT schema: %.1f MB\n", schemaBytes(kInsertSchema) / 1e6);
    if (copy_) std::printf("  raw COPY schema: %.1f MB\n", schemaBytes(kCopySchema) / 1e6);
    insert_.reset();
    copy_.reset();
  }
  void beforeQueries() override {
    // The ingest outruns autovacuum (it looks every minute, and analyses a table once a tenth of
    // it changed): planned on the statistics of a small table, the page query scanned the time
    // index for 45-60 ms at 100,000 rows. A server that has run a while has analysed its tables.
    const auto start = std::chrono::steady_clock::now();
    try {
      pg::Connection admin(conninfo_);
      const pg::Result tables = admin.exec(
          "SELECT format('ANALYZE %I.%I', schemaname, tablename) FROM pg_tables "
          "WHERE schemaname = $1",
          pg::Params().add(kSinkSchema));
      for (int row = 0; row < tables.rows(); ++row) admin.run(tables.text(row, 0));
    } catch (const std::exception& error) {
      std::printf("ANALYZE failed: %s\n", error.what());
      return;
    }
    std::printf("\nANALYZE of the sink's tables (what autovacuum does soon after): %.0f ms\n",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count());
  }
  void finish(std::int64_t rows, std::size_t raw_json_bytes) override {
    sink_->stop();
    const double bytes = schemaBytes(kSinkSchema);
    std::printf(
        "\nschema %s: %.1f MB (tables, indexes, TOAST) for %lld invocations = %.0f MB per million"
        " (raw_response ~%zu B each; change sequence not yet pruned)\n",
        kSinkSchema, bytes / 1e6, static_cast<long long>(rows), bytes / static_cast<double>(rows),
        raw_json_bytes);
  }

 private:
  bool startSink(pg::PostgresSink& sink, BenchHost& host, const char* schema) {
    // Named, so that the bench finds the sink's server process (a URI dsn stays as it is).
    const std::string dsn = conninfo_.find("://") == std::string::npos
                                ? conninfo_ + " application_name=" + kSinkApplication
                                : conninfo_;
    const sdk::Config config(host.instanceName(),
                             {{"dsn", dsn}, {"schema", schema}, {"collector", kCollector}});
    if (auto status = sink.init(config, host); !status) {
      problem_ = status.message();
      return false;
    }
    if (auto status = sink.start(); !status) {
      problem_ = status.message();
      return false;
    }
    return true;
  }
  double schemaBytes(const char* schema) {
    try {
      pg::Connection connection(conninfo_);
      return static_cast<double>(connection.queryInt(
          "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN "
          "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
          pg::Params().add(schema)));
    } catch (const std::exception& error) {
      std::fprintf(stderr, "size of %s: %s\n", schema, error.what());
      return 0;
    }
  }

#ifdef GATHERD_PG_BINDIR
  std::unique_ptr<pgtest::PostgresCluster> cluster_;  // first in, last out
#endif
  std::string conninfo_;
  std::string where_;
  std::string server_version_;
  BenchHost host_;
  std::unique_ptr<pg::PostgresSink> sink_;
  std::unique_ptr<RawInsert> insert_;
  std::unique_ptr<RawCopy> copy_;
  int sink_pid_ = 0;
};

}  // namespace

std::unique_ptr<Backend> makePostgresBackend(const Options& options, const std::string& scratch) {
  return std::make_unique<PostgresBackend>(options, scratch);
}

}  // namespace gatherd::bench_store
