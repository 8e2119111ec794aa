// Measures how punctually the scheduler starts windows on the real clock while a source
// stalls at random, and checks that every window got exactly one result. See README.md.
// Usage: bench_cadence [seed (42)] [percent of polls that stall (30)] [longest stall ms (600)]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "core/schedule/scheduler.hpp"
#include "core/schedule/system_clock.hpp"

namespace {

constexpr std::int64_t kIntervalMs = 100;
constexpr int kWindows = 600;
constexpr int kCap = 6;
constexpr std::int64_t kTimeoutMs = kCap * kIntervalMs;  // the daemon's 60 s / 10 s ratio
constexpr std::int64_t kDefaultMaxStallMs = 6 * kIntervalMs;
constexpr int kDefaultStallPercent = 30;  // polls that stall 0..max_stall_ms; the others 0..5 ms

std::int64_t nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double percentile(std::vector<double> values, double share) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const auto rank =
      static_cast<std::size_t>(std::lround(share * static_cast<double>(values.size() - 1)));
  return values[std::min(rank, values.size() - 1)];
}

struct Observed {
  std::mutex mutex;
  std::condition_variable changed;
  std::map<std::int64_t, std::int64_t> entered_us;   // window_ms -> when poll() was entered
  std::map<std::int64_t, std::int64_t> admitted_ms;  // window_ms -> when the ticker admitted it
  std::map<std::int64_t, int> results;               // window_ms -> results received
  std::map<std::int64_t, gatherd::sdk::WindowResult> last_result;
  std::int64_t latest_window_ms = 0;  // latest window that was entered or skipped
};

}  // namespace

