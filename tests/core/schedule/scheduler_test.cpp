// Over 500 lines: one ManualClock-driven case per scheduling rule (alignment, deadline, parallel
// cap, clock jumps, stop); they share the fixture at the top.
#include "core/schedule/scheduler.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "gatherd/sdk/testing/eventually.hpp"
#include "gatherd/sdk/testing/manual_clock.hpp"

namespace {

using gatherd::core::PollFunction;
using gatherd::core::Scheduler;
using gatherd::core::SchedulerOptions;
using gatherd::sdk::Batch;
using gatherd::sdk::Outcome;
using gatherd::sdk::PollContext;
using gatherd::sdk::WindowResult;
using gatherd::sdk::testing::ManualClock;

// A multiple of 10 s, 5 s, 4 s and 2 s: windows of those intervals start exactly here.
constexpr std::int64_t kBase = 1'772'000'000'000;
// Bound for waiting on other threads; reaching it means the test failed, not that it is slow.
constexpr auto kThreadWait = std::chrono::milliseconds(10'000);
// The scheduler's timer thread sleeps on the clock when idle.
constexpr int kIdleSleepers = 1;

// Collects every result the scheduler emits and checks that callbacks never overlap.
class Collector {
 public:
  gatherd::core::ResultCallback callback() {
    return [this](Batch&& batch) {
      if (inside_.exchange(true)) overlapped_ = true;
      {
        std::lock_guard lock(mutex_);
        results_.push_back(std::move(batch.window));
      }
      inside_ = false;
      changed_.notify_all();
    };
  }
  bool waitFor(std::size_t count, std::chrono::milliseconds bound = kThreadWait) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, bound, [&] { return results_.size() >= count; });
  }
  bool waitForSource(const std::string& source, std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kThreadWait, [&] {
      return std::count_if(results_.begin(), results_.end(), [&](const auto& result) {
               return result.source == source;
             }) >= static_cast<std::ptrdiff_t>(count);
    });
  }
  std::size_t count() const {
    std::lock_guard lock(mutex_);
    return results_.size();
  }
  std::vector<WindowResult> all() const {
    std::lock_guard lock(mutex_);
    return results_;
  }
  std::vector<WindowResult> of(const std::string& source) const {
    std::vector<WindowResult> selected;
    for (const auto& result : all()) {
      if (result.source == source) selected.push_back(result);
    }
    std::sort(selected.begin(), selected.end(),
              [](const auto& left, const auto& right) { return left.window_ms < right.window_ms; });
    return selected;
  }
  std::optional<WindowResult> find(const std::string& source, std::int64_t window_ms) const {
    for (const auto& result : all()) {
      if (result.source == source && result.window_ms == window_ms) return result;
    }
    return std::nullopt;
  }
  bool overlapped() const { return overlapped_; }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<WindowResult> results_;
  std::atomic<bool> inside_{false};
  std::atomic<bool> overlapped_{false};
};

// Every (source, window) has exactly one result.
void requireOneResultPerWindow(const Collector& collector) {
  std::set<std::pair<std::string, std::int64_t>> seen;
  for (const auto& result : collector.all()) {
    INFO(result.source << " window " << result.window_ms);
    REQUIRE(seen.emplace(result.source, result.window_ms).second);
  }
  REQUIRE_FALSE(collector.overlapped());
}

PollFunction okPoll() {
  return [](const PollContext&, Batch& batch) { batch.window.outcome = Outcome::kOk; };
}

// Polls that block: until cancelled (a well-behaved source), or until released (one that
// ignores cancellation).
class Gate {
 public:
  enum class Cancel { kHonour, kIgnore };

