// Ingest and query figures of the sqlite store; prints them, asserts nothing (see README.md).
// Over 500 lines: one benchmark program: ingest, every query figure and the raw baselines side by
// side.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "batch_writer.hpp"
#include "field_codec.hpp"
#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/store.hpp"
#include "gatherd/sdk/streams.hpp"
#include "json/time_format.hpp"
#include "sqlite_sink.hpp"
#include <sys/stat.h>

namespace {

using namespace gatherd;
using SteadyClock = std::chrono::steady_clock;
namespace inv = sdk::streams::invocation;

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 86'400'000;
constexpr int kOffsetMinutes = 480;  // "today" and "this month" as seen from UTC+8

struct Options {
  std::int64_t rows = 1'000'000;
  int batch = 20;
  std::string keep;  // keep the database here (for bench/http)
  bool raw = true;
  bool reuse = false;  // query an existing --keep database without ingesting
  int samples = 300;
  std::int64_t span_days = 90;
};

class RealClock final : public sdk::Clock {
 public:
  std::int64_t utcNowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::int64_t steadyNowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               SteadyClock::now().time_since_epoch())
        .count();
  }
  bool sleepUntil(std::int64_t) override { return true; }
  void wakeAll() override {}
  std::uint64_t wakeGeneration() const override { return 0; }
  bool sleepUntil(std::int64_t, std::uint64_t) override { return true; }
};

/// The little a sink needs from the core, with a real clock and quiet logs.
class BenchHost final : public sdk::Host, public sdk::Logger, public sdk::Metrics {
 public:
  explicit BenchHost(std::string data_dir) : data_dir_(std::move(data_dir)) {}
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
  void log(sdk::LogLevel level, std::string_view message) override {
    if (level >= sdk::LogLevel::kWarn)
      std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
  }
  bool enabled(sdk::LogLevel level) const override { return level >= sdk::LogLevel::kWarn; }
  void increment(std::string_view name, std::int64_t by) override {
    if (name == "sqlite_invocations_inserted") inserted += by;
    if (name == "sqlite_invocations_updated") updated += by;
    if (name == "sqlite_write_retries") retries += by;
  }
  void setGauge(std::string_view, double) override {}

  std::int64_t inserted = 0;
  std::int64_t updated = 0;
  std::int64_t retries = 0;

 private:
  std::string name_ = "db";
  std::string version_ = "bench";
  std::string data_dir_;
  RealClock clock_;
};

std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

const char* const kModels[] = {"gpt-5-codex", "gpt-5", "gpt-5-codex-mini", "o4-mini"};
const char* const kErrors[] = {"upstream timeout after 60s for request req_%llx",
                               "rate limited: retry in %llu seconds",
                               "context length exceeded (%llu tokens)"};

