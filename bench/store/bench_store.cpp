// Ingest and query figures of the store sinks (sqlite, postgres) beside raw baselines; prints
// them, asserts nothing (see README.md). The stores themselves: sqlite_backend.cpp and
// postgres_backend.cpp.
// Over 500 lines: one benchmark program: the feed, the interleaved ingest and every query figure
// side by side.

#include "bench_store.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/sdk/store.hpp"
#include "gatherd/sdk/streams.hpp"

namespace gatherd::bench_store {
namespace {

namespace inv = sdk::streams::invocation;

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 86'400'000;
constexpr int kOffsetMinutes = 480;  // "today" and "this month" as seen from UTC+8

}  // namespace

std::int64_t RealClock::utcNowMs() const {
  return bench_store::utcNowMs();
}

std::int64_t RealClock::steadyNowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

std::int64_t utcNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double threadCpuMs() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
}

double processCpuMs(int pid) {
  std::FILE* file = std::fopen(("/proc/" + std::to_string(pid) + "/schedstat").c_str(), "r");
  if (file == nullptr) return -1;
  unsigned long long ns = 0;
  const int read = std::fscanf(file, "%llu", &ns);
  std::fclose(file);
  return read == 1 ? static_cast<double>(ns) / 1e6 : -1;
}

void BenchHost::log(sdk::LogLevel level, std::string_view message) {
  if (level >= sdk::LogLevel::kWarn)
    std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
}

void BenchHost::increment(std::string_view name, std::int64_t by) {
  // Each sink prefixes its metrics with its own name (sqlite_, postgres_).
  auto endsWith = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  if (endsWith("_invocations_inserted")) inserted += by;
  if (endsWith("_invocations_updated")) updated += by;
  if (endsWith("_write_retries")) retries += by;
}

