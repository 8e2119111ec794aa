// bench_spool: batches per second through core/spool (append + acknowledge, as the pipeline
// does when the sink keeps up), with fdatasync per batch and without, beside a raw loop that
// writes the same framed bytes with pwrite (+ fdatasync) into one file. Spool and raw take
// turns in rounds so that both see the same machine load. Prints figures, asserts nothing.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/spool/batch_codec.hpp"
#include "core/spool/journal.hpp"
#include "core/spool/spool.hpp"

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
    record.key = "req-" + std::to_string(100000 + i) + "|2026-03-01T00:00:0" + std::to_string(i % 10) + ".000Z";
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

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The raw baseline: the same framed record, pwrite at the end of one file, optional fdatasync,
// the file truncated when it reaches the spool's segment size (as the spool reuses its space).
Clock::duration rawRound(const std::string& path, const std::string& record, int batches, bool sync,
                         std::uint64_t segment_bytes) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  std::uint64_t offset = 0;
  const auto start = Clock::now();
  for (int i = 0; i < batches; ++i) {
    if (::pwrite(fd, record.data(), record.size(), static_cast<off_t>(offset)) !=
        static_cast<ssize_t>(record.size())) {
      std::perror("pwrite");
      std::exit(1);
    }
    offset += record.size();
    if (sync) ::fdatasync(fd);
    if (offset + record.size() > segment_bytes) {
      ::ftruncate(fd, 0);
      offset = 0;
    }
  }
  const auto elapsed = Clock::now() - start;
  ::close(fd);
  return elapsed;
}

Clock::duration spoolRound(const std::string& dir, const std::string& payload, int batches,
                           bool sync) {
  std::filesystem::remove_all(dir);
  spool::Spool journal(spool::SpoolOptions{dir, 256ull << 20, sync, 0});
  journal.open();
  const auto start = Clock::now();
  for (int i = 0; i < batches; ++i) {
    const auto appended = journal.append(payload);
    if (!appended.ok) {
      std::fprintf(stderr, "append failed: %s\n", appended.error.c_str());
      std::exit(1);
    }
    journal.acknowledge(appended.sequence);
  }
  return Clock::now() - start;
}

}  // namespace

int main(int argc, char** argv) {
  int batches = 2000;
  int rounds = 5;
  std::string base = "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--batches" && i + 1 < argc) batches = std::atoi(argv[++i]);
    else if (arg == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (arg == "--dir" && i + 1 < argc) base = argv[++i];
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
  const std::uint64_t segment_bytes = 256ull << 20 >> 3 > (16u << 20) ? (16u << 20) : (256ull << 20 >> 3);
  std::printf("bench_spool: %d batches x %d rounds, %zu bytes per batch record, in %s (load %.1f)\n",
              batches, rounds, record.size(), base.c_str(), load[0]);
  for (bool sync : {true, false}) {
    Clock::duration spool_time{}, raw_time{};
    for (int round = 0; round < rounds; ++round) {
      spool_time += spoolRound(dir + "/spool", payload, batches, sync);
      raw_time += rawRound(dir + "/raw", record, batches, sync, segment_bytes);
    }
    const double total = static_cast<double>(batches) * rounds;
    const double spool_rate = total / seconds(spool_time);
    const double raw_rate = total / seconds(raw_time);
    std::printf("%-22s spool %9.0f batches/s   raw write%s %9.0f batches/s   spool/raw %5.1f%%\n",
                sync ? "fdatasync per batch:" : "no fsync:", spool_rate, sync ? "+fdatasync" : "           ",
                raw_rate, 100.0 * spool_rate / raw_rate);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
