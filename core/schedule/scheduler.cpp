// Over 500 lines: the window loop, deadlines, the parallel cap and clock-jump handling share one
// lock and one timer queue.
#include "core/schedule/scheduler.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include "core/observe/thread_name.hpp"

namespace gatherd::core {
namespace {

// With no source to wait for, the timer thread still wakes now and then; setSources() pokes it
// anyway.
constexpr std::int64_t kIdleTimerSleepMs = 60'000;
// After stop() cancelled what was left, how long it waits for those polls to return before
// leaving their worker threads to the destructor.
constexpr auto kCancelledPollWait = std::chrono::seconds(1);

std::int64_t ceilMultiple(std::int64_t value, std::int64_t step) {
  std::int64_t quotient = value / step;
  if (quotient * step < value) ++quotient;
  return quotient * step;
}

struct SourceSlot {
  std::string name;
  std::int64_t interval_ms = 0;
  std::shared_ptr<const PollFunction> poll;
  bool anchored = false;
  std::int64_t next_window_ms = 0;
  std::int64_t next_steady_ms = 0;
  std::optional<std::int64_t> last_window_ms;
  bool clock_jump_pending = false;
};

// One admitted window. Shared by the in-flight list, the work queue and the worker running it;
// the flags are guarded by the scheduler's mutex, the batch belongs to the worker until the
// poll returned.
struct Poll {
  std::string source;
  std::int64_t window_ms = 0;
  std::shared_ptr<const PollFunction> function;
  std::int64_t timeout_ms = 0;
  std::int64_t deadline_steady_ms = 0;
  std::int64_t started_ms = 0;
  bool clock_jump = false;
  sdk::Batch batch;
  sdk::CancelToken cancel;
  sdk::PollContext context;
  bool started = false;
  bool returned = false;
  bool timed_out = false;
  bool emitted = false;  // its one result is decided (emitted or being emitted)
};

void validate(const SchedulerOptions& options) {
  if (options.max_parallel < 1) {
    throw std::invalid_argument("scheduler: max_parallel must be at least 1");
  }
  if (options.timeout_ms < 1) {
    throw std::invalid_argument("scheduler: timeout_ms must be positive");
  }
}

}  // namespace

class Scheduler::Impl {
 public:
  Impl(sdk::Clock& clock, SchedulerOptions options, ResultCallback on_result)
      : clock_(clock), on_result_(std::move(on_result)), options_(options) {
    validate(options_);
  }

  ~Impl() {
    stop();
    std::vector<std::thread> remaining;
    {
      std::lock_guard lock(mutex_);
      remaining = std::move(workers_);
    }
    for (auto& worker : remaining) {
      if (worker.joinable()) worker.join();
    }
  }

  void setSources(std::vector<ScheduledSource> sources) {
    std::set<std::string> names;
    for (const auto& source : sources) {
      if (source.name.empty()) throw std::invalid_argument("scheduler: a source has no name");
      if (source.interval_ms < 1) {
        throw std::invalid_argument("scheduler: source '" + source.name +
                                    "' needs a positive interval_ms");
      }
      if (!source.poll) {
        throw std::invalid_argument("scheduler: source '" + source.name + "' has no poll function");
      }
      if (!names.insert(source.name).second) {
        throw std::invalid_argument("scheduler: source '" + source.name + "' is listed twice");
      }
    }
    std::map<std::string, SourceSlot> replacement;
    std::unique_lock lock(mutex_);
    for (auto& source : sources) {
      SourceSlot slot;
      if (auto existing = sources_.find(source.name); existing != sources_.end()) {
        slot = std::move(existing->second);
        if (slot.interval_ms != source.interval_ms) slot.anchored = false;
      }
      slot.name = source.name;
      slot.interval_ms = source.interval_ms;
      slot.poll = std::make_shared<const PollFunction>(std::move(source.poll));
      replacement.emplace(source.name, std::move(slot));
    }
    sources_ = std::move(replacement);
    if (started_ && !stopping_) wakeTimer();
  }

