#pragma once
// The Source interface: something the scheduler polls once per window.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>

#include "gatherd/sdk/config.hpp"
#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/status.hpp"

namespace gatherd::sdk {

/// Lets the core cancel a running poll (deadline passed, or shutdown). Thread-safe.
class CancelToken {
 public:
  /// Sources call this to learn whether they should stop early.
  bool cancelled() const {
    std::lock_guard lock(mutex_);
    return cancelled_;
  }
  /// Registers the action that interrupts the poll's blocking I/O (e.g. shutting down its
  /// socket). Replaces any earlier callback; if already cancelled, runs it at once. The
  /// callback runs on the core's watchdog thread and must be quick and not throw. Pass {} to
  /// clear it before the resource it touches goes away: that call waits for a callback that is
  /// running right now, so after it returns the old callback never runs again.
  void onCancel(std::function<void()> callback) {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return !running_; });
    callback_ = std::move(callback);
    if (cancelled_ && callback_) {
      auto run = callback_;
      lock.unlock();
      run();
    }
  }
  /// Core side: marks the poll cancelled and runs the callback once.
  void cancel() {
    std::function<void()> run;
    {
      std::lock_guard lock(mutex_);
      if (cancelled_) return;
      cancelled_ = true;
      run = callback_;
      running_ = static_cast<bool>(run);
    }
    if (!run) return;
    run();
    std::lock_guard lock(mutex_);
    running_ = false;
    idle_.notify_all();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  bool cancelled_ = false;
  bool running_ = false;
  std::function<void()> callback_;
};

/// What the scheduler tells a poll about its window.
struct PollContext {
  std::int64_t window_ms = 0;           ///< scheduled window start, UTC ms
  std::int64_t deadline_steady_ms = 0;  ///< the whole poll must finish by then (Clock::steadyNowMs)
  CancelToken* cancel = nullptr;        ///< never null during poll(); owned by the core
};

/// A source plugin instance. Lifecycle: construct -> init -> start -> poll* -> stop -> destroy.
/// The core wraps every call: an exception that escapes marks the instance failed and is
/// logged and counted, but plugins should not rely on that.
class Source {
 public:
  virtual ~Source() = default;
  /// Validates and keeps the config; `host` outlives this object. Called once, on the main
  /// thread. Fail fast with a message naming the key.
  [[nodiscard]] virtual Status init(const Config& config, Host& host) = 0;
  /// Called once after every instance was initialised.
  [[nodiscard]] virtual Status start() { return Status::success(); }
  /// Polls the upstream for one window and fills `batch`: batch.window's outcome, message,
  /// http_status, counts, gap and auth fields, and batch.records. The core has already filled
  /// the window's source, window_ms and started_ms, and fills finished_ms afterwards.
  /// Called from scheduler worker threads; polls of the same instance may overlap when an
  /// earlier one is slow (strict cadence), so this must be thread-safe. Must return soon after
  /// context.cancel is cancelled.
  virtual void poll(const PollContext& context, Batch& batch) = 0;
  /// Stops background work. Idempotent; no poll() runs during or after it.
  virtual void stop() {}
};

}  // namespace gatherd::sdk
