#pragma once
// The window scheduler: strict cadence per source, a global parallel cap with fair admission,
// a hard deadline per poll, clock-jump detection, and exactly one result for every window.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/source.hpp"

namespace gatherd::core {

struct SchedulerOptions {
  std::int64_t timeout_ms = 60'000;              ///< hard deadline of a whole poll
  int max_parallel = 6;                          ///< polls in flight at most, over every source
  std::int64_t shutdown_grace_ms = 5'000;        ///< stop() waits this long for in-flight polls
  std::int64_t clock_jump_threshold_ms = 1'000;  ///< wall-vs-monotonic drift that counts as a jump
  /// After cancelling a poll at its deadline, how long to wait for it to return before the
  /// timeout result is emitted without it (its late return is then discarded).
  std::int64_t late_result_grace_ms = 1'000;
  /// false: sources get no windows of their own, only those pollNow() starts (`gatherd once`,
  /// which so has the same deadline, cancellation and late-result rules as the daemon).
  bool cadence = true;
};

/// Runs one poll of a source for one window. The app wraps the plugin call; exceptions that
/// still escape are caught here and become `transport_error`.
using PollFunction = std::function<void(const sdk::PollContext&, sdk::Batch&)>;

struct ScheduledSource {
  std::string name;                   ///< source instance name; unique
  std::int64_t interval_ms = 10'000;  ///< windows start at wall-clock multiples of this
  PollFunction poll;
};

/// Receives every window's result exactly once. Called from scheduler threads (workers, the
/// timer thread, or the thread in stop()), never concurrently with itself. It should
/// be quick (hand the batch to the pipeline; a worker keeps its poll slot until the callback
/// returned) and must not call back into the Scheduler's start/stop/setSources/setOptions.
using ResultCallback = std::function<void(sdk::Batch&&)>;

/// Starts every source's windows at wall-clock multiples of its interval, timed on the
/// monotonic clock, and turns each window into exactly one result: ok/failed as the source
/// said, `timeout` at the deadline, `skipped` when the cap did not admit it, `aborted` at
/// shutdown. A slow poll never delays the next window of its source (polls may overlap).
///
/// Threads: one timer thread (cadence, admission, clock jumps, deadlines, stop grace, the
/// heartbeat) and up to max_parallel workers, started when polls overlap and kept. All public
/// methods are thread-safe.
class Scheduler {
 public:
  Scheduler(sdk::Clock& clock, SchedulerOptions options, ResultCallback on_result);
  /// Stops, then waits for every poll function to return (a poll that ignores cancellation
  /// forever keeps the destructor waiting: check stats().in_flight after stop()).
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Replaces the set of sources, before start() or while running (config reload). A source
  /// whose name is kept keeps its phase and next window (its new poll function is used from
  /// the next window on; a changed interval re-anchors it). Removed sources start no new
  /// window; their in-flight polls finish and report. Throws std::invalid_argument on an empty
  /// or duplicate name, a non-positive interval or an empty poll function.
  void setSources(std::vector<ScheduledSource> sources);
  /// Applies new options (reload); the pool grows when max_parallel grows. Throws
  /// std::invalid_argument on non-positive max_parallel or timeout.
  void setOptions(SchedulerOptions options);
  /// Calls `heartbeat` from the timer thread's loop about every `interval_ms` (the service
  /// watchdog: a scheduler that is stuck stops calling it, and systemd restarts the service).
  /// Call before start(); interval_ms <= 0 or an empty function turns it off.
  void setHeartbeat(std::int64_t interval_ms, std::function<void()> heartbeat);
  /// Starts the threads. Call once.
  void start();
  /// Starts one window of every source now (window_ms = the wall clock's now), admitted under
  /// the cap like any other; each ends in exactly one result. Call after start().
  void pollNow();
  /// No new windows; waits up to shutdown_grace_ms for in-flight polls, then cancels the rest
  /// and records them `aborted` (windows that were due but not started are not invented).
  /// Returns without waiting for polls that ignore their cancellation. Idempotent.
  void stop();

  struct Stats {
    std::int64_t windows = 0, ok = 0, failed = 0, skipped = 0, timeouts = 0, aborted = 0,
                 clock_jumps = 0;
    int in_flight = 0, max_in_flight = 0;
    /// Polls whose result was emitted without them (deadline + grace, or shutdown) and that
    /// have not returned yet; they still hold their slot.
    int abandoned = 0;
    std::int64_t callback_errors = 0;  ///< exceptions thrown by the ResultCallback
  };
  Stats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gatherd::core
