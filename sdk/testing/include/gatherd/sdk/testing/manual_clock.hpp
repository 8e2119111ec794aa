#pragma once
// A Clock that moves only when a test says so.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <utility>

#include "gatherd/sdk/host.hpp"

namespace gatherd::sdk::testing {

/// Wall and monotonic time under the test's control. advance() moves both; jumpWall() moves only
/// the wall clock (a clock jump). sleepUntil() blocks until advance() reaches the target or
/// wakeAll() is called (or, for the overload with a generation, was called since that
/// generation was read). Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t utc_ms = 1'772'000'000'000, std::int64_t steady_ms = 1'000)
      : utc_ms_(utc_ms), steady_ms_(steady_ms) {}

  std::int64_t utcNowMs() const override {
    std::lock_guard lock(mutex_);
    return utc_ms_;
  }
  std::int64_t steadyNowMs() const override {
    std::lock_guard lock(mutex_);
    return steady_ms_;
  }
  bool sleepUntil(std::int64_t steady_ms) override {
    return sleepUntil(steady_ms, wakeGeneration());
  }
  std::uint64_t wakeGeneration() const override {
    std::lock_guard lock(mutex_);
    return wake_generation_;
  }
  /// A call whose generation is already stale returns at once and never counts as a sleeper.
  bool sleepUntil(std::int64_t steady_ms, std::uint64_t generation) override {
    std::unique_lock lock(mutex_);
    if (wake_generation_ != generation) return steady_ms_ >= steady_ms;
    ++sleepers_;
    const auto entry = sleeping_.emplace(steady_ms, generation);
    changed_.notify_all();
    changed_.wait(lock, [&] { return steady_ms_ >= steady_ms || wake_generation_ != generation; });
    sleeping_.erase(entry);
    --sleepers_;
    return steady_ms_ >= steady_ms;
  }
  void wakeAll() override {
    std::lock_guard lock(mutex_);
    ++wake_generation_;
    changed_.notify_all();
  }

  /// Moves both clocks forward by `ms` and wakes sleepers whose time has come.
  void advance(std::int64_t ms) {
    std::lock_guard lock(mutex_);
    utc_ms_ += ms;
    steady_ms_ += ms;
    changed_.notify_all();
  }
  /// Moves only the wall clock (forwards or backwards): what NTP or an operator does.
  void jumpWall(std::int64_t ms) {
    std::lock_guard lock(mutex_);
    utc_ms_ += ms;
    changed_.notify_all();
  }
  /// Blocks until at least `count` threads are inside sleepUntil(): lets a test advance time
  /// only once the code under test is waiting for it, without sleeping.
  void waitForSleepers(int count) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return sleepers_ >= count; });
  }
  int sleepers() const {
    std::lock_guard lock(mutex_);
    return sleepers_;
  }
  /// Blocks until at least `count` threads are inside sleepUntil() and still held there: their
  /// time has not come and no wakeAll() released them. Unlike waitForSleepers(), a thread that
  /// advance() has just released but that has not run yet does not count, so after an advance()
  /// a test can wait for the code under test to finish its work and go back to sleep.
  void waitForBlockedSleepers(int count) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return blockedLocked() >= count; });
  }
  int blockedSleepers() const {
    std::lock_guard lock(mutex_);
    return blockedLocked();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::int64_t utc_ms_;
  std::int64_t steady_ms_;
  std::uint64_t wake_generation_ = 0;
  int sleepers_ = 0;
  std::multiset<std::pair<std::int64_t, std::uint64_t>> sleeping_;  ///< (target, generation)

  int blockedLocked() const {
    int blocked = 0;
    for (const auto& [target, generation] : sleeping_) {
      if (target > steady_ms_ && generation == wake_generation_) ++blocked;
    }
    return blocked;
  }
};

}  // namespace gatherd::sdk::testing
