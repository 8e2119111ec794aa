// Prints the CPU cost of the xychatai-codex source (see README.md). Not a test: no thresholds.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "fake_upstream/fake_upstream.hpp"
#include "fake_upstream/test_certificates.hpp"
#include "gatherd/sdk/testing/fake_host.hpp"
#include "gatherd/sdk/testing/temp_dir.hpp"
#include "parser.hpp"
#include "settings.hpp"
#include "xychatai_source.hpp"
#include <time.h>

namespace {

namespace xy = gatherd::plugins::xychatai;
namespace fake = gatherd::plugins::xychatai::testing;

double cpuSeconds(clockid_t clock) {
  timespec now{};
  clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

struct Sample {
  double thread_cpu_us;
  double process_cpu_us;
  double wall_us;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void benchParse(int iterations) {
  const std::string body = fake::readFile(std::string(XYCHATAI_TESTDATA_DIR) + "/quota-happy.json");
  xy::Redactor redactor;
  redactor.add("SYNTHETIC-cookie-value-for-the-benchmark");
  xy::ParseOptions options;
  options.redactor = &redactor;
  std::size_t records = 0;
  for (int i = 0; i < 50; ++i) records += xy::parseQuotaResponse(body, options).invocations.size();
  std::vector<double> per_round;
  const int rounds = 10;
  for (int round = 0; round < rounds; ++round) {
    const double start = cpuSeconds(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < iterations / rounds; ++i) {
      records += xy::parseQuotaResponse(body, options).invocations.size();
    }
    per_round.push_back((cpuSeconds(CLOCK_THREAD_CPUTIME_ID) - start) * 1e6 /
                        (iterations / rounds));
  }
  std::printf(
      "parse+normalise one 20-record response (%zu bytes): median %.1f us CPU, "
      "best %.1f us (%d iterations, %zu records)\n",
      body.size(), median(per_round), *std::min_element(per_round.begin(), per_round.end()),
      iterations, records);
}

void benchPoll(int polls) {
  gatherd::sdk::testing::TempDir directory("gatherd-bench-xychatai");
  const auto certificates = fake::TestCertificates::create(directory.path().string());
  fake::FakeUpstream::Options server_options;
  server_options.tls_certificate = certificates.localhost_cert;
  server_options.tls_key = certificates.localhost_key;
  fake::FakeUpstream upstream(server_options);
  // 20 new records per request: every poll parses, normalises and emits all 20.
  upstream.setResponder(fake::RollingRecords(20).responder());
  upstream.start();

  gatherd::sdk::testing::FakeHost host("bench");
  xy::XychataiSource source;
  std::map<std::string, std::string, std::less<>> values;
  for (const auto& key : xy::settingsSchema()) {
    if (!key.default_value.empty()) values[key.name] = key.default_value;
  }
  values["base_url"] = upstream.baseUrl();
  values["ca_file"] = certificates.ca_file;
  values["cookie"] = "SYNTHETIC-cookie-value-for-the-benchmark";
  if (auto status = source.init(gatherd::sdk::Config("bench", values), host); !status) {
    std::fprintf(stderr, "init failed: %s\n", status.message().c_str());
    std::exit(1);
  }
  auto pollOnce = [&] {
    gatherd::sdk::CancelToken token;
    gatherd::sdk::PollContext context;
    context.deadline_steady_ms = host.clock().steadyNowMs() + 60'000;
    context.cancel = &token;
    gatherd::sdk::Batch batch;
    source.poll(context, batch);
    if (batch.window.outcome != gatherd::sdk::Outcome::kOk || batch.records.size() < 20) {
      std::fprintf(stderr, "poll failed: %s\n", batch.window.message.c_str());
      std::exit(1);
    }
  };
  pollOnce();  // handshake and first connection outside the measurement
  std::vector<double> thread_cpu;
  std::vector<double> process_cpu;
  std::vector<double> wall;
  for (int i = 0; i < polls; ++i) {
    const double thread_start = cpuSeconds(CLOCK_THREAD_CPUTIME_ID);
    const double process_start = cpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
    const double wall_start = cpuSeconds(CLOCK_MONOTONIC);
    pollOnce();
    thread_cpu.push_back((cpuSeconds(CLOCK_THREAD_CPUTIME_ID) - thread_start) * 1e6);
    process_cpu.push_back((cpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - process_start) * 1e6);
    wall.push_back((cpuSeconds(CLOCK_MONOTONIC) - wall_start) * 1e6);
  }
  source.stop();
  std::printf("whole poll over a kept-alive TLS connection (%d polls, %zu connection(s) used):\n",
              polls, upstream.connections());
  std::printf("  polling thread CPU: median %.1f us, p90 %.1f us\n", median(thread_cpu), [&] {
    auto sorted = thread_cpu;
    std::sort(sorted.begin(), sorted.end());
    return sorted[sorted.size() * 9 / 10];
  }());
  std::printf("  process CPU incl. the fake server building the response: median %.1f us\n",
              median(process_cpu));
  std::printf("  wall time: median %.1f us\n", median(wall));
  std::printf("  target: at most 1000 us of CPU per poll (polling thread)\n");
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::max(10, std::atoi(argv[1])) : 2000;
  const int polls = argc > 2 ? std::max(10, std::atoi(argv[2])) : 300;
  benchParse(iterations);
  benchPoll(polls);
  return 0;
}
