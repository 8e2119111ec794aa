#pragma once
// What bench_store's parts share: the synthetic feed, the host a sink runs on, timing, and the
// interface of one store under test (sqlite_backend.cpp, postgres_backend.cpp).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/sink.hpp"

namespace gatherd::bench_store {

using SteadyClock = std::chrono::steady_clock;

struct Options {
  std::string store = "sqlite";  // sqlite | postgres
  std::int64_t rows = 1'000'000;
  int batch = 20;
  std::string keep;  // sqlite: keep the database here (for bench/http)
  std::string dsn;   // postgres: use this server instead of a throwaway cluster
  bool raw = true;
  std::string raw_pg = "both";  // postgres baseline: insert | copy | both
  bool reuse = false;           // query what --keep / --dsn already holds, without ingesting
  int samples = 300;
  std::int64_t span_days = 90;
};

class RealClock final : public sdk::Clock {
 public:
  std::int64_t utcNowMs() const override;
  std::int64_t steadyNowMs() const override;
  bool sleepUntil(std::int64_t) override { return true; }
  void wakeAll() override {}
  std::uint64_t wakeGeneration() const override { return 0; }
  bool sleepUntil(std::int64_t, std::uint64_t) override { return true; }
};

/// The little a sink needs from the core, with a real clock and quiet logs. Counts what the
/// sink reports as `<anything>_invocations_inserted` / `_updated` / `_write_retries`.
class BenchHost final : public sdk::Host, public sdk::Logger, public sdk::Metrics {
 public:
  BenchHost(std::string name, std::string data_dir)
      : name_(std::move(name)), data_dir_(std::move(data_dir)) {}
  const std::string& instanceName() const override { return name_; }
  const std::string& version() const override { return version_; }
  const std::string& dataDir() const override { return data_dir_; }
  sdk::Logger& logger() override { return *this; }
  sdk::Metrics& metrics() override { return *this; }
  sdk::Clock& clock() override { return clock_; }
  sdk::Status registerRoute(const std::string&, sdk::RouteHandler) override {
    return sdk::Status::success();
  }
  sdk::Status registerStreamRoute(const std::string&, sdk::StreamRouteHandler) override {
    return sdk::Status::success();
  }
  sdk::Store* store() override { return nullptr; }
  void reportAuthState(sdk::AuthState, const std::string&) override {}
  void log(sdk::LogLevel level, std::string_view message) override;
  bool enabled(sdk::LogLevel level) const override { return level >= sdk::LogLevel::kWarn; }
  void increment(std::string_view name, std::int64_t by) override;
  void setGauge(std::string_view, double) override {}

  std::int64_t inserted = 0;
  std::int64_t updated = 0;
  std::int64_t retries = 0;

 private:
  std::string name_;
  std::string version_ = "bench";
  std::string data_dir_;
  RealClock clock_;
};

/// A baseline writer: the same batches into the same table, nothing but the inserts.
class RawLoop {
 public:
  virtual ~RawLoop() = default;
  /// e.g. "raw C API", "raw libpq COPY".
  virtual const char* name() const = 0;
  virtual void write(const sdk::Batch& batch) = 0;
  /// The process of the server that does its work (a PostgreSQL backend), or 0 (in-process).
  virtual int serverPid() const { return 0; }
};

/// One store under test: its sink (started, on its own BenchHost) and its baselines.
class Backend {
 public:
  virtual ~Backend() = default;
  /// "sqlite sink", "postgres sink".
  virtual const char* sinkName() const = 0;
  /// Where the data goes, for the header line.
  virtual std::string where() const = 0;
  virtual sdk::Sink& sink() = 0;
  virtual BenchHost& host() = 0;
  /// The server process that runs the sink's writes, or 0 when they run in-process.
  virtual int sinkServerPid() { return 0; }
  /// The baselines chosen by the options (empty with --no-raw or --reuse).
  virtual std::vector<RawLoop*> rawLoops() = 0;
  /// After the ingest: closes the baselines and prints their size.
  virtual void rawDone() = 0;
  /// Before the queries: what a running server would have done by then (postgres: ANALYZE).
  virtual void beforeQueries() {}
  /// Stops the sink and prints the size of what it stored.
  virtual void finish(std::int64_t rows, std::size_t raw_json_bytes) = 0;
  /// Why the store could not be set up; empty when it is ready.
  const std::string& problem() const { return problem_; }

 protected:
  std::string problem_;
};

/// The store of --store; its problem() says why it cannot be measured (no server, ...).
std::unique_ptr<Backend> makeSqliteBackend(const Options& options, const std::string& scratch);
std::unique_ptr<Backend> makePostgresBackend(const Options& options, const std::string& scratch);

/// The CPU time of the calling thread, in ms.
double threadCpuMs();
/// The CPU time of process `pid` (another program's, e.g. a PostgreSQL backend), in ms, from
/// /proc/<pid>/schedstat (nanoseconds); -1 when it cannot be read.
double processCpuMs(int pid);
/// The wall-clock time of the calling process, in ms since the epoch.
std::int64_t utcNowMs();

}  // namespace gatherd::bench_store
