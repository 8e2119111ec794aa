#include "core/schedule/system_clock.hpp"

#include <chrono>

namespace gatherd::core {

std::int64_t SystemClock::utcNowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t SystemClock::steadyNowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool SystemClock::sleepUntil(std::int64_t steady_ms) {
  const std::chrono::steady_clock::time_point until{std::chrono::milliseconds(steady_ms)};
  std::unique_lock lock(mutex_);
  const std::uint64_t generation = wake_generation_;
  woken_.wait_until(lock, until, [&] { return wake_generation_ != generation; });
  return steadyNowMs() >= steady_ms;
}

void SystemClock::wakeAll() {
  std::lock_guard lock(mutex_);
  ++wake_generation_;
  woken_.notify_all();
}

}  // namespace gatherd::core