  void setOptions(SchedulerOptions options) {
    validate(options);
    std::unique_lock lock(mutex_);
    options_ = options;
    if (started_ && !stopping_) wakeTimer();
  }

  void setHeartbeat(std::int64_t interval_ms, std::function<void()> heartbeat) {
    std::lock_guard lock(mutex_);
    heartbeat_interval_ms_ = heartbeat ? interval_ms : 0;
    heartbeat_ = std::move(heartbeat);
  }

  void start() {
    std::lock_guard lock(mutex_);
    if (started_) return;
    started_ = true;
    timer_ = std::thread([this] { timerLoop(); });
  }

  void pollNow() {
    std::vector<sdk::Batch> results;
    {
      std::lock_guard lock(mutex_);
      if (!started_ || stopping_) throw std::logic_error("scheduler: pollNow() before start()");
      const std::int64_t utc = clock_.utcNowMs();
      const std::int64_t steady = clock_.steadyNowMs();
      for (auto& [name, source] : sources_) {
        source.next_window_ms = utc;
        runWindow(source, utc, steady, results);
        source.last_window_ms = utc;
      }
      work_ready_.notify_all();
      wakeTimer();  // it watches the new deadlines
    }
    emitAll(results);
  }

  void stop() {
    std::unique_lock lock(mutex_);
    if (!started_ || stopping_) return;
    stopping_ = true;
    grace_deadline_ms_ =
        clock_.steadyNowMs() + std::max<std::int64_t>(options_.shutdown_grace_ms, 0);
    wakeTimer();  // the timer thread admits no window from now on

    state_changed_.wait(lock, [&] { return grace_expired_ || undecidedPolls() == 0; });

    std::vector<std::shared_ptr<Poll>> to_cancel;
    std::vector<sdk::Batch> results;
    const std::int64_t utc = clock_.utcNowMs();
    for (auto& poll : in_flight_) {
      if (poll->emitted) continue;
      poll->emitted = true;
      to_cancel.push_back(poll);
      results.push_back(abortedResult(*poll, utc));
    }
    timer_exit_ = true;
    workers_exit_ = true;
    work_ready_.notify_all();
    wakeTimer();
    lock.unlock();

    for (auto& poll : to_cancel) poll->cancel.cancel();
    emitAll(results);
    if (timer_.joinable()) timer_.join();

    lock.lock();
    state_changed_.wait_for(lock, kCancelledPollWait, [&] {
      return std::all_of(worker_done_.begin(), worker_done_.end(), [](bool done) { return done; });
    });
    std::vector<std::thread> finished;
    for (std::size_t index = 0; index < workers_.size(); ++index) {
      if (worker_done_[index] && workers_[index].joinable()) {
        finished.push_back(std::move(workers_[index]));
      }
    }
    lock.unlock();
    for (auto& worker : finished) worker.join();
  }

  Stats stats() const {
    std::lock_guard lock(mutex_);
    Stats stats = stats_;
    stats.in_flight = in_flight_total_;
    stats.abandoned =
        static_cast<int>(std::count_if(in_flight_.begin(), in_flight_.end(), [](const auto& poll) {
          return poll->emitted && poll->started && !poll->returned;
        }));
    stats.callback_errors = callback_errors_.load();
    return stats;
  }

 private:
  // Caller holds mutex_ and has just changed what the timer thread looks at. It reads the
  // clock's wake generation under mutex_ before it looks, and sleeps with it, so this wake
  // reaches it even when it is between its check and its sleep.
  void wakeTimer() { clock_.wakeAll(); }

  // Caller holds mutex_. Workers are started when a queued poll finds none idle, up to
  // max_parallel, and then kept: a source whose polls do not overlap needs one thread, not a
  // pool of max_parallel idle ones.
  void growWorkers() {
    while (queue_.size() > idle_workers_ &&
           workers_.size() < static_cast<std::size_t>(options_.max_parallel)) {
      const std::size_t index = workers_.size();
      worker_done_.push_back(false);
      workers_.emplace_back([this, index] { workerLoop(index); });
      ++idle_workers_;  // it counts as idle until it takes a poll
    }
  }