int main(int argc, char** argv) {
  const unsigned seed = argc > 1 ? static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10)) : 42U;
  const int stall_percent =
      argc > 2 ? std::clamp(std::atoi(argv[2]), 0, 100) : kDefaultStallPercent;
  const double stall_share = stall_percent / 100.0;
  const std::int64_t max_stall_ms =
      argc > 3 ? std::max<std::int64_t>(std::atoll(argv[3]), 0) : kDefaultMaxStallMs;
  // Stall of each window, by its index counted from any window multiple: fixed by the seed.
  std::vector<std::int64_t> stall_ms(static_cast<std::size_t>(kWindows) * 2);
  {
    std::mt19937 random(seed);
    std::uniform_real_distribution<double> share(0.0, 1.0);
    std::uniform_int_distribution<std::int64_t> long_stall(0, max_stall_ms);
    std::uniform_int_distribution<std::int64_t> short_stall(0, 5);
    for (auto& stall : stall_ms) {
      stall = share(random) < stall_share ? long_stall(random) : short_stall(random);
    }
  }

  gatherd::core::SystemClock clock;
  Observed observed;
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};

  const std::int64_t wall_minus_steady_ms = clock.utcNowMs() - clock.steadyNowMs();
  auto poll = [&](const gatherd::sdk::PollContext& context, gatherd::sdk::Batch& batch) {
    const std::int64_t entered = nowMicros();
    const int running = ++in_flight;
    int seen = max_in_flight.load();
    while (running > seen && !max_in_flight.compare_exchange_weak(seen, running)) {
    }
    {
      std::lock_guard lock(observed.mutex);
      observed.entered_us[context.window_ms] = entered;
      // The deadline is set at admission: admission = deadline - timeout, on the monotonic
      // clock, which SystemClock keeps in step with the wall clock's milliseconds.
      observed.admitted_ms[context.window_ms] =
          context.deadline_steady_ms - kTimeoutMs + wall_minus_steady_ms;
      observed.latest_window_ms = std::max(observed.latest_window_ms, context.window_ms);
    }
    observed.changed.notify_all();

    const auto index = static_cast<std::size_t>(context.window_ms / kIntervalMs) % stall_ms.size();
    // Shared with the cancel callback: CancelToken::cancel() may still be running a callback
    // it copied after onCancel({}) returned, so the callback must not point into this frame.
    struct Wake {
      std::mutex mutex;
      std::condition_variable woken;
    };
    auto wake = std::make_shared<Wake>();
    context.cancel->onCancel([wake] {
      std::lock_guard lock(wake->mutex);
      wake->woken.notify_all();
    });
    {
      std::unique_lock lock(wake->mutex);
      wake->woken.wait_for(lock, std::chrono::milliseconds(stall_ms[index]),
                           [&] { return context.cancel->cancelled(); });
    }
    context.cancel->onCancel({});
    batch.window.outcome = gatherd::sdk::Outcome::kOk;
    --in_flight;
  };

  gatherd::core::SchedulerOptions options;
  options.timeout_ms = kTimeoutMs;
  options.max_parallel = kCap;
  options.shutdown_grace_ms = 2 * kTimeoutMs;
  gatherd::core::Scheduler scheduler(clock, options, [&](gatherd::sdk::Batch&& batch) {
    {
      std::lock_guard lock(observed.mutex);
      ++observed.results[batch.window.window_ms];
      observed.last_result[batch.window.window_ms] = batch.window;
      if (batch.window.outcome == gatherd::sdk::Outcome::kSkipped) {
        observed.latest_window_ms = std::max(observed.latest_window_ms, batch.window.window_ms);
      }
    }
    observed.changed.notify_all();
  });
  scheduler.setSources({{"stalling", kIntervalMs, poll}});

  const std::int64_t first_window = (clock.utcNowMs() / kIntervalMs + 1) * kIntervalMs;
  const std::int64_t last_window = first_window + (kWindows - 1) * kIntervalMs;
  std::printf(
      "bench_cadence: interval %lld ms, %d windows (%.0f s), cap %d, timeout %lld ms, "
      "%.0f%% of polls stall 0-%lld ms, seed %u\n",
      static_cast<long long>(kIntervalMs), kWindows, kWindows * kIntervalMs / 1000.0, kCap,
      static_cast<long long>(kTimeoutMs), stall_share * 100, static_cast<long long>(max_stall_ms),
      seed);
  std::fflush(stdout);
  scheduler.start();
  {
    std::unique_lock lock(observed.mutex);
    observed.changed.wait(lock, [&] { return observed.latest_window_ms >= last_window; });
  }
  scheduler.stop();

  std::lock_guard lock(observed.mutex);
  std::vector<double> lag_ms;
  std::vector<double> started_lag_ms;
  std::vector<double> admission_lag_ms;
  int missing = 0;
  int duplicated = 0;
  std::map<std::string, int> outcomes;
  for (std::int64_t window = first_window; window <= last_window; window += kIntervalMs) {
    const auto results = observed.results.find(window);
    if (results == observed.results.end()) {
      ++missing;
      continue;
    }
    if (results->second > 1) ++duplicated;
    const auto& result = observed.last_result[window];
    ++outcomes[gatherd::sdk::outcomeName(result.outcome)];
    if (const auto entered = observed.entered_us.find(window);
        entered != observed.entered_us.end()) {
      lag_ms.push_back(static_cast<double>(entered->second - window * 1000) / 1000.0);
      started_lag_ms.push_back(static_cast<double>(result.started_ms - window));
      admission_lag_ms.push_back(static_cast<double>(observed.admitted_ms[window] - window));
    }
  }
  int outside = 0;
  for (const auto& [window, count] : observed.results) {
    if (window < first_window || window > last_window) outside += count;
  }
  const auto stats = scheduler.stats();

  const double p50 = percentile(lag_ms, 0.50);
  const double p99 = percentile(lag_ms, 0.99);
  const double max = lag_ms.empty() ? 0.0 : *std::max_element(lag_ms.begin(), lag_ms.end());
  const double min = lag_ms.empty() ? 0.0 : *std::min_element(lag_ms.begin(), lag_ms.end());
  std::printf(
      "window start lag (poll entered - window start, us precision), %zu started windows:\n"
      "  p50 %.3f ms, p99 %.3f ms, max %.3f ms, min %.3f ms\n",
      lag_ms.size(), p50, p99, max, min);
  std::printf(
      "  by the ledger's started_ms (ms precision): p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
      percentile(started_lag_ms, 0.50), percentile(started_lag_ms, 0.99),
      started_lag_ms.empty() ? 0.0
                             : *std::max_element(started_lag_ms.begin(), started_lag_ms.end()));
  std::printf(
      "  of which the ticker's wake-up (admitted - window start, ms precision): p50 %.0f ms, "
      "p99 %.0f ms, max %.0f ms\n",
      percentile(admission_lag_ms, 0.50), percentile(admission_lag_ms, 0.99),
      admission_lag_ms.empty()
          ? 0.0
          : *std::max_element(admission_lag_ms.begin(), admission_lag_ms.end()));
  std::printf(
      "windows without a result: %d (windows with more than one result: %d; results for "
      "windows after the measured range: %d)\n",
      missing, duplicated, outside);
  std::printf("largest in flight: %d (scheduler) / %d (measured inside polls), cap %d\n",
              stats.max_in_flight, max_in_flight.load(), kCap);
  std::printf("outcomes:");
  for (const auto& [name, count] : outcomes) std::printf(" %s %d", name.c_str(), count);
  std::printf("\n");
  const bool target_met = p99 <= 2.0 && max <= 10.0;
  std::printf("target lag p99 <= 2 ms and max <= 10 ms: %s\n", target_met ? "met" : "MISSED");

  const bool correct = missing == 0 && duplicated == 0 && stats.max_in_flight <= kCap &&
                       max_in_flight.load() <= kCap;
  return correct ? 0 : 1;
}
