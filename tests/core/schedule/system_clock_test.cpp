#include "core/schedule/system_clock.hpp"

#include <chrono>
#include <future>

#include <catch2/catch.hpp>

using gatherd::core::SystemClock;

TEST_CASE("SystemClock reads the real wall and monotonic clocks", "[system_clock]") {
  SystemClock clock;
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  CHECK(std::llabs(clock.utcNowMs() - wall) < 1'000);
  const auto first = clock.steadyNowMs();
  CHECK(clock.steadyNowMs() >= first);
}

TEST_CASE("SystemClock::sleepUntil returns true once the time is reached", "[system_clock]") {
  SystemClock clock;
  const auto target = clock.steadyNowMs() + 5;
  CHECK(clock.sleepUntil(target));
  CHECK(clock.steadyNowMs() >= target);
  CHECK(clock.sleepUntil(target - 1'000));  // already past: returns at once
}

TEST_CASE("SystemClock::wakeAll releases a sleeper before its time", "[system_clock]") {
  SystemClock clock;
  const auto far = clock.steadyNowMs() + 3'600'000;
  auto sleeper = std::async(std::launch::async, [&] { return clock.sleepUntil(far); });
  // The wake may land before the sleeper is inside sleepUntil(); repeat until it is released.
  std::future_status status = std::future_status::timeout;
  for (int attempt = 0; attempt < 500 && status != std::future_status::ready; ++attempt) {
    clock.wakeAll();
    status = sleeper.wait_for(std::chrono::milliseconds(10));
  }
  REQUIRE(status == std::future_status::ready);
  CHECK_FALSE(sleeper.get());
}