  // The one timer thread: admits due windows (until stop), pings the heartbeat, enforces poll
  // deadlines and the stop grace, and sleeps until the earliest of them. One thread for all
  // of it keeps an idle collector at one wake-up per due event; a callback that hangs stops
  // the heartbeat, so systemd's watchdog sees a stuck scheduler.
  void timerLoop() {
    nameThisThread("sched-timer");
    std::unique_lock lock(mutex_);
    while (true) {
      const std::uint64_t generation = clock_.wakeGeneration();
      if (timer_exit_) break;
      const std::int64_t steady = clock_.steadyNowMs();
      std::vector<sdk::Batch> results;
      std::vector<std::shared_ptr<Poll>> to_cancel;
      std::int64_t wake = steady + kIdleTimerSleepMs;
      bool admitted = false;
      bool beat = false;
      if (!stopping_) {
        const std::int64_t utc = clock_.utcNowMs();
        detectClockJump(utc, steady);
        for (auto& [name, source] : sources_) {
          if (!options_.cadence) break;
          if (!source.anchored) anchor(source, utc, steady);
          // A window is due when the monotonic schedule says so and the wall clock agrees
          // (they differ by less than the jump threshold here), so started_ms is never before
          // window_ms.
          while (source.next_steady_ms <= steady && source.next_window_ms <= utc) {
            admitted = runWindow(source, utc, steady, results) || admitted;
            source.last_window_ms = source.next_window_ms;
            source.next_window_ms += source.interval_ms;
            source.next_steady_ms += source.interval_ms;
          }
          std::int64_t due = source.next_steady_ms;
          if (due <= steady) due = steady + (source.next_window_ms - utc);
          wake = std::min(wake, due);
        }
        beat = heartbeat_interval_ms_ > 0 && next_heartbeat_ms_ <= steady;
        if (beat) next_heartbeat_ms_ = steady + heartbeat_interval_ms_;
        if (heartbeat_interval_ms_ > 0) wake = std::min(wake, next_heartbeat_ms_);
      }
      wake = std::min(wake, enforceDeadlines(steady, to_cancel, results));
      if (admitted) work_ready_.notify_all();
      lock.unlock();
      for (auto& poll : to_cancel) poll->cancel.cancel();
      emitAll(results);
      if (beat) heartbeat_();
      clock_.sleepUntil(wake, generation);
      lock.lock();
    }
  }

  // Caller holds mutex_. Compared with the offset at the last anchoring, not at the last
  // tick: a slow drift (NTP slewing) that adds up past the threshold also re-anchors the
  // schedule to the wall clock, and is counted as a jump.
  void detectClockJump(std::int64_t utc, std::int64_t steady) {
    const std::int64_t offset = utc - steady;
    if (!offset_known_) {
      offset_known_ = true;
      anchor_offset_ms_ = offset;
      return;
    }
    if (std::llabs(offset - anchor_offset_ms_) <= options_.clock_jump_threshold_ms) return;
    anchor_offset_ms_ = offset;
    ++stats_.clock_jumps;
    for (auto& [name, source] : sources_) {
      if (!source.anchored) continue;
      anchor(source, utc, steady);
      source.clock_jump_pending = true;
    }
  }

  // Caller holds mutex_. The next window is the next wall-clock multiple of the interval, but
  // never one this source already had (a backward jump waits until the wall clock passes it).
  static void anchor(SourceSlot& source, std::int64_t utc, std::int64_t steady) {
    std::int64_t window = ceilMultiple(utc, source.interval_ms);
    if (source.last_window_ms && window <= *source.last_window_ms) {
      window = ceilMultiple(*source.last_window_ms + 1, source.interval_ms);
    }
    source.next_window_ms = window;
    source.next_steady_ms = steady + (window - utc);
    source.anchored = true;
  }

  int inFlightOf(const std::string& name) const {
    auto found = in_flight_by_source_.find(name);
    return found == in_flight_by_source_.end() ? 0 : found->second;
  }

