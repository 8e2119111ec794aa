#include "core/pipeline/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "core/spool/batch_codec.hpp"
#include "gatherd/sdk/testing/eventually.hpp"
#include "gatherd/sdk/testing/manual_clock.hpp"

namespace {

using gatherd::core::Pipeline;
using gatherd::core::SinkChannelOptions;
using gatherd::sdk::Batch;
using gatherd::sdk::WriteResult;
using gatherd::sdk::testing::ManualClock;

constexpr std::int64_t kBase = 1'772'000'000'000;
// Bound for waiting on other threads; reaching it means the test failed, not that it is slow.
constexpr auto kThreadWait = std::chrono::seconds(10);

std::shared_ptr<const Batch> makeBatch(int index) {
  auto batch = std::make_shared<Batch>();
  batch->window.source = "src";
  batch->window.window_ms = kBase + std::int64_t{index} * 10'000;
  batch->records.resize(static_cast<std::size_t>(index % 3));
  return batch;
}

// Waits, bounded, for a condition no callback announces (the pipeline's own counters).
template <class Predicate>
bool eventually(Predicate predicate) {
  return gatherd::sdk::testing::eventually(predicate, kThreadWait, std::chrono::milliseconds(1));
}

int indexOf(const Batch& batch) {
  return static_cast<int>((batch.window.window_ms - kBase) / 10'000);
}

// A sink whose answers the test scripts. It records every write attempt and every batch it
// accepted, and can be made to block inside write() until released.
class ScriptedSink {
 public:
  using Script = std::function<WriteResult(int index, int attempt)>;

  explicit ScriptedSink(Script script = [](int, int) { return WriteResult::kOk; })
      : script_(std::move(script)) {}

  gatherd::core::SinkWriteFunction write() {
    return [this](const Batch& batch) {
      std::unique_lock lock(mutex_);
      const int index = indexOf(batch);
      attempts_.push_back(index);
      changed_.notify_all();
      changed_.wait(lock, [&] { return !blocked_; });
      const int attempt = static_cast<int>(std::count(attempts_.begin(), attempts_.end(), index));
      const WriteResult result = script_(index, attempt);
      if (result == WriteResult::kOk) accepted_.push_back(index);
      changed_.notify_all();
      return result;
    };
  }
  void block() {
    std::lock_guard lock(mutex_);
    blocked_ = true;
  }
  void release() {
    std::lock_guard lock(mutex_);
    blocked_ = false;
    changed_.notify_all();
  }
  bool waitAttempts(std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kThreadWait, [&] { return attempts_.size() >= count; });
  }
  bool waitAccepted(std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kThreadWait, [&] { return accepted_.size() >= count; });
  }
  std::vector<int> attempts() const {
    std::lock_guard lock(mutex_);
    return attempts_;
  }
  std::vector<int> accepted() const {
    std::lock_guard lock(mutex_);
    return accepted_;
  }

 private:
  Script script_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool blocked_ = false;
  std::vector<int> attempts_;
  std::vector<int> accepted_;
};

struct Event {
  std::string sink;
  std::string message;
  bool warning;
};

class EventLog {
 public:
  gatherd::core::PipelineEvent listener() {
    return [this](const std::string& sink, const std::string& message, bool warning) {
      std::lock_guard lock(mutex_);
      events_.push_back({sink, message, warning});
    };
  }
  std::vector<Event> matching(const std::string& sink, const std::string& text) const {
    std::lock_guard lock(mutex_);
    std::vector<Event> found;
    for (const auto& event : events_) {
      if (event.sink == sink && event.message.find(text) != std::string::npos) {
        found.push_back(event);
      }
    }
    return found;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Event> events_;
};

}  // namespace

