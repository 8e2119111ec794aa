#pragma once
// The one implementation in the sdk's contract: the token through which the core cancels a
// running poll. Kept here, apart from the interface headers, because both sides run its code
// (the core calls cancel(), a source calls cancelled() and onCancel()); its layout is part of the
// ABI, so sdk/abi.lock covers this folder too.

#include <condition_variable>
#include <functional>
#include <mutex>
#include <utility>

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

}  // namespace gatherd::sdk