  // Caller holds mutex_. Admits the window or records it skipped. A source's first poll
  // takes any free slot; an additional (overlapping) poll must leave one free slot for every
  // other source that has nothing in flight, so a stalled source cannot starve the others.
  bool runWindow(SourceSlot& source, std::int64_t utc, std::int64_t steady,
                 std::vector<sdk::Batch>& results) {
    const int cap = options_.max_parallel;
    const int own = inFlightOf(source.name);
    const int free_slots = cap - in_flight_total_;
    int idle_others = 0;
    for (const auto& [name, other] : sources_) {
      if (name != source.name && inFlightOf(name) == 0) ++idle_others;
    }
    const bool clock_jump = std::exchange(source.clock_jump_pending, false);
    if (free_slots >= 1 && (own == 0 || free_slots - 1 >= idle_others)) {
      auto poll = std::make_shared<Poll>();
      poll->source = source.name;
      poll->window_ms = source.next_window_ms;
      poll->function = source.poll;
      poll->timeout_ms = options_.timeout_ms;
      poll->deadline_steady_ms = steady + options_.timeout_ms;
      poll->clock_jump = clock_jump;
      poll->context.window_ms = poll->window_ms;
      poll->context.deadline_steady_ms = poll->deadline_steady_ms;
      poll->context.cancel = &poll->cancel;
      in_flight_.push_back(poll);
      queue_.push_back(std::move(poll));
      growWorkers();
      ++in_flight_total_;
      ++in_flight_by_source_[source.name];
      stats_.max_in_flight = std::max(stats_.max_in_flight, in_flight_total_);
      return true;
    }
    sdk::Batch batch;
    batch.window.source = source.name;
    batch.window.window_ms = source.next_window_ms;
    batch.window.finished_ms = utc;
    batch.window.outcome = sdk::Outcome::kSkipped;
    batch.window.clock_jump = clock_jump;
    if (free_slots < 1) {
      batch.window.message = "not admitted: all " + std::to_string(cap) +
                             " poll slots are in flight (max_parallel = " + std::to_string(cap) +
                             ")";
    } else {
      batch.window.message =
          "not admitted: this source already has " + std::to_string(own) +
          " polls in flight and the " + std::to_string(free_slots) +
          " free slots are kept for other sources (fair share of max_parallel = " +
          std::to_string(cap) + ")";
    }
    countOutcome(sdk::Outcome::kSkipped);
    results.push_back(std::move(batch));
    return false;
  }

  // Caller holds mutex_. Polls past their deadline are marked timed out and handed back to be
  // cancelled; those still running past the late-result grace get their timeout result now.
  // During stop, marks the grace expired when it is. Returns when it must look again.
  std::int64_t enforceDeadlines(std::int64_t steady, std::vector<std::shared_ptr<Poll>>& to_cancel,
                                std::vector<sdk::Batch>& results) {
    // A poll admitted later has a later deadline than now + timeout, so this bound is never
    // late.
    std::int64_t wake = steady + options_.timeout_ms;
    const std::size_t emitted_before = results.size();
    for (auto& poll : in_flight_) {
      if (poll->emitted || poll->returned) continue;
      if (!poll->timed_out && poll->deadline_steady_ms <= steady) {
        poll->timed_out = true;
        to_cancel.push_back(poll);
      }
      if (poll->timed_out) {
        const std::int64_t give_up =
            poll->deadline_steady_ms + std::max<std::int64_t>(options_.late_result_grace_ms, 0);
        if (give_up <= steady) {
          poll->emitted = true;
          results.push_back(timeoutResult(*poll, /*abandoned=*/true));
        } else {
          wake = std::min(wake, give_up);
        }
      } else {
        wake = std::min(wake, poll->deadline_steady_ms);
      }
    }
    if (results.size() > emitted_before) state_changed_.notify_all();  // stop() may wait for these
    if (stopping_ && !grace_expired_) {
      if (grace_deadline_ms_ <= steady) {
        grace_expired_ = true;
        state_changed_.notify_all();
      } else {
        wake = std::min(wake, grace_deadline_ms_);
      }
    }
    return wake;
  }