  PollFunction poll(Cancel mode) {
    return [this, mode](const PollContext& context, Batch& batch) {
      if (mode == Cancel::kHonour) {
        context.cancel->onCancel([this] {
          std::lock_guard lock(mutex_);
          changed_.notify_all();
        });
      }
      {
        std::unique_lock lock(mutex_);
        ++entered_;
        tokens_.push_back(context.cancel);
        changed_.notify_all();
        changed_.wait(lock, [&] {
          return released_ || (mode == Cancel::kHonour && context.cancel->cancelled());
        });
      }
      if (mode == Cancel::kHonour) context.cancel->onCancel({});
      batch.window.outcome = Outcome::kOk;
      std::lock_guard lock(mutex_);
      ++returned_;
      changed_.notify_all();
    };
  }
  bool waitEntered(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kThreadWait, [&] { return entered_ >= count; });
  }
  bool waitReturned(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kThreadWait, [&] { return returned_ >= count; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }
  bool cancelled(std::size_t index) const {
    std::lock_guard lock(mutex_);
    return index < tokens_.size() && tokens_[index]->cancelled();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int entered_ = 0;
  int returned_ = 0;
  bool released_ = false;
  std::vector<gatherd::sdk::CancelToken*> tokens_;
};

// Moves the clock and waits until the scheduler has acted on it and sleeps again.
void step(ManualClock& clock, std::int64_t ms) {
  clock.advance(ms);
  clock.waitForBlockedSleepers(kIdleSleepers);
}

// A ManualClock that can hold every thread that calls sleepUntil() at the door, between the
// caller's last look at its state and its sleep, until someone calls wakeAll(): the window in
// which a wake used to be lost.
class DoorClock final : public gatherd::sdk::Clock {
 public:
  explicit DoorClock(std::int64_t utc_ms) : inner_(utc_ms) {}
  ManualClock& inner() { return inner_; }

  std::int64_t utcNowMs() const override { return inner_.utcNowMs(); }
  std::int64_t steadyNowMs() const override { return inner_.steadyNowMs(); }
  bool sleepUntil(std::int64_t steady_ms) override {
    door();
    return inner_.sleepUntil(steady_ms);
  }
  std::uint64_t wakeGeneration() const override { return inner_.wakeGeneration(); }
  bool sleepUntil(std::int64_t steady_ms, std::uint64_t generation) override {
    door();
    return inner_.sleepUntil(steady_ms, generation);
  }
  void wakeAll() override {
    inner_.wakeAll();  // the wake lands first; the held threads go to sleep only after it
    std::lock_guard lock(mutex_);
    closed_ = false;
    changed_.notify_all();
  }

  void door() {
    std::unique_lock lock(mutex_);
    if (!closed_) return;
    ++at_door_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !closed_; });
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  bool waitAtDoor(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kThreadWait, [&] { return at_door_ >= count; });
  }

 private:
  ManualClock inner_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool closed_ = false;
  int at_door_ = 0;
};

template <class Predicate>
bool eventually(Predicate predicate) {
  return gatherd::sdk::testing::eventually(predicate, kThreadWait, std::chrono::milliseconds(1));
}

}  // namespace

