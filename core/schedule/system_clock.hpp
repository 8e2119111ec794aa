#pragma once
// The production Clock: std::chrono::system_clock for the wall, steady_clock for cadence.

#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "gatherd/sdk/host.hpp"

namespace gatherd::core {

/// Wall time from system_clock (may jump), monotonic time from steady_clock. sleepUntil() waits
/// on a condition variable so that wakeAll() can release every sleeper at once (shutdown,
/// reload). Thread-safe; one instance is shared by the core and every plugin.
///
/// The monotonic millisecond ticks are shifted to fall in step with the wall clock's
/// millisecond ticks (measured once, at construction): a window boundary computed on the
/// monotonic clock is then the wall-clock boundary to within microseconds, not up to 1 ms early
/// or late.
class SystemClock final : public sdk::Clock {
 public:
  SystemClock();
  std::int64_t utcNowMs() const override;
  std::int64_t steadyNowMs() const override;
  bool sleepUntil(std::int64_t steady_ms) override;
  void wakeAll() override;
  std::uint64_t wakeGeneration() const override;
  bool sleepUntil(std::int64_t steady_ms, std::uint64_t generation) override;

 private:
  mutable std::mutex mutex_;
  std::condition_variable woken_;
  std::uint64_t wake_generation_ = 0;
  std::int64_t phase_ns_ = 0;  ///< added to steady_clock so its ms ticks match system_clock's
};

}  // namespace gatherd::core