TEST_CASE("every sink gets every batch in publish order", "[pipeline]") {
  ManualClock clock(kBase);
  Pipeline pipeline(clock);
  ScriptedSink first;
  ScriptedSink second;
  pipeline.addSink("first", first.write());
  pipeline.addSink("second", second.write());
  CHECK(pipeline.sinkNames() == std::vector<std::string>{"first", "second"});
  pipeline.start();
  for (int index = 0; index < 5; ++index) pipeline.publish(makeBatch(index));

  REQUIRE(first.waitAccepted(5));
  REQUIRE(second.waitAccepted(5));
  const std::vector<int> in_order{0, 1, 2, 3, 4};
  CHECK(first.accepted() == in_order);
  CHECK(second.accepted() == in_order);
  pipeline.stop(1'000);
  for (const auto& name : pipeline.sinkNames()) {
    const auto stats = pipeline.stats(name);
    CHECK(stats.delivered == 5);
    CHECK(stats.queued == 0);
    CHECK(stats.retries == 0);
  }
}

TEST_CASE(
    "a batch the sink asks to retry stays at the head with exponential backoff, and "
    "nothing is lost or reordered",
    "[pipeline][retry]") {
  ManualClock clock(kBase);
  Pipeline pipeline(clock);
  EventLog events;
  pipeline.setEventListener(events.listener());
  // Batch 0 fails twice, then everything is written.
  ScriptedSink sink([](int index, int attempt) {
    return index == 0 && attempt <= 2 ? WriteResult::kRetry : WriteResult::kOk;
  });
  pipeline.addSink("store", sink.write(), SinkChannelOptions{1u << 20, 100, 30'000, {}, {}});
  for (int index = 0; index < 3; ++index) pipeline.publish(makeBatch(index));
  pipeline.start();

  REQUIRE(sink.waitAttempts(1));
  clock.waitForBlockedSleepers(1);  // backing off
  auto stats = pipeline.stats("store");
  CHECK(stats.retries == 1);
  CHECK(stats.queued == 3);
  CHECK(events.matching("store", "retrying").size() == 1);

  clock.advance(99);
  CHECK(sink.attempts().size() == 1);  // the first backoff is 100 ms
  clock.advance(1);
  REQUIRE(sink.waitAttempts(2));
  clock.waitForBlockedSleepers(1);
  clock.advance(199);
  CHECK(sink.attempts().size() == 2);  // then 200 ms
  clock.advance(1);
  REQUIRE(sink.waitAccepted(3));

  CHECK(sink.attempts() == std::vector<int>{0, 0, 0, 1, 2});
  CHECK(sink.accepted() == std::vector<int>{0, 1, 2});
  pipeline.stop(1'000);
  stats = pipeline.stats("store");
  CHECK(stats.delivered == 3);
  CHECK(stats.retries == 2);
  CHECK(stats.dropped == 0);
  CHECK(stats.queued == 0);
  const auto recovered = events.matching("store", "delivered after 2 retries");
  REQUIRE(recovered.size() == 1);
  CHECK_FALSE(recovered[0].warning);
}

TEST_CASE("the backoff stops doubling at retry_max_ms", "[pipeline][retry]") {
  ManualClock clock(kBase);
  Pipeline pipeline(clock);
  ScriptedSink sink(
      [](int, int attempt) { return attempt <= 4 ? WriteResult::kRetry : WriteResult::kOk; });
  pipeline.addSink("store", sink.write(), SinkChannelOptions{1u << 20, 100, 300, {}, {}});
  pipeline.publish(makeBatch(0));
  pipeline.start();
  // Expected pauses after each retry: 100, 200, 300, 300.
  std::size_t attempts = 1;
  for (std::int64_t pause : {100, 200, 300, 300}) {
    REQUIRE(sink.waitAttempts(attempts));
    clock.waitForBlockedSleepers(1);
    clock.advance(pause - 1);
    CHECK(sink.attempts().size() == attempts);
    clock.advance(1);
    ++attempts;
  }
  REQUIRE(sink.waitAccepted(1));
  CHECK(pipeline.stats("store").retries == 4);
}

TEST_CASE("a queue full in bytes refuses new batches for that sink, counted and reported",
          "[pipeline][overflow]") {
  ManualClock clock(kBase);
  Pipeline pipeline(clock);
  EventLog events;
  pipeline.setEventListener(events.listener());
  ScriptedSink slow;
  ScriptedSink fast;
  // Room for batches 0 and 1 (batch 0 inside write() still counts), not for 2 and 3.
  const std::size_t bound = gatherd::core::spool::approximateBytes(*makeBatch(0)) +
                            gatherd::core::spool::approximateBytes(*makeBatch(1));
  pipeline.addSink("slow", slow.write(), SinkChannelOptions{bound, 100, 1'000, {}, {}});
  pipeline.addSink("fast", fast.write(), SinkChannelOptions{bound * 4, 100, 1'000, {}, {}});
  slow.block();
  pipeline.start();
  pipeline.publish(makeBatch(0));
  REQUIRE(slow.waitAttempts(1));  // batch 0 is inside write() and still counts in the queue
  REQUIRE(fast.waitAccepted(1));
  for (int index = 1; index < 4; ++index) {
    pipeline.publish(makeBatch(index));
    REQUIRE(fast.waitAccepted(static_cast<std::size_t>(index + 1)));
  }

  auto stats = pipeline.stats("slow");
  CHECK(stats.overflowed == 2);
  CHECK(stats.queued == 2);
  const auto warnings = events.matching("slow", "queue full (");
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0].warning);
  CHECK(pipeline.stats("fast").overflowed == 0);

  slow.release();
  REQUIRE(slow.waitAccepted(2));
  pipeline.stop(1'000);
  CHECK(slow.accepted() == std::vector<int>{0, 1});
  stats = pipeline.stats("slow");
  CHECK(stats.delivered == 2);
  CHECK(stats.queued == 0);
  CHECK(pipeline.stats("fast").delivered == 4);
}

TEST_CASE("dropped batches are counted and reported, and delivery goes on", "[pipeline][drop]") {
  ManualClock clock(kBase);
  Pipeline pipeline(clock);
  EventLog events;
  pipeline.setEventListener(events.listener());
  ScriptedSink sink([](int index, int) {
    if (index == 3) throw std::runtime_error("disk on fire");
    return index == 1 ? WriteResult::kDrop : WriteResult::kOk;
  });
  pipeline.addSink("store", sink.write());
  pipeline.start();
  for (int index = 0; index < 5; ++index) pipeline.publish(makeBatch(index));
  REQUIRE(sink.waitAttempts(5));
  REQUIRE(sink.waitAccepted(3));
  pipeline.stop(1'000);

  CHECK(sink.accepted() == std::vector<int>{0, 2, 4});
  const auto stats = pipeline.stats("store");
  CHECK(stats.delivered == 3);
  CHECK(stats.dropped == 2);
  CHECK(stats.retries == 0);
  const auto dropped = events.matching("store", "dropped");
  REQUIRE(dropped.size() == 2);
  CHECK(dropped[0].warning);
  CHECK_THAT(dropped[0].message, Catch::Contains("source 'src'"));
  CHECK_THAT(dropped[1].message, Catch::Contains("disk on fire"));
}

TEST_CASE("a stuck sink does not delay another sink", "[pipeline]") {
  ManualClock clock(kBase);
  Pipeline pipeline(clock);
  ScriptedSink stuck;
  ScriptedSink healthy;
  pipeline.addSink("stuck", stuck.write());
  pipeline.addSink("healthy", healthy.write());
  stuck.block();
  pipeline.start();
  for (int index = 0; index < 5; ++index) pipeline.publish(makeBatch(index));

  REQUIRE(healthy.waitAccepted(5));
  REQUIRE(stuck.waitAttempts(1));
  CHECK(stuck.accepted().empty());
  CHECK(pipeline.stats("stuck").queued == 5);
  // The sink has the batch before the pipeline counts it delivered.
  CHECK(eventually([&] { return pipeline.stats("healthy").delivered == 5; }));

  stuck.release();
  REQUIRE(stuck.waitAccepted(5));
  pipeline.stop(1'000);
  CHECK(stuck.accepted() == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("stop() drains what is queued", "[pipeline][stop]") {
  ManualClock clock(kBase);
  Pipeline pipeline(clock);
  ScriptedSink sink;
  pipeline.addSink("store", sink.write());
  for (int index = 0; index < 20; ++index) pipeline.publish(makeBatch(index));
  pipeline.start();
  pipeline.stop(5'000);  // the manual clock does not move: only an empty queue ends the drain
  CHECK(sink.accepted().size() == 20);
  const auto stats = pipeline.stats("store");
  CHECK(stats.delivered == 20);
  CHECK(stats.queued == 0);
}

TEST_CASE("stop() gives up after the drain time and reports what is left", "[pipeline][stop]") {
  ManualClock clock(kBase);
  Pipeline pipeline(clock);
  EventLog events;
  pipeline.setEventListener(events.listener());
  ScriptedSink sink([](int, int) { return WriteResult::kRetry; });
  pipeline.addSink("locked", sink.write(), SinkChannelOptions{1u << 20, 100, 1'000, {}, {}});
  for (int index = 0; index < 3; ++index) pipeline.publish(makeBatch(index));
  pipeline.start();
  REQUIRE(sink.waitAttempts(1));
  clock.waitForBlockedSleepers(1);

  auto stopped = std::async(std::launch::async, [&] { pipeline.stop(500); });
  // The drain time runs on the manual clock: move it until stop() gives up.
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (stopped.wait_for(std::chrono::milliseconds(20)) == std::future_status::ready) break;
    clock.advance(100);
  }
  REQUIRE(stopped.wait_for(kThreadWait) == std::future_status::ready);
  const auto stats = pipeline.stats("locked");
  CHECK(stats.queued == 3);
  CHECK(stats.delivered == 0);
  CHECK(stats.retries >= 1);
  const auto left = events.matching("locked", "stopped with 3 batches undelivered");
  REQUIRE(left.size() == 1);
  CHECK(left[0].warning);

  const auto attempts = sink.attempts().size();
  pipeline.publish(makeBatch(7));  // after stop(): refused, never silently
  CHECK(pipeline.stats("locked").dropped == 1);
  CHECK(events.matching("locked", "pipeline stopped").size() == 1);
  clock.advance(10'000);
  CHECK(sink.attempts().size() == attempts);  // nothing runs after stop()
}

TEST_CASE("bad sink definitions are refused", "[pipeline]") {
  ManualClock clock(kBase);
  Pipeline pipeline(clock);
  ScriptedSink sink;
  CHECK_THROWS_AS(pipeline.addSink("", sink.write()), std::invalid_argument);
  CHECK_THROWS_AS(pipeline.addSink("a", {}), std::invalid_argument);
  CHECK_THROWS_AS(pipeline.addSink("a", sink.write(), SinkChannelOptions{0, 100, 1'000, {}, {}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(
      pipeline.addSink("a", sink.write(), SinkChannelOptions{1u << 20, 500, 100, {}, {}}),
      std::invalid_argument);
  pipeline.addSink("a", sink.write());
  CHECK_THROWS_AS(pipeline.addSink("a", sink.write()), std::invalid_argument);
  CHECK_THROWS_AS(pipeline.stats("missing"), std::out_of_range);
  pipeline.start();
  CHECK_THROWS_AS(pipeline.addSink("b", sink.write()), std::logic_error);
}