TEST_CASE("windows start at exact wall-clock multiples, also after a start between boundaries",
          "[scheduler][cadence]") {
  ManualClock clock(kBase + 3'000);
  Collector collector;
  Scheduler scheduler(clock, {}, collector.callback());
  scheduler.setSources({{"a", 10'000, okPoll()}, {"b", 4'000, okPoll()}});
  scheduler.start();
  clock.waitForBlockedSleepers(kIdleSleepers);
  CHECK(collector.count() == 0);  // 3 s past a boundary: nothing is due yet

  // Up to kBase + 25 s; each poll must have started before the clock moves on, since
  // started_ms is read when the poll begins. a: 10 s, 20 s; b: 4, 8, 12, 16, 20, 24 s.
  for (std::int64_t elapsed_ms = 4'000; elapsed_ms <= 25'000; elapsed_ms += 1'000) {
    step(clock, 1'000);
    REQUIRE(collector.waitFor(static_cast<std::size_t>(elapsed_ms / 10'000 + elapsed_ms / 4'000)));
  }
  requireOneResultPerWindow(collector);

  const auto a = collector.of("a");
  REQUIRE(a.size() == 2);
  CHECK(a[0].window_ms == kBase + 10'000);
  CHECK(a[1].window_ms == kBase + 20'000);
  const auto b = collector.of("b");
  REQUIRE(b.size() == 6);
  for (std::size_t index = 0; index < b.size(); ++index) {
    CHECK(b[index].window_ms == kBase + 4'000 * static_cast<std::int64_t>(index + 1));
  }
  for (const auto& result : collector.all()) {
    CHECK(result.outcome == Outcome::kOk);
    CHECK(result.started_ms == result.window_ms);  // started at the boundary, not later
    CHECK(result.finished_ms >= result.started_ms);
    CHECK_FALSE(result.clock_jump);
  }
  const auto stats = scheduler.stats();
  CHECK(stats.windows == 8);
  CHECK(stats.ok == 8);
}

TEST_CASE("a start exactly on a boundary runs that window at once", "[scheduler][cadence]") {
  ManualClock clock(kBase);
  Collector collector;
  Scheduler scheduler(clock, {}, collector.callback());
  scheduler.setSources({{"a", 10'000, okPoll()}});
  scheduler.start();
  REQUIRE(collector.waitFor(1));
  CHECK(collector.all()[0].window_ms == kBase);
  CHECK(collector.all()[0].started_ms == kBase);
}

TEST_CASE("the parallel cap admits max_parallel polls and skips the next window at once",
          "[scheduler][cap]") {
  ManualClock clock(kBase);
  Collector collector;
  Gate gate;
  SchedulerOptions options;
  options.max_parallel = 2;
  Scheduler scheduler(clock, options, collector.callback());
  scheduler.setSources({{"stalled", 10'000, gate.poll(Gate::Cancel::kHonour)}});
  scheduler.start();
  REQUIRE(gate.waitEntered(1));
  step(clock, 10'000);
  REQUIRE(gate.waitEntered(2));
  step(clock, 10'000);

  REQUIRE(collector.waitFor(1));
  const auto skipped = collector.all()[0];
  CHECK(skipped.window_ms == kBase + 20'000);
  CHECK(skipped.outcome == Outcome::kSkipped);
  CHECK(skipped.started_ms == 0);
  CHECK(skipped.finished_ms == kBase + 20'000);
  CHECK_THAT(skipped.message, Catch::Contains("max_parallel = 2"));
  auto stats = scheduler.stats();
  CHECK(stats.in_flight == 2);
  CHECK(stats.max_in_flight == 2);
  CHECK(stats.skipped == 1);

  gate.release();
  REQUIRE(collector.waitFor(3));
  requireOneResultPerWindow(collector);
  CHECK(collector.find("stalled", kBase)->outcome == Outcome::kOk);
  CHECK(collector.find("stalled", kBase + 10'000)->outcome == Outcome::kOk);
  stats = scheduler.stats();
  CHECK(stats.ok == 2);
  CHECK(stats.windows == 3);
}

TEST_CASE("a stalled source cannot take the slots a healthy source needs", "[scheduler][cap]") {
  ManualClock clock(kBase);
  Collector collector;
  Gate gate;
  SchedulerOptions options;
  options.max_parallel = 3;
  Scheduler scheduler(clock, options, collector.callback());
  // "a-stalled" sorts first, so at each boundary it asks for a slot before the healthy one.
  scheduler.setSources(
      {{"a-stalled", 10'000, gate.poll(Gate::Cancel::kHonour)}, {"b-healthy", 10'000, okPoll()}});
  scheduler.start();
  constexpr int kWindows = 6;
  for (int window = 0; window < kWindows; ++window) {
    if (window > 0) step(clock, 10'000);
    // The healthy poll returns at once; wait for its result so the next boundary finds it idle.
    REQUIRE(collector.waitForSource("b-healthy", static_cast<std::size_t>(window + 1)));
    // The worker frees its slot just after reporting; only the stalled polls stay in flight.
    REQUIRE(eventually([&] { return scheduler.stats().in_flight == std::min(window + 1, 2); }));
  }
  REQUIRE(collector.waitFor(
      static_cast<std::size_t>(2 * kWindows - 2)));  // every stalled window but the two in flight

  const auto healthy = collector.of("b-healthy");
  REQUIRE(healthy.size() == kWindows);
  for (const auto& result : healthy) {
    CHECK(result.outcome == Outcome::kOk);
    CHECK(result.started_ms == result.window_ms);
  }
  const auto stalled = collector.of("a-stalled");
  REQUIRE(stalled.size() == kWindows - 2);
  for (const auto& result : stalled) {
    CHECK(result.outcome == Outcome::kSkipped);
    CHECK_THAT(result.message, Catch::Contains("fair share of max_parallel = 3"));
  }
  CHECK(scheduler.stats().max_in_flight == 3);

  gate.release();
  REQUIRE(collector.waitFor(static_cast<std::size_t>(2 * kWindows)));
  requireOneResultPerWindow(collector);
}

TEST_CASE(
    "a poll that blocks until cancelled times out at its deadline and later windows keep "
    "their cadence",
    "[scheduler][deadline]") {
  ManualClock clock(kBase);
  Collector collector;
  Gate gate;
  SchedulerOptions options;
  options.timeout_ms = 25'000;
  options.shutdown_grace_ms = 0;
  Scheduler scheduler(clock, options, collector.callback());
  scheduler.setSources({{"slow", 10'000, gate.poll(Gate::Cancel::kHonour)}});
  scheduler.start();
  REQUIRE(gate.waitEntered(1));
  step(clock, 10'000);
  REQUIRE(gate.waitEntered(2));
  step(clock, 10'000);
  REQUIRE(gate.waitEntered(3));
  CHECK(collector.count() == 0);

  step(clock, 5'000);  // kBase + 25 s: the first poll's deadline
  REQUIRE(collector.waitFor(1));
  auto first = collector.find("slow", kBase);
  REQUIRE(first);
  CHECK(first->outcome == Outcome::kTimeout);
  CHECK_THAT(first->message, Catch::Contains("after 25000 ms"));
  CHECK(first->started_ms == kBase);
  CHECK(first->finished_ms == kBase + 25'000);

  step(clock, 5'000);  // kBase + 30 s: a new window, on time
  REQUIRE(gate.waitEntered(4));
  step(clock, 5'000);  // kBase + 35 s: the second poll's deadline
  REQUIRE(collector.waitFor(2));
  CHECK(collector.find("slow", kBase + 10'000)->outcome == Outcome::kTimeout);

  scheduler.stop();
  REQUIRE(collector.waitFor(4));
  requireOneResultPerWindow(collector);
  for (std::int64_t window : {kBase + 20'000, kBase + 30'000}) {
    const auto result = collector.find("slow", window);
    REQUIRE(result);
    CHECK(result->outcome == Outcome::kAborted);
    CHECK(result->started_ms == window);  // started on time despite the slow earlier polls
  }
  const auto stats = scheduler.stats();
  CHECK(stats.timeouts == 2);
  CHECK(stats.aborted == 2);
  CHECK(stats.windows == 4);
  CHECK(stats.in_flight == 0);
}

TEST_CASE(
    "a poll that ignores cancellation still gets its timeout result, and its late return "
    "is discarded",
    "[scheduler][deadline]") {
  ManualClock clock(kBase);
  Collector collector;
  Gate gate;
  SchedulerOptions options;
  options.timeout_ms = 5'000;
  options.late_result_grace_ms = 1'000;
  Scheduler scheduler(clock, options, collector.callback());
  scheduler.setSources({{"deaf", 10'000, gate.poll(Gate::Cancel::kIgnore)}});
  scheduler.start();
  REQUIRE(gate.waitEntered(1));

  step(clock, 5'000);  // deadline: cancelled, but the poll does not return
  CHECK(gate.cancelled(0));
  CHECK(collector.count() == 0);

  step(clock, 1'000);  // deadline + grace: the result is emitted without the poll
  REQUIRE(collector.waitFor(1));
  const auto result = collector.all()[0];
  CHECK(result.window_ms == kBase);
  CHECK(result.outcome == Outcome::kTimeout);
  CHECK(result.finished_ms == kBase + 6'000);
  CHECK_THAT(result.message, Catch::Contains("after 5000 ms") && Catch::Contains("discarded"));
  auto stats = scheduler.stats();
  CHECK(stats.in_flight == 1);  // the slot stays taken while the poll runs
  CHECK(stats.abandoned == 1);

  gate.release();
  REQUIRE(gate.waitReturned(1));
  REQUIRE(eventually([&] { return scheduler.stats().in_flight == 0; }));
  stats = scheduler.stats();
  CHECK(stats.abandoned == 0);

  step(clock, 4'000);  // the next window runs normally
  REQUIRE(collector.waitFor(2));
  CHECK(collector.find("deaf", kBase + 10'000)->outcome == Outcome::kOk);
  requireOneResultPerWindow(collector);
  CHECK(scheduler.stats().windows == 2);
}

TEST_CASE("exceptions thrown by a poll become transport_error with the exception text",
          "[scheduler]") {
  ManualClock clock(kBase);
  Collector collector;
  Scheduler scheduler(clock, {}, collector.callback());
  scheduler.setSources(
      {{"std", 10'000, [](const PollContext&, Batch&) { throw std::runtime_error("boom"); }},
       {"other", 10'000, [](const PollContext&, Batch&) { throw 42; }}});
  scheduler.start();
  REQUIRE(collector.waitFor(2));
  const auto thrown = collector.find("std", kBase);
  CHECK(thrown->outcome == Outcome::kTransportError);
  CHECK_THAT(thrown->message, Catch::Contains("boom"));
  const auto other = collector.find("other", kBase);
  CHECK(other->outcome == Outcome::kTransportError);
  CHECK_THAT(other->message, Catch::Contains("unknown exception"));
  CHECK(scheduler.stats().failed == 2);
}

TEST_CASE("the source cannot overwrite the window identity the core owns", "[scheduler]") {
  ManualClock clock(kBase);
  Collector collector;
  Scheduler scheduler(clock, {}, collector.callback());
  scheduler.setSources({{"a", 10'000, [](const PollContext& context, Batch& batch) {
                           CHECK(context.window_ms == kBase);
                           CHECK(batch.window.window_ms == kBase);
                           batch.window.source = "forged";
                           batch.window.window_ms = 7;
                           batch.window.records_seen = 20;
                         }}});
  scheduler.start();
  REQUIRE(collector.waitFor(1));
  const auto result = collector.all()[0];
  CHECK(result.source == "a");
  CHECK(result.window_ms == kBase);
  CHECK(result.records_seen == 20);
}

TEST_CASE("wall-clock jumps are recorded and the schedule re-anchors without duplicate windows",
          "[scheduler][clock_jump]") {
  ManualClock clock(kBase);
  Collector collector;
  Scheduler scheduler(clock, {}, collector.callback());
  scheduler.setSources({{"a", 10'000, okPoll()}});
  scheduler.start();
  REQUIRE(collector.waitFor(1));
  clock.waitForBlockedSleepers(kIdleSleepers);
  step(clock, 10'000);
  REQUIRE(collector.waitFor(2));

  SECTION("forward") {
    clock.jumpWall(30'000);
    step(clock, 10'000);  // wall kBase + 50 s, a multiple: due at once
    REQUIRE(collector.waitFor(3));
    auto jumped = collector.find("a", kBase + 50'000);
    REQUIRE(jumped);
    CHECK(jumped->clock_jump);
    CHECK(jumped->started_ms == kBase + 50'000);
    CHECK(scheduler.stats().clock_jumps == 1);

    step(clock, 10'000);
    REQUIRE(collector.waitFor(4));
    CHECK_FALSE(collector.find("a", kBase + 60'000)->clock_jump);

    clock.jumpWall(7'000);
    step(clock, 10'000);  // the old boundary finds the wall at 77 s: re-anchored to 80 s
    CHECK(collector.count() == 4);
    step(clock, 3'000);
    REQUIRE(collector.waitFor(5));
    CHECK(collector.find("a", kBase + 80'000)->clock_jump);
    CHECK(scheduler.stats().clock_jumps == 2);
  }
  SECTION("backward") {
    clock.jumpWall(-25'000);
    step(clock, 10'000);  // wall kBase - 5 s: windows 0 and 10 s already ran
    CHECK(collector.count() == 2);
    CHECK(scheduler.stats().clock_jumps == 1);
    step(clock, 20'000);  // wall kBase + 15 s: still before the next new window
    CHECK(collector.count() == 2);
    step(clock, 5'000);  // wall kBase + 20 s
    REQUIRE(collector.waitFor(3));
    auto resumed = collector.find("a", kBase + 20'000);
    REQUIRE(resumed);
    CHECK(resumed->clock_jump);
    CHECK(resumed->started_ms == kBase + 20'000);
    step(clock, 10'000);
    REQUIRE(collector.waitFor(4));
    CHECK_FALSE(collector.find("a", kBase + 30'000)->clock_jump);
  }
  requireOneResultPerWindow(collector);
  for (const auto& result : collector.all()) CHECK(result.window_ms % 10'000 == 0);
}

TEST_CASE("a poll in flight across a clock jump reports once, and the jump marks the next window",
          "[scheduler][clock_jump]") {
  ManualClock clock(kBase);
  Collector collector;
  Gate gate;
  Scheduler scheduler(clock, {}, collector.callback());
  scheduler.setSources({{"a", 10'000, gate.poll(Gate::Cancel::kHonour)}});
  scheduler.start();
  REQUIRE(gate.waitEntered(1));
  clock.waitForBlockedSleepers(kIdleSleepers);
  clock.jumpWall(30'000);
  step(clock, 10'000);  // wall kBase + 40 s
  REQUIRE(gate.waitEntered(2));
  gate.release();
  REQUIRE(collector.waitFor(2));
  requireOneResultPerWindow(collector);
  const auto before = collector.find("a", kBase);
  REQUIRE(before);
  CHECK(before->outcome == Outcome::kOk);
  CHECK_FALSE(before->clock_jump);
  const auto after = collector.find("a", kBase + 40'000);
  REQUIRE(after);
  CHECK(after->clock_jump);
  CHECK(scheduler.stats().clock_jumps == 1);
}

TEST_CASE("a wall-clock drift below the threshold is no jump, and no window starts early",
          "[scheduler][clock_jump]") {
  ManualClock clock(kBase);
  Collector collector;
  Scheduler scheduler(clock, {}, collector.callback());
  scheduler.setSources({{"a", 10'000, okPoll()}});
  scheduler.start();
  REQUIRE(collector.waitFor(1));
  clock.waitForBlockedSleepers(kIdleSleepers);
  clock.jumpWall(-500);
  step(clock, 10'000);  // steady boundary reached, wall 500 ms short of the window
  CHECK(collector.count() == 1);
  step(clock, 500);
  REQUIRE(collector.waitFor(2));
  const auto result = collector.find("a", kBase + 10'000);
  REQUIRE(result);
  CHECK(result->started_ms == kBase + 10'000);
  CHECK_FALSE(result->clock_jump);
  CHECK(scheduler.stats().clock_jumps == 0);
}

TEST_CASE("stop() waits for in-flight polls, then aborts the rest and starts nothing new",
          "[scheduler][stop]") {
  ManualClock clock(kBase);
  Collector collector;
  Gate stuck;
  Gate finishing;
  SchedulerOptions options;
  options.shutdown_grace_ms = 5'000;
  Scheduler scheduler(clock, options, collector.callback());
  scheduler.setSources({{"stuck", 10'000, stuck.poll(Gate::Cancel::kHonour)},
                        {"finishing", 10'000, finishing.poll(Gate::Cancel::kIgnore)}});
  scheduler.start();
  REQUIRE(stuck.waitEntered(1));
  REQUIRE(finishing.waitEntered(1));
  step(clock, 10'000);
  REQUIRE(stuck.waitEntered(2));
  REQUIRE(finishing.waitEntered(2));

  std::thread stopper([&] { scheduler.stop(); });
  finishing.release();  // returns during the grace period: its results are ordinary
  REQUIRE(collector.waitFor(2));
  // The grace period runs on the manual clock: move it until stop() gives up on "stuck".
  for (int attempt = 0; attempt < 40 && collector.count() < 4; ++attempt) {
    clock.advance(500);
    collector.waitFor(4, std::chrono::milliseconds(20));
  }
  stopper.join();
  REQUIRE(collector.count() == 4);
  for (const auto& result : collector.of("finishing")) CHECK(result.outcome == Outcome::kOk);
  for (const auto& result : collector.of("stuck")) {
    CHECK(result.outcome == Outcome::kAborted);
    CHECK(result.started_ms == result.window_ms);
    CHECK_THAT(result.message, Catch::Contains("grace"));
  }
  REQUIRE(stuck.waitReturned(2));  // they were cancelled

  clock.advance(60'000);  // windows that come due after stop() are not invented
  CHECK(collector.count() == 4);
  requireOneResultPerWindow(collector);
  const auto stats = scheduler.stats();
  CHECK(stats.aborted == 2);
  CHECK(stats.ok == 2);
  CHECK(stats.windows == 4);
  scheduler.stop();  // idempotent
}

TEST_CASE("setSources while running keeps a source's schedule and stops removed ones",
          "[scheduler][reload]") {
  ManualClock clock(kBase + 3'000);
  Collector collector;
  std::atomic<int> version_two_calls{0};
  Gate gate;
  Scheduler scheduler(clock, {}, collector.callback());
  scheduler.setSources(
      {{"a", 10'000, okPoll()}, {"gone", 10'000, gate.poll(Gate::Cancel::kIgnore)}});
  scheduler.start();
  clock.waitForBlockedSleepers(kIdleSleepers);
  step(clock, 7'000);  // kBase + 10 s
  REQUIRE(collector.waitFor(1));
  REQUIRE(gate.waitEntered(1));
  step(clock, 3'000);  // kBase + 13 s

  scheduler.setSources({{"a", 10'000,
                         [&](const PollContext&, Batch& batch) {
                           ++version_two_calls;
                           batch.window.outcome = Outcome::kOk;
                         }},
                        {"b", 4'000, okPoll()}});
  clock.waitForBlockedSleepers(kIdleSleepers);
  CHECK(collector.count() == 1);
  gate.release();  // the removed source's in-flight poll still reports
  REQUIRE(collector.waitFor(2));
  CHECK(collector.find("gone", kBase + 10'000)->outcome == Outcome::kOk);

  // Up to kBase + 25 s: a at 20 s; b at 16, 20, 24 s.
  for (std::int64_t elapsed_ms = 14'000; elapsed_ms <= 25'000; elapsed_ms += 1'000) {
    step(clock, 1'000);
    const std::int64_t b_windows = elapsed_ms >= 16'000 ? (elapsed_ms - 12'000) / 4'000 : 0;
    REQUIRE(collector.waitFor(static_cast<std::size_t>(2 + elapsed_ms / 10'000 - 1 + b_windows)));
  }
  REQUIRE(collector.waitFor(6));
  const auto a = collector.of("a");
  REQUIRE(a.size() == 2);
  CHECK(a[1].window_ms == kBase + 20'000);
  CHECK(version_two_calls == 1);
  const auto b = collector.of("b");
  REQUIRE(b.size() == 3);
  CHECK(b[0].window_ms == kBase + 16'000);
  CHECK(collector.of("gone").size() == 1);
  requireOneResultPerWindow(collector);
}

TEST_CASE("setOptions raises the cap of a running scheduler", "[scheduler][reload]") {
  ManualClock clock(kBase);
  Collector collector;
  Gate gate;
  SchedulerOptions options;
  options.max_parallel = 1;
  Scheduler scheduler(clock, options, collector.callback());
  scheduler.setSources({{"a", 10'000, gate.poll(Gate::Cancel::kHonour)}});
  scheduler.start();
  REQUIRE(gate.waitEntered(1));
  step(clock, 10'000);
  REQUIRE(collector.waitFor(1));
  CHECK(collector.find("a", kBase + 10'000)->outcome == Outcome::kSkipped);

  options.max_parallel = 2;
  scheduler.setOptions(options);
  step(clock, 10'000);
  REQUIRE(gate.waitEntered(2));
  CHECK(scheduler.stats().in_flight == 2);
  gate.release();
  REQUIRE(collector.waitFor(3));
  requireOneResultPerWindow(collector);
}

TEST_CASE("bad sources and options are refused", "[scheduler]") {
  ManualClock clock(kBase);
  Collector collector;
  SchedulerOptions options;
  options.max_parallel = 0;
  CHECK_THROWS_AS(Scheduler(clock, options, collector.callback()), std::invalid_argument);
  Scheduler scheduler(clock, {}, collector.callback());
  CHECK_THROWS_AS(scheduler.setSources({{"a", 0, okPoll()}}), std::invalid_argument);
  CHECK_THROWS_AS(scheduler.setSources({{"a", 10, okPoll()}, {"a", 10, okPoll()}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(scheduler.setSources({{"", 10, okPoll()}}), std::invalid_argument);
  CHECK_THROWS_AS(scheduler.setSources({{"a", 10, PollFunction{}}}), std::invalid_argument);
}

TEST_CASE("a wake that lands between the timer thread's check and its sleep is not lost",
          "[scheduler][clock]") {
  DoorClock clock(kBase + 3'000);
  Collector collector;
  Scheduler scheduler(clock, {}, collector.callback());
  scheduler.setSources({{"a", 10'000, okPoll()}});
  scheduler.start();
  clock.inner().waitForBlockedSleepers(kIdleSleepers);
  clock.close();
  clock.inner().advance(7'000);  // the timer thread starts the window, then stops at the door
  REQUIRE(clock.waitAtDoor(1));
  REQUIRE(collector.waitFor(1));

  // stop() wakes the clock once; the timer thread then sleeps with the generation it read before
  // it looked at the stop flag, so it returns at once instead of sleeping to the next window.
  auto stopped = std::async(std::launch::async, [&] { scheduler.stop(); });
  const bool in_time = stopped.wait_for(kThreadWait) == std::future_status::ready;
  if (!in_time) clock.inner().advance(3'600'000);  // let the test end, failed
  REQUIRE(in_time);
  CHECK(collector.count() == 1);
}

TEST_CASE("worker threads are started only when polls overlap, then kept", "[scheduler][threads]") {
  auto threads = [] {
    const std::filesystem::directory_iterator tasks("/proc/self/task");
    return std::distance(std::filesystem::begin(tasks), std::filesystem::end(tasks));
  };
  // A first thread of the process's own: ThreadSanitizer's runtime starts a background thread
  // of its own with the first pthread_create, which must not count as the scheduler's.
  std::thread([] {}).join();
  const auto before = threads();
  ManualClock clock(kBase);
  Collector collector;
  Gate gate;
  Scheduler scheduler(clock, {}, collector.callback());  // max_parallel 6
  scheduler.setSources({{"a", 10'000, gate.poll(Gate::Cancel::kHonour)}});
  scheduler.start();
  REQUIRE(gate.waitEntered(1));
  CHECK(threads() == before + 2);  // the timer thread, one worker
  step(clock, 10'000);
  REQUIRE(gate.waitEntered(2));
  CHECK(threads() == before + 3);  // a second poll while the first still runs
  gate.release();
  REQUIRE(collector.waitFor(2));
  step(clock, 10'000);
  REQUIRE(collector.waitFor(3));
  CHECK(threads() == before + 3);
  scheduler.stop();
}

TEST_CASE("the heartbeat comes from the timer thread's loop and stops while it is stuck",
          "[scheduler][heartbeat]") {
  ManualClock clock(kBase);
  std::atomic<int> beats{0};
  // The result callback blocks on the first skipped window: the timer thread emits skipped results
  // itself, so that is a stuck scheduler (as when a sink's publish hangs).
  std::mutex mutex;
  std::condition_variable changed;
  bool stuck = false;
  bool unstick = false;
  auto on_result = [&](Batch&& batch) {
    if (batch.window.outcome != Outcome::kSkipped) return;
    std::unique_lock lock(mutex);
    stuck = true;
    changed.notify_all();
    changed.wait(lock, [&] { return unstick; });
  };
  Gate gate;
  SchedulerOptions options;
  options.max_parallel = 1;
  options.timeout_ms = 600'000;
  Scheduler scheduler(clock, options, on_result);
  scheduler.setSources({{"slow", 10'000, gate.poll(Gate::Cancel::kIgnore)}});
  scheduler.setHeartbeat(1'000, [&] { ++beats; });
  scheduler.start();
  REQUIRE(gate.waitEntered(1));
  clock.waitForBlockedSleepers(kIdleSleepers);
  REQUIRE(beats == 1);  // at start
  for (int second = 1; second <= 9; ++second) step(clock, 1'000);
  CHECK(beats == 10);  // one per interval while the timer thread runs, between windows too

  // The next window finds the only slot taken: skipped, and the timer thread hangs in the callback.
  clock.advance(1'000);
  {
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, kThreadWait, [&] { return stuck; }));
  }
  const int before = beats;
  for (int second = 1; second <= 5; ++second) {
    clock.advance(1'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(beats == before);  // no ping from a stuck scheduler: systemd's watchdog fires

  {
    std::lock_guard lock(mutex);
    unstick = true;
    changed.notify_all();
  }
  REQUIRE(eventually([&] { return beats > before; }));
  gate.release();
  scheduler.stop();
}