namespace {

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

double seconds(SteadyClock::duration duration) {
  return std::chrono::duration<double>(duration).count();
}

struct Ingest {
  double seconds = 0;
  double cpu_seconds = 0;  ///< CPU time (user + system) of the writing thread
  std::int64_t records = 0;
  std::int64_t batches = 0;
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

// Set by SIGINT / SIGTERM: the run ends early, and the throwaway cluster is still torn down.
volatile std::sig_atomic_t stop_requested = 0;

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
    if (stop_requested != 0) throw std::runtime_error("interrupted");
    if (!call(i)) throw std::runtime_error("query failed");
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

void usage() {
  std::puts(
      "bench_store [--store sqlite|postgres] [--rows N] [--batch N] [--keep PATH] [--dsn DSN]\n"
      "            [--no-raw] [--raw-pg insert|copy|both] [--reuse] [--samples N] [--span-days N]\n"
      "  --store S      the store sink to measure: sqlite (default) or postgres\n"
      "  --rows N       invocations to ingest (default 1000000)\n"
      "  --batch N      records per poll (default 20, most of them repeats)\n"
      "  --keep PATH    sqlite: write the database to PATH and keep it (bench/http reuses it)\n"
      "  --dsn DSN      postgres: use this server (schemas bench_*, replaced) instead of a\n"
      "                 throwaway cluster in /tmp\n"
      "  --no-raw       skip the raw baseline(s)\n"
      "  --raw-pg M     postgres baselines: multi-row insert, copy, or both (default)\n"
      "  --reuse        with --keep / --dsn: only run the queries on what is there\n"
      "  --samples N    runs per query figure (default 300)\n"
      "  --span-days N  the invocations spread over the last N days (default 90)");
}

struct Targets {
  double query_ms;   // page and totals p99
  double series_ms;  // 30-day hourly series p99
};

/// N invocations through the sink, batch by batch, interleaved with the baselines.
bool runIngest(const Options& options, Backend& backend, std::int64_t start_ms,
               std::int64_t step_ms) {
  std::vector<RawLoop*> raws = backend.rawLoops();
  struct Writer {
    const char* name;
    std::function<bool(const sdk::Batch&)> write;
    Ingest ingest;
    SteadyClock::duration wall{};
    double cpu_ms = 0;
    int server_pid = 0;    // the PostgreSQL backend doing the work, if any
    double server_ms = 0;  // its CPU time inside the write calls
  };
  std::vector<Writer> writers;
  writers.push_back({backend.sinkName(),
                     [&](const sdk::Batch& batch) {
                       return backend.sink().write(batch) == sdk::WriteResult::kOk;
                     },
                     {},
                     {},
                     0,
                     backend.sinkServerPid(),
                     0});
  for (RawLoop* raw : raws) {
    writers.push_back({raw->name(),
                       [raw](const sdk::Batch& batch) {
                         raw->write(batch);
                         return true;
                       },
                       {},
                       {},
                       0,
                       raw->serverPid(),
                       0});
  }
  Feed feed(options.rows, options.batch, start_ms, step_ms);
  sdk::Batch batch;
  std::int64_t polls = 0;
  // The writers take turns batch by batch, each batch starting with the next one, so that all
  // see the same load on a shared machine.
  while (feed.next(batch)) {
    if (stop_requested != 0) throw std::runtime_error("interrupted");
    for (std::size_t turn = 0; turn < writers.size(); ++turn) {
      Writer& writer = writers[(static_cast<std::size_t>(polls) + turn) % writers.size()];
      bool ok = true;
      // The server's CPU time is read around the timed call, not inside it.
      const double server_before = writer.server_pid != 0 ? processCpuMs(writer.server_pid) : 0;
      timed(writer.ingest, writer.wall, writer.cpu_ms, [&] { ok = writer.write(batch); });
      if (writer.server_pid != 0)
        writer.server_ms += processCpuMs(writer.server_pid) - server_before;
      if (!ok) {
        std::fprintf(stderr, "%s: write failed\n", writer.name);
        return false;
      }
      writer.ingest.records += static_cast<std::int64_t>(batch.records.size());
    }
    ++polls;
    if (polls % 50'000 == 0) {
      std::printf("  ... %lld polls, %lld new rows\n", static_cast<long long>(polls),
                  static_cast<long long>(backend.host().inserted));
    }
  }
  std::printf("\ningest (time inside the write calls only; record generation excluded)\n");
  const BenchHost& host = backend.host();
  double best_raw_wall = 0;
  double best_raw_cpu = 0;
  double best_raw_total = 0;
  double sink_total = 0;
  for (std::size_t i = 0; i < writers.size(); ++i) {
    Writer& writer = writers[i];
    writer.ingest.seconds = std::max(seconds(writer.wall), 1e-9);
    writer.ingest.cpu_seconds = std::max(writer.cpu_ms / 1000.0, 1e-9);
    // The baselines do not count what they inserted: they store the same N rows.
    const double rows = static_cast<double>(i == 0 ? host.inserted : options.rows);
    const double wall_rate = rows / writer.ingest.seconds;
    const double cpu_rate = rows / writer.ingest.cpu_seconds;
    std::printf("  %-18s %lld batches, %lld records offered, %.0f new rows", writer.name,
                static_cast<long long>(writer.ingest.batches),
                static_cast<long long>(writer.ingest.records), rows);
    if (i == 0) std::printf(", %lld updated", static_cast<long long>(host.updated));
    std::printf(
        "\n  %-18s wall %.1f s: %.0f new rows/s (%.0f records/s); cpu %.1f s: %.0f new rows/s\n",
        "", writer.ingest.seconds, wall_rate,
        static_cast<double>(writer.ingest.records) / writer.ingest.seconds,
        writer.ingest.cpu_seconds, cpu_rate);
    // Client and server CPU together: what the batches cost, whatever else the cores run.
    const double total_rate = rows / std::max((writer.cpu_ms + writer.server_ms) / 1000.0, 1e-9);
    if (writer.server_pid != 0) {
      std::printf("  %-18s server backend cpu %.1f s; client + server cpu: %.0f new rows/s\n", "",
                  writer.server_ms / 1000.0, total_rate);
    }
    if (i == 0) sink_total = total_rate;
    if (i > 0 && wall_rate > best_raw_wall) {
      best_raw_wall = wall_rate;
      best_raw_cpu = cpu_rate;
      best_raw_total = total_rate;
    }
  }
  if (writers.size() > 1) {
    const Ingest& sink = writers[0].ingest;
    std::printf(
        "  sink / fastest raw: %.0f%% by wall time, %.0f%% by cpu time of this thread (target "
        ">= 70%%)\n",
        100.0 * (static_cast<double>(host.inserted) / sink.seconds) / best_raw_wall,
        100.0 * (static_cast<double>(host.inserted) / sink.cpu_seconds) / best_raw_cpu);
    if (writers[0].server_pid != 0) {
      std::printf("  sink / fastest raw by client + server cpu: %.0f%%\n",
                  100.0 * sink_total / best_raw_total);
    }
  }
  backend.rawDone();
  return true;
}

/// Every query figure on what the ingest stored, through the Store as the HTTP API calls it.
void runQueries(const Options& options, sdk::Store& store, std::int64_t query_now,
                const Targets& targets) {
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
           targets.query_ms);
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
             targets.query_ms);
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
             targets.query_ms);
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
           targets.series_ms);
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
           targets.series_ms);
  printRow(
      "models: 7d",
      measure(std::max(1, options.samples / 3),
              [&](int) {
                std::vector<sdk::ModelBreakdown> models;
                return store.models({std::nullopt, query_now - 7 * kDayMs, query_now}, models).ok();
              }),
      targets.query_ms);
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
}

