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
class SystemClock final : public sdk::Clock {
 public:
  std::int64_t utcNowMs() const override;
  std::int64_t steadyNowMs() const override;
  bool sleepUntil(std::int64_t steady_ms) override;
  void wakeAll() override;

 private:
  std::mutex mutex_;
  std::condition_variable woken_;
  std::uint64_t wake_generation_ = 0;
};

}  // namespace gatherd::core