  void workerLoop(std::size_t index) {
    nameThisThread("poll-" + std::to_string(index));
    std::unique_lock lock(mutex_);
    while (true) {
      work_ready_.wait(lock, [&] { return workers_exit_ || !queue_.empty(); });
      --idle_workers_;
      if (queue_.empty()) break;
      std::shared_ptr<Poll> poll = std::move(queue_.front());
      queue_.pop_front();
      if (poll->emitted) {  // aborted at shutdown before it started
        poll->returned = true;
        releaseSlot(poll);
        ++idle_workers_;
        state_changed_.notify_all();
        continue;
      }
      poll->started = true;
      poll->started_ms = clock_.utcNowMs();
      poll->batch.window.source = poll->source;
      poll->batch.window.window_ms = poll->window_ms;
      poll->batch.window.started_ms = poll->started_ms;
      lock.unlock();

      std::optional<std::string> error;
      try {
        (*poll->function)(poll->context, poll->batch);
      } catch (const std::exception& exception) {
        error = exception.what();
      } catch (...) {
        error = "unknown exception";
      }

      lock.lock();
      poll->returned = true;
      std::optional<sdk::Batch> result;
      if (!poll->emitted) {
        poll->emitted = true;
        result = finishedResult(*poll, error);
      }
      if (result) {
        lock.unlock();
        emit(std::move(*result));
        lock.lock();
      }
      // The slot is freed only now, while this worker goes straight back to the queue: a
      // window admitted into a free slot always finds an idle worker, instead of waiting for
      // one that is still busy reporting (measured: up to 90 ms of start lag under load).
      releaseSlot(poll);
      ++idle_workers_;
      state_changed_.notify_all();
    }
    worker_done_[index] = true;
    state_changed_.notify_all();
  }

  // Caller holds mutex_.
  void releaseSlot(const std::shared_ptr<Poll>& poll) {
    --in_flight_total_;
    if (auto found = in_flight_by_source_.find(poll->source); found != in_flight_by_source_.end()) {
      if (--found->second <= 0) in_flight_by_source_.erase(found);
    }
    in_flight_.remove(poll);
  }

  // Caller holds mutex_; the poll has returned, so its batch is ours.
  sdk::Batch finishedResult(Poll& poll, const std::optional<std::string>& error) {
    sdk::Batch batch = std::move(poll.batch);
    auto& window = batch.window;
    // The core owns identity and timings, whatever the source wrote there.
    window.source = poll.source;
    window.window_ms = poll.window_ms;
    window.started_ms = poll.started_ms;
    window.finished_ms = clock_.utcNowMs();
    window.clock_jump = poll.clock_jump;
    if (poll.timed_out) {
      // Records the source managed to emit are kept: it may already count them as delivered.
      window.outcome = sdk::Outcome::kTimeout;
      window.message = "poll timed out after " + std::to_string(poll.timeout_ms) + " ms";
    } else if (error) {
      window.outcome = sdk::Outcome::kTransportError;
      window.message = "poll threw an exception: " + *error;
    }
    countOutcome(window.outcome);
    return batch;
  }

  // Caller holds mutex_; the poll may still be running, so the result is a fresh batch.
  sdk::Batch timeoutResult(const Poll& poll, bool abandoned) {
    sdk::Batch batch;
    batch.window.source = poll.source;
    batch.window.window_ms = poll.window_ms;
    batch.window.started_ms = poll.started_ms;
    batch.window.finished_ms = clock_.utcNowMs();
    batch.window.outcome = sdk::Outcome::kTimeout;
    batch.window.clock_jump = poll.clock_jump;
    batch.window.message = "poll timed out after " + std::to_string(poll.timeout_ms) + " ms";
    if (abandoned) {
      batch.window.message += "; it did not return within " +
                              std::to_string(options_.late_result_grace_ms) +
                              " ms of being cancelled, so anything it returns later is discarded";
    }
    countOutcome(sdk::Outcome::kTimeout);
    return batch;
  }