int run(const Options& options, const std::string& scratch) {
  const std::int64_t now_ms = utcNowMs();
  const std::int64_t span_ms = options.span_days * kDayMs;
  const std::int64_t step_ms = std::max<std::int64_t>(1, span_ms / options.rows);
  const std::int64_t start_ms = now_ms - step_ms * options.rows;
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  std::printf("load average at start: %.2f %.2f %.2f on %u cores\n", load[0], load[1], load[2],
              std::thread::hardware_concurrency());
  const bool postgres = options.store == "postgres";
  std::unique_ptr<Backend> backend =
      postgres ? makePostgresBackend(options, scratch) : makeSqliteBackend(options, scratch);
  if (!backend->problem().empty()) {
    std::fprintf(stderr, "%s\n", backend->problem().c_str());
    return 1;
  }
  std::printf("bench_store: %s, %lld invocations over %lld days, polls of %d, %s\n",
              backend->sinkName(), static_cast<long long>(options.rows),
              static_cast<long long>(options.span_days), options.batch, backend->where().c_str());
  if (!options.reuse && !runIngest(options, *backend, start_ms, step_ms)) return 1;
  // The targets of issue 14 for PostgreSQL (a server over a socket) are looser than sqlite's.
  const Targets targets = postgres ? Targets{10, 30} : Targets{5, 20};
  backend->beforeQueries();
  runQueries(options, *backend->sink().store(), now_ms, targets);
  ::getloadavg(load, 3);
  std::printf("load average at the end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  backend->finish(options.rows, makeRecord(0, 0, start_ms, step_ms).raw_json.size());
  return 0;
}

extern "C" void onSignal(int) {
  stop_requested = 1;
}

}  // namespace
}  // namespace gatherd::bench_store

int main(int argc, char** argv) {
  using namespace gatherd::bench_store;
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
    if (arg == "--store")
      options.store = value();
    else if (arg == "--rows")
      options.rows = std::stoll(value());
    else if (arg == "--batch")
      options.batch = std::stoi(value());
    else if (arg == "--keep")
      options.keep = value();
    else if (arg == "--dsn")
      options.dsn = value();
    else if (arg == "--no-raw")
      options.raw = false;
    else if (arg == "--raw-pg")
      options.raw_pg = value();
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
  const bool postgres = options.store == "postgres";
  if (options.rows < 1 || options.batch < 1 || options.samples < 1 || options.span_days < 1 ||
      (!postgres && options.store != "sqlite") ||
      (options.raw_pg != "insert" && options.raw_pg != "copy" && options.raw_pg != "both") ||
      (options.reuse && (postgres ? options.dsn.empty() : options.keep.empty()))) {
    usage();
    return 2;
  }
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  char scratch_template[] = "/tmp/bench-store-XXXXXX";
  const std::string scratch = ::mkdtemp(scratch_template);
  int status = 1;
  try {
    status = run(options, scratch);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_store: %s\n", error.what());
  }
  std::filesystem::remove_all(scratch);
  if (status == 0 && !options.keep.empty() && !postgres) {
    std::printf("kept: %s\n", options.keep.c_str());
  }
  return status;
}