/// Invocation number `index` of a synthetic account, as delivered while the newest one is
/// `newest`: deterministic, so the sink and the raw loop see identical batches. About one in 200
/// invocations is revised (status and cost) once it is ten polls old, as upstream retries do.
sdk::Record makeRecord(std::int64_t index, std::int64_t newest, std::int64_t start_ms,
                       std::int64_t step_ms) {
  const std::uint64_t h = mix(static_cast<std::uint64_t>(index));
  const bool revised = h % 200 == 0 && newest - index > 10;
  sdk::Record record;
  record.stream = sdk::streams::kInvocation;
  record.time_ms = start_ms + index * step_ms + static_cast<std::int64_t>(h % 1000);
  const std::string iso = json::formatIsoUtc(record.time_ms);
  char id[40];
  std::snprintf(id, sizeof id, "req_%016llx", static_cast<unsigned long long>(h));
  record.key = std::string(id) + "|" + iso;
  const unsigned roll = static_cast<unsigned>((h >> 8) % 100);
  std::string status = roll < 92 ? "success" : roll < 98 ? "failed" : "rate_limited";
  if (revised) status = status == "success" ? "failed" : "success";
  const std::int64_t input = static_cast<std::int64_t>((h >> 16) % 60'000);
  const std::int64_t output = static_cast<std::int64_t>((h >> 32) % 4'000);
  record.fields[inv::kRequestId] = std::string(id);
  record.fields[inv::kRequestTime] = iso;
  record.fields[inv::kOccurredAt] = iso;
  record.fields[inv::kService] = std::string("codex");
  record.fields[inv::kModel] = std::string(kModels[(h >> 12) % 4]);
  record.fields[inv::kStatus] = status;
  std::string error;
  if (status != "success") {
    char text[120];
    std::snprintf(text, sizeof text, kErrors[(h >> 20) % 3],
                  static_cast<unsigned long long>((h >> 24) % 100'000));
    error = text;
  }
  record.fields[inv::kErrorMessage] = error;
  record.fields[inv::kInputTokens] = input;
  record.fields[inv::kOutputTokens] = output;
  record.fields[inv::kCacheInputTokens] = input / 2;
  record.fields[inv::kReasoningTokens] = output / 3;
  record.fields[inv::kTotalTokens] = input + output;
  record.fields[inv::kCostUsd] =
      static_cast<double>(input + 8 * output) * 1.25e-6 * (revised ? 0.0 : 1.0);
  record.fields[inv::kResponseTimeMs] = static_cast<std::int64_t>(500 + (h >> 40) % 60'000);
  record.fields[inv::kFirstByteTimeMs] = static_cast<std::int64_t>(100 + (h >> 44) % 3'000);
  record.fields[inv::kServiceTier] = std::string("default");
  // About the size of an upstream recentRecords element.
  record.raw_json = "{\"requestId\":\"" + std::string(id) + "\",\"requestTime\":\"" + iso +
                    "\",\"model\":\"" + kModels[(h >> 12) % 4] + "\",\"status\":\"" + status +
                    "\",\"inputTokens\":" + std::to_string(input) +
                    ",\"outputTokens\":" + std::to_string(output) +
                    ",\"cacheInputTokens\":" + std::to_string(input / 2) +
                    ",\"reasoningTokens\":" + std::to_string(output / 3) +
                    ",\"totalTokens\":" + std::to_string(input + output) +
                    ",\"serviceTier\":\"default\",\"errorMessage\":\"" + error + "\"}";
  return record;
}

/// The batches of a polling source: each holds the newest `batch` invocations after 1..7 new
/// ones arrived (4 on average), so most of every batch is already stored.
class Feed {
 public:
  Feed(std::int64_t rows, int batch, std::int64_t start_ms, std::int64_t step_ms)
      : rows_(rows), batch_(batch), start_ms_(start_ms), step_ms_(step_ms) {}
  bool next(sdk::Batch& out) {
    if (newest_ >= rows_) return false;
    newest_ = std::min(rows_, newest_ + 1 + static_cast<std::int64_t>(mix(~newest_) % 7));
    out.records.clear();
    out.window = {};
    out.window.source = "xychatai";
    out.window.window_ms = start_ms_ + newest_ * step_ms_;
    out.window.started_ms = out.window.window_ms;
    out.window.finished_ms = out.window.window_ms + 300;
    for (std::int64_t i = std::max<std::int64_t>(0, newest_ - batch_); i < newest_; ++i) {
      out.records.push_back(makeRecord(i, newest_, start_ms_, step_ms_));
    }
    out.window.records_seen = static_cast<std::int64_t>(out.records.size());
    return true;
  }

 private:
  std::int64_t rows_;
  std::int64_t batch_;
  std::int64_t start_ms_;
  std::int64_t step_ms_;
  std::int64_t newest_ = 0;
};

double threadCpuMs() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

double seconds(SteadyClock::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

struct Ingest {
  double seconds = 0;
  double cpu_seconds = 0;  ///< CPU time (user + system) of the writing thread
  std::int64_t records = 0;
  std::int64_t batches = 0;
};

/// The baseline: the same batches into the same table and indexes through the raw C API, one
/// BEGIN IMMEDIATE per batch, INSERT ... ON CONFLICT DO NOTHING per record (no rollups, no
/// updates, no ledger, no change sequence).
class RawWriter {
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
        "INSERT INTO codex_invocations (invoke_id, occurred_at, payload, raw_response, source, "
        "occurred_ms, model, status, error_message, error_key, input_tokens, output_tokens, "
        "cache_input_tokens, reasoning_tokens, total_tokens, cost, response_time_ms, "
        "first_byte_time_ms, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
        "NULL, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18) "
        "ON CONFLICT (source, invoke_id, occurred_at) DO NOTHING";
    if (sqlite3_prepare_v2(db_, sql, -1, &insert_, nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "raw prepare: %s\n", sqlite3_errmsg(db_));
      std::exit(1);
    }
  }
  ~RawWriter() {
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }
  RawWriter(const RawWriter&) = delete;
  RawWriter& operator=(const RawWriter&) = delete;

  void write(const sdk::Batch& batch) {
    sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    for (const sdk::Record& record : batch.records) {
      const auto bar = record.key.rfind('|');
      const std::string payload = plugins::sqlite::encodeFields(record.fields);
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
        std::fprintf(stderr, "raw insert: %s\n", sqlite3_errmsg(db_));
        std::exit(1);
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

/// Times one call in wall and thread CPU time.
template <class Call>
void timed(Ingest& ingest, SteadyClock::duration& wall, double& cpu_ms, Call&& call) {
  const auto begin = SteadyClock::now();
  const double cpu_begin = threadCpuMs();
  call();
  cpu_ms += threadCpuMs() - cpu_begin;
  wall += SteadyClock::now() - begin;
  ++ingest.batches;
}

struct Percentiles {
  double p50 = 0;
  double p99 = 0;
  double max = 0;
  double cpu_p50 = 0;  ///< CPU time of the calling thread: the cost without waiting for a core
  double cpu_p99 = 0;
};

Percentiles measure(int samples, const std::function<bool(int)>& call) {
  std::vector<double> ms;
  std::vector<double> cpu;
  ms.reserve(static_cast<std::size_t>(samples));
  for (int i = 0; i < samples; ++i) {
    const auto begin = SteadyClock::now();
    const double cpu_begin = threadCpuMs();
    if (!call(i)) {
      std::fprintf(stderr, "query failed\n");
      std::exit(1);
    }
    cpu.push_back(threadCpuMs() - cpu_begin);
    ms.push_back(seconds(SteadyClock::now() - begin) * 1000.0);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  auto rank = [](const std::vector<double>& sorted, double p) {
    const auto index =
        static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size()))) - 1;
    return sorted[std::min(index, sorted.size() - 1)];
  };
  return {rank(ms, 0.50), rank(ms, 0.99), ms.back(), rank(cpu, 0.50), rank(cpu, 0.99)};
}

void printRow(const char* name, const Percentiles& figures, double target_ms) {
  std::printf(
      "  %-34s p50 %7.3f  p99 %7.3f  max %7.3f ms | cpu p50 %6.3f  p99 %6.3f ms"
      " | p99 target %2.0f ms: %s\n",
      name, figures.p50, figures.p99, figures.max, figures.cpu_p50, figures.cpu_p99, target_ms,
      figures.p99 <= target_ms ? "met" : "MISSED");
}

std::int64_t fileSize(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? static_cast<std::int64_t>(info.st_size) : 0;
}

void usage() {
  std::puts(
      "bench_store [--rows N] [--batch N] [--keep PATH] [--no-raw] [--samples N] [--span-days N]\n"
      "  --rows N       invocations to ingest (default 1000000)\n"
      "  --batch N      records per poll (default 20, most of them repeats)\n"
      "  --keep PATH    write the database to PATH and keep it (bench/http reuses it)\n"
      "  --no-raw       skip the raw sqlite3 C API baseline\n"
      "  --reuse        with --keep: only run the queries on the database already there\n"
      "  --samples N    runs per query figure (default 300)\n"
      "  --span-days N  the invocations spread over the last N days (default 90)");
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows up when stdout is a file
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--rows")
      options.rows = std::stoll(value());
    else if (arg == "--batch")
      options.batch = std::stoi(value());
    else if (arg == "--keep")
      options.keep = value();
    else if (arg == "--no-raw")
      options.raw = false;
    else if (arg == "--reuse")
      options.reuse = true;
    else if (arg == "--samples")
      options.samples = std::stoi(value());
    else if (arg == "--span-days")
      options.span_days = std::stoll(value());
    else {
      usage();
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }
  if (options.rows < 1 || options.batch < 1 || options.samples < 1 || options.span_days < 1) {
    usage();
    return 2;
  }

  char scratch_template[] = "/tmp/bench-store-XXXXXX";
  const std::string scratch = ::mkdtemp(scratch_template);
  const std::string path = options.keep.empty() ? scratch + "/gatherd.db" : options.keep;
  if (options.reuse && options.keep.empty()) {
    usage();
    return 2;
  }
  if (!options.keep.empty() && !options.reuse) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(options.keep + suffix);
  }
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const std::int64_t span_ms = options.span_days * kDayMs;
  const std::int64_t step_ms = std::max<std::int64_t>(1, span_ms / options.rows);
  const std::int64_t start_ms = now_ms - step_ms * options.rows;
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  std::printf("load average at start: %.2f %.2f %.2f on %u cores\n", load[0], load[1], load[2],
              std::thread::hardware_concurrency());
  std::printf("bench_store: %lld invocations over %lld days, polls of %d, database %s\n",
              static_cast<long long>(options.rows), static_cast<long long>(options.span_days),
              options.batch, path.c_str());

  // The sink, as gatherd runs it.
  BenchHost host(scratch);
  plugins::sqlite::SqliteSink sink;
  if (auto status = sink.init(sdk::Config("db", {{"path", path}}), host); !status) {
    std::fprintf(stderr, "%s\n", status.message().c_str());
    return 1;
  }
  if (auto status = sink.start(); !status) {
    std::fprintf(stderr, "%s\n", status.message().c_str());
    return 1;
  }
  // The baseline database: same schema (made by the sink), same machine, same run. The two
  // writers take turns batch by batch (alternating who goes first), so that both see the same
  // load on a shared machine.
  const bool with_raw = options.raw && !options.reuse;
  const std::string raw_path = scratch + "/raw.db";
  std::unique_ptr<RawWriter> raw_writer;
  if (with_raw) {
    BenchHost raw_host(scratch);
    plugins::sqlite::SqliteSink schema_only;
    if (!schema_only.init(sdk::Config("raw", {{"path", raw_path}}), raw_host) ||
        !schema_only.start()) {
      std::fprintf(stderr, "cannot create the baseline database\n");
      return 1;
    }
    schema_only.stop();
    raw_writer = std::make_unique<RawWriter>(raw_path);
  }
  Feed feed(options.rows, options.batch, start_ms, step_ms);
  sdk::Batch batch;
  Ingest ingest;
  Ingest raw;
  SteadyClock::duration spent{};
  SteadyClock::duration raw_spent{};
  double cpu_ms = 0;
  double raw_cpu_ms = 0;
  bool failed = false;
  while (!options.reuse && feed.next(batch)) {
    auto sinkWrite = [&] {
      timed(ingest, spent, cpu_ms, [&] { failed |= sink.write(batch) != sdk::WriteResult::kOk; });
    };
    auto rawWrite = [&] { timed(raw, raw_spent, raw_cpu_ms, [&] { raw_writer->write(batch); }); };
    if (with_raw && ingest.batches % 2 == 1) rawWrite();
    sinkWrite();
    if (with_raw && ingest.batches % 2 == 1) rawWrite();
    if (failed) {
      std::fprintf(stderr, "write failed\n");
      return 1;
    }
    ingest.records += static_cast<std::int64_t>(batch.records.size());
    raw.records += with_raw ? static_cast<std::int64_t>(batch.records.size()) : 0;
  }
  raw_writer.reset();
  ingest.seconds = std::max(seconds(spent), 1e-9);
  ingest.cpu_seconds = std::max(cpu_ms / 1000.0, 1e-9);
  const double sink_rows_per_s = static_cast<double>(host.inserted) / ingest.seconds;
  if (!options.reuse) {
    std::printf("\ningest (time inside the write calls only; record generation excluded)\n");
    std::printf(
        "  sqlite sink:   %lld batches, %lld records offered, %lld new rows, %lld updated\n"
        "                 wall %.1f s: %.0f new rows/s (%.0f records/s); cpu %.1f s: %.0f new "
        "rows/s\n",
        static_cast<long long>(ingest.batches), static_cast<long long>(ingest.records),
        static_cast<long long>(host.inserted), static_cast<long long>(host.updated), ingest.seconds,
        sink_rows_per_s, static_cast<double>(ingest.records) / ingest.seconds, ingest.cpu_seconds,
        static_cast<double>(host.inserted) / ingest.cpu_seconds);
  }
  if (with_raw) {
    raw.seconds = std::max(seconds(raw_spent), 1e-9);
    raw.cpu_seconds = std::max(raw_cpu_ms / 1000.0, 1e-9);
    const double raw_rows_per_s = static_cast<double>(options.rows) / raw.seconds;
    std::printf(
        "  raw C API:     %lld batches, %lld records offered, %lld new rows\n"
        "                 wall %.1f s: %.0f new rows/s (%.0f records/s); cpu %.1f s: %.0f new "
        "rows/s\n",
        static_cast<long long>(raw.batches), static_cast<long long>(raw.records),
        static_cast<long long>(options.rows), raw.seconds, raw_rows_per_s,
        static_cast<double>(raw.records) / raw.seconds, raw.cpu_seconds,
        static_cast<double>(options.rows) / raw.cpu_seconds);
    std::printf("  sink / raw:    %.0f%% by wall time, %.0f%% by cpu time (target >= 70%%)\n",
                100.0 * sink_rows_per_s / raw_rows_per_s,
                100.0 * (static_cast<double>(host.inserted) / ingest.cpu_seconds) /
                    (static_cast<double>(options.rows) / raw.cpu_seconds));
    std::printf("  raw baseline file: %.1f MB\n",
                static_cast<double>(fileSize(raw_path) + fileSize(raw_path + "-wal")) / 1e6);
  }

  // Queries on the database just built, through the Store as the HTTP API calls it.
  sdk::Store& store = *sink.store();
  const std::int64_t query_now = now_ms;
  std::printf("\nqueries (%d runs each)\n", options.samples);
  const char* const statuses[] = {"success", "failure"};
  printRow("page: limit 50, model + status",
           measure(options.samples,
                   [&](int i) {
                     sdk::InvocationQuery query;
                     query.model = kModels[i % 4];
                     query.status = statuses[(i / 4) % 2];
                     sdk::InvocationPage page;
                     return store.listInvocations(query, page).ok() && page.items.size() == 50;
                   }),
           5);
  {
    // Deeper pages: follow the cursor.
    std::string cursor;
    printRow("page: next pages via cursor",
             measure(options.samples,
                     [&](int i) {
                       sdk::InvocationQuery query;
                       query.model = kModels[0];
                       query.status = "success";
                       query.cursor = i % 50 == 0 ? std::string() : cursor;
                       sdk::InvocationPage page;
                       if (!store.listInvocations(query, page)) return false;
                       cursor = page.next_cursor;
                       return true;
                     }),
             5);
  }
  const std::int64_t offset_ms = kOffsetMinutes * kMinuteMs;
  const std::int64_t local_midnight = (query_now + offset_ms) / kDayMs * kDayMs - offset_ms;
  std::time_t local_seconds = static_cast<std::time_t>((query_now + offset_ms) / 1000);
  std::tm local{};
  ::gmtime_r(&local_seconds, &local);
  const std::int64_t month_start =
      json::daysFromCivil(local.tm_year + 1900, static_cast<unsigned>(local.tm_mon + 1), 1) *
          kDayMs -
      offset_ms;
  struct Window {
    const char* name;
    std::optional<std::int64_t> from;
  };
  const Window windows[] = {
      {"stats: 30m", query_now - 30 * kMinuteMs}, {"stats: 1h", query_now - kHourMs},
      {"stats: 1d", query_now - kDayMs},          {"stats: today (UTC+8)", local_midnight},
      {"stats: 7d", query_now - 7 * kDayMs},      {"stats: 30d", query_now - 30 * kDayMs},
      {"stats: this month (UTC+8)", month_start}, {"stats: all time", std::nullopt}};
  for (const Window& window : windows) {
    printRow(window.name,
             measure(options.samples,
                     [&](int) {
                       sdk::Totals totals;
                       sdk::RangeQuery range;
                       range.from_ms = window.from;
                       if (window.from) range.to_ms = query_now;
                       return store.totals(range, totals).ok();
                     }),
             5);
  }
  printRow("time series: 30 days hourly",
           measure(std::max(1, options.samples / 3),
                   [&](int) {
                     sdk::TimeSeriesQuery query;
                     query.range.from_ms = query_now - 30 * kDayMs;
                     query.range.to_ms = query_now;
                     query.bucket_ms = kHourMs;
                     std::vector<sdk::TimeSeriesPoint> points;
                     return store.timeSeries(query, points).ok() && points.size() >= 720;
                   }),
           20);
  printRow("time series: 30 days daily (UTC+8)",
           measure(std::max(1, options.samples / 3),
                   [&](int) {
                     sdk::TimeSeriesQuery query;
                     query.range.from_ms = query_now - 30 * kDayMs;
                     query.range.to_ms = query_now;
                     query.bucket_ms = kDayMs;
                     query.utc_offset_minutes = kOffsetMinutes;
                     std::vector<sdk::TimeSeriesPoint> points;
                     return store.timeSeries(query, points).ok();
                   }),
           20);
  printRow(
      "models: 7d",
      measure(std::max(1, options.samples / 3),
              [&](int) {
                std::vector<sdk::ModelBreakdown> models;
                return store.models({std::nullopt, query_now - 7 * kDayMs, query_now}, models).ok();
              }),
      5);
  printRow(
      "errors: 1d (info only)",
      measure(
          std::max(1, options.samples / 10),
          [&](int) {
            std::vector<sdk::ErrorBucket> buckets;
            return store.errors({std::nullopt, query_now - kDayMs, query_now}, 10, buckets).ok();
          }),
      50);
  printRow(
      "latency: 1d (info only)",
      measure(std::max(1, options.samples / 10),
              [&](int) {
                sdk::LatencyStats stats;
                return store.latency({std::nullopt, query_now - kDayMs, query_now}, stats).ok();
              }),
      50);

  sink.stop();  // closes the last connection: the WAL is checkpointed into the file
  const std::int64_t bytes = fileSize(path) + fileSize(path + "-wal");
  std::printf(
      "\nfile: %.1f MB for %lld invocations = %.0f MB per million (raw_response ~%zu B each;"
      " change sequence not yet pruned)\n",
      static_cast<double>(bytes) / 1e6, static_cast<long long>(options.rows),
      static_cast<double>(bytes) / static_cast<double>(options.rows),
      makeRecord(0, 0, start_ms, step_ms).raw_json.size());
  std::filesystem::remove_all(scratch);
  if (!options.keep.empty()) std::printf("kept: %s\n", options.keep.c_str());
  return 0;
}
