// bench_spool: batches per second through core/spool (append + acknowledge, as the pipeline
// does when the sink keeps up), with fdatasync per batch and without, beside a raw loop that
// writes the same framed bytes with pwrite (+ fdatasync) into one file. Spool and raw take
// turns batch by batch so that both see the same machine load. Prints figures, asserts nothing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/spool/batch_codec.hpp"
#include "core/spool/journal.hpp"
#include "core/spool/spool.hpp"
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;
namespace spool = gatherd::core::spool;

std::string samplePayload() {
  // A poll of the xychatai source: the window result and the 20 newest invocations.
  gatherd::sdk::Batch batch;
  batch.window.source = "xychatai";
  batch.window.window_ms = 1'772'000'000'000;
  batch.window.records_seen = 20;
  for (int i = 0; i < 20; ++i) {
    gatherd::sdk::Record record;
    record.stream = "invocation";
    record.key = "req-" + std::to_string(100000 + i) + "|2026-03-01T00:00:0" +
                 std::to_string(i % 10) + ".000Z";
    record.time_ms = batch.window.window_ms + i;
    for (const char* name : {"inputTokens", "outputTokens", "cacheInputTokens", "reasoningTokens",
                             "totalTokens", "responseTime", "firstByteTime"}) {
      record.fields[name] = std::int64_t{40'000 + i};
    }
    record.fields["model"] = std::string("gpt-5.3-codex");
    record.fields["status"] = std::string("success");
    record.fields["cost"] = 0.0153;
    record.raw_json = std::string(420, 'x');
    batch.records.push_back(std::move(record));
  }
  std::string out;
  spool::encodeBatch(batch, out);
  return out;
}

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// CPU time of this thread (user + kernel, so the write system calls count): on a loaded machine
// the wall clock measures the scheduler as much as the code, the CPU time does not.
double threadCpuSeconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// Totals, and each batch's wall time: a preemption of several milliseconds (the machine is
// shared) lands in one side's total by chance, but moves the median by nothing.
struct Sample {
  double wall = 0;
  double cpu = 0;
};

struct Timing {
  double wall = 0;
  double cpu = 0;
  std::vector<double> walls;
  Timing& operator+=(const Sample& sample) {
    wall += sample.wall;
    cpu += sample.cpu;
    walls.push_back(sample.wall);
    return *this;
  }
  double medianWall() {
    if (walls.empty()) return 0;
    std::nth_element(walls.begin(), walls.begin() + static_cast<std::ptrdiff_t>(walls.size() / 2),
                     walls.end());
    return walls[walls.size() / 2];
  }
};

class Stopwatch {
 public:
  Sample elapsed() const { return {seconds(Clock::now() - wall_), threadCpuSeconds() - cpu_}; }

 private:
  Clock::time_point wall_ = Clock::now();
  double cpu_ = threadCpuSeconds();
};

// The raw baseline: the same framed record, pwrite at the end of one file, optional fdatasync,
// the file truncated when it reaches the spool's segment size (as the spool reuses its space).
class RawWriter {
 public:
  RawWriter(const std::string& path, std::uint64_t segment_bytes)
      : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)),
        segment_bytes_(segment_bytes) {}
  ~RawWriter() { ::close(fd_); }
  RawWriter(const RawWriter&) = delete;
  RawWriter& operator=(const RawWriter&) = delete;
  void write(const std::string& record, bool sync) {
    if (::pwrite(fd_, record.data(), record.size(), static_cast<off_t>(offset_)) !=
        static_cast<ssize_t>(record.size())) {
      std::perror("pwrite");
      std::exit(1);
    }
    offset_ += record.size();
    if (sync) ::fdatasync(fd_);
    if (offset_ + record.size() > segment_bytes_) {
      ::ftruncate(fd_, 0);
      offset_ = 0;
    }
  }

 private:
  int fd_;
  std::uint64_t segment_bytes_;
  std::uint64_t offset_ = 0;
};

// One round: the spool (append, then acknowledge, as the pipeline does while the sink keeps up)
// and the raw writer take turns batch by batch, each timed on its own, so that both see the same
// machine load even when other processes come and go within milliseconds.
void round(const std::string& dir, const std::string& payload, const std::string& record,
           int batches, bool sync, std::uint64_t segment_bytes, Timing& spool_time,
           Timing& raw_time) {
  std::filesystem::remove_all(dir + "/spool");
  spool::Spool journal(spool::SpoolOptions{dir + "/spool", 256ull << 20, sync, 0});
  journal.open();
  RawWriter raw(dir + "/raw", segment_bytes);
  for (int i = 0; i < batches; ++i) {
    {
      const Stopwatch stopwatch;
      const auto appended = journal.append(payload);
      if (!appended.ok) {
        std::fprintf(stderr, "append failed: %s\n", appended.error.c_str());
        std::exit(1);
      }
      journal.acknowledge(appended.sequence);
      spool_time += stopwatch.elapsed();
    }
    const Stopwatch stopwatch;
    raw.write(record, sync);
    raw_time += stopwatch.elapsed();
  }
}

}  // namespace

int main(int argc, char** argv) {
  int batches = 2000;
  int rounds = 5;
  std::string base = "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--batches" && i + 1 < argc)
      batches = std::atoi(argv[++i]);
    else if (arg == "--rounds" && i + 1 < argc)
      rounds = std::atoi(argv[++i]);
    else if (arg == "--dir" && i + 1 < argc)
      base = argv[++i];
    else {
      std::fprintf(stderr, "bench_spool [--batches N] [--rounds N] [--dir FOLDER]\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  const std::string payload = samplePayload();
  std::string record;
  spool::appendRecord(record, 1, payload);
  const std::string dir = base + "/gatherd-bench-spool." + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::uint64_t segment_bytes =
      256ull << 20 >> 3 > (16u << 20) ? (16u << 20) : (256ull << 20 >> 3);
  std::printf(
      "bench_spool: %d batches x %d rounds, %zu bytes per batch record, in %s (load %.1f)\n",
      batches, rounds, record.size(), base.c_str(), load[0]);
  for (bool sync : {true, false}) {
    Timing spool_time, raw_time;
    for (int n = 0; n < rounds; ++n) {
      round(dir, payload, record, batches, sync, segment_bytes, spool_time, raw_time);
    }
    const double total = static_cast<double>(batches) * rounds;
    const double spool_rate = total / spool_time.wall;
    const double raw_rate = total / raw_time.wall;
    const double spool_median = spool_time.medianWall();
    const double raw_median = raw_time.medianWall();
    std::printf(
        "%s\n  total:  spool %7.0f batches/s, raw %7.0f batches/s: spool/raw %5.1f%%\n"
        "  median: spool %7.1f us, raw %7.1f us per batch: spool/raw %5.1f%%\n"
        "  CPU:    spool %7.1f us, raw %7.1f us per batch: spool/raw %5.1f%%\n",
        sync ? "fdatasync per batch (raw: pwrite + fdatasync)" : "no fsync (raw: pwrite)",
        spool_rate, raw_rate, 100.0 * spool_rate / raw_rate, 1e6 * spool_median, 1e6 * raw_median,
        100.0 * raw_median / spool_median, 1e6 * spool_time.cpu / total, 1e6 * raw_time.cpu / total,
        100.0 * raw_time.cpu / spool_time.cpu);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