  // Caller holds mutex_.
  sdk::Batch abortedResult(const Poll& poll, std::int64_t utc) {
    sdk::Batch batch;
    batch.window.source = poll.source;
    batch.window.window_ms = poll.window_ms;
    batch.window.started_ms = poll.started ? poll.started_ms : 0;
    batch.window.finished_ms = utc;
    batch.window.outcome = sdk::Outcome::kAborted;
    batch.window.clock_jump = poll.clock_jump;
    batch.window.message = poll.started
                               ? "aborted at shutdown: the poll was still running after the " +
                                     std::to_string(options_.shutdown_grace_ms) + " ms grace period"
                               : "aborted at shutdown before the poll started";
    countOutcome(sdk::Outcome::kAborted);
    return batch;
  }

  // Caller holds mutex_.
  void countOutcome(sdk::Outcome outcome) {
    ++stats_.windows;
    switch (outcome) {
      case sdk::Outcome::kOk: ++stats_.ok; break;
      case sdk::Outcome::kSkipped: ++stats_.skipped; break;
      case sdk::Outcome::kTimeout: ++stats_.timeouts; break;
      case sdk::Outcome::kAborted: ++stats_.aborted; break;
      default: ++stats_.failed; break;
    }
  }

  // Caller holds mutex_.
  std::size_t undecidedPolls() const {
    return static_cast<std::size_t>(std::count_if(in_flight_.begin(), in_flight_.end(),
                                                  [](const auto& poll) { return !poll->emitted; }));
  }

  void emitAll(std::vector<sdk::Batch>& results) {
    for (auto& result : results) emit(std::move(result));
  }

  // Never called with mutex_ held.
  void emit(sdk::Batch&& result) {
    std::lock_guard lock(emit_mutex_);
    try {
      on_result_(std::move(result));
    } catch (...) {
      ++callback_errors_;
    }
  }

  sdk::Clock& clock_;
  ResultCallback on_result_;
  std::mutex emit_mutex_;
  std::atomic<std::int64_t> callback_errors_{0};

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable state_changed_;
  SchedulerOptions options_;
  std::map<std::string, SourceSlot> sources_;
  std::map<std::string, int> in_flight_by_source_;
  std::list<std::shared_ptr<Poll>> in_flight_;  // admitted and not yet returned
  std::deque<std::shared_ptr<Poll>> queue_;     // admitted, waiting for a worker
  int in_flight_total_ = 0;
  Stats stats_;

  bool offset_known_ = false;
  std::int64_t anchor_offset_ms_ = 0;

  bool started_ = false;
  bool stopping_ = false;
  bool grace_expired_ = false;
  bool timer_exit_ = false;
  bool workers_exit_ = false;
  std::int64_t grace_deadline_ms_ = 0;

  std::int64_t heartbeat_interval_ms_ = 0;
  std::int64_t next_heartbeat_ms_ = 0;
  std::function<void()> heartbeat_;  // set before start(), called by the timer thread only

  std::thread timer_;
  std::vector<std::thread> workers_;
  std::vector<bool> worker_done_;
  std::size_t idle_workers_ = 0;  // started workers waiting for (or about to wait for) a poll
};

Scheduler::Scheduler(sdk::Clock& clock, SchedulerOptions options, ResultCallback on_result)
    : impl_(std::make_unique<Impl>(clock, options, std::move(on_result))) {}

Scheduler::~Scheduler() = default;

void Scheduler::setSources(std::vector<ScheduledSource> sources) {
  impl_->setSources(std::move(sources));
}

void Scheduler::setOptions(SchedulerOptions options) {
  impl_->setOptions(options);
}

void Scheduler::setHeartbeat(std::int64_t interval_ms, std::function<void()> heartbeat) {
  impl_->setHeartbeat(interval_ms, std::move(heartbeat));
}

void Scheduler::start() {
  impl_->start();
}

void Scheduler::pollNow() {
  impl_->pollNow();
}

void Scheduler::stop() {
  impl_->stop();
}

Scheduler::Stats Scheduler::stats() const {
  return impl_->stats();
}

}  // namespace gatherd::core
