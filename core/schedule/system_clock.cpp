#include "core/schedule/system_clock.hpp"

#include <chrono>

namespace gatherd::core {
namespace {

constexpr std::int64_t kNanosPerMs = 1'000'000;

std::int64_t steadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SystemClock::SystemClock() {
  const std::int64_t wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  const std::int64_t steady = steadyNanos();
  phase_ns_ = ((wall - steady) % kNanosPerMs + kNanosPerMs) % kNanosPerMs;
}

std::int64_t SystemClock::utcNowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t SystemClock::steadyNowMs() const {
  return (steadyNanos() + phase_ns_) / kNanosPerMs;
}

bool SystemClock::sleepUntil(std::int64_t steady_ms) {
  return sleepUntil(steady_ms, wakeGeneration());
}

std::uint64_t SystemClock::wakeGeneration() const {
  std::lock_guard lock(mutex_);
  return wake_generation_;
}

bool SystemClock::sleepUntil(std::int64_t steady_ms, std::uint64_t generation) {
  const std::chrono::steady_clock::time_point until{
      std::chrono::nanoseconds(steady_ms * kNanosPerMs - phase_ns_)};
  std::unique_lock lock(mutex_);
  woken_.wait_until(lock, until, [&] { return wake_generation_ != generation; });
  return steadyNowMs() >= steady_ms;
}

void SystemClock::wakeAll() {
  std::lock_guard lock(mutex_);
  ++wake_generation_;
  woken_.notify_all();
}

}  // namespace gatherd::core
