#include "core/schedule/system_clock.hpp"

#include <chrono>
#include <future>

#include <catch2/catch.hpp>

#include "gatherd/sdk/testing/manual_clock.hpp"

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

TEST_CASE("SystemClock::sleepUntil with a generation does not miss an earlier wakeAll",
          "[system_clock]") {
  SystemClock clock;
  const auto generation = clock.wakeGeneration();
  clock.wakeAll();  // before the sleep: the sleep must still end at once
  CHECK(clock.wakeGeneration() != generation);
  const auto far = clock.steadyNowMs() + 3'600'000;
  auto sleeper = std::async(std::launch::async, [&] { return clock.sleepUntil(far, generation); });
  REQUIRE(sleeper.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK_FALSE(sleeper.get());

  const auto near = clock.steadyNowMs() + 5;
  CHECK(clock.sleepUntil(near, clock.wakeGeneration()));
  CHECK(clock.steadyNowMs() >= near);
}

TEST_CASE("ManualClock::sleepUntil with a stale generation returns at once", "[system_clock]") {
  gatherd::sdk::testing::ManualClock clock;
  const auto generation = clock.wakeGeneration();
  clock.wakeAll();
  CHECK_FALSE(clock.sleepUntil(clock.steadyNowMs() + 1'000, generation));
  CHECK(clock.sleepers() == 0);
  auto sleeper = std::async(std::launch::async, [&] {
    return clock.sleepUntil(clock.steadyNowMs() + 1'000, clock.wakeGeneration());
  });
  clock.waitForBlockedSleepers(1);
  clock.advance(1'000);
  CHECK(sleeper.get());
}
