#include "core/pipeline/pipeline.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "json/time_format.hpp"

namespace gatherd::core {
namespace {

// stop() waits on a condition variable and re-reads the (possibly manual) clock this often.
constexpr auto kDrainCheck = std::chrono::milliseconds(10);
// After the drain time, how long stop() gives a delivery thread that is not inside write()
// to notice and exit.
constexpr auto kExitWait = std::chrono::seconds(1);

struct Event {
  std::string message;
  bool warning = true;
};

struct Channel {
  std::string name;
  SinkWriteFunction write;
  SinkChannelOptions options;

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::shared_ptr<const sdk::Batch>> queue;  // the head is the one being written
  Pipeline::SinkStats stats;
  bool stopping = false;
  std::int64_t drain_deadline_ms = 0;
  bool writing = false;
  bool finished = false;
  std::thread thread;
};

std::string describe(const sdk::Batch& batch) {
  return "batch of source '" + batch.window.source + "' window " +
         json::formatIsoUtc(batch.window.window_ms) + " (" + std::to_string(batch.records.size()) +
         " records)";
}

}  // namespace

class Pipeline::Impl {
 public:
  explicit Impl(sdk::Clock& clock) : clock_(clock) {}

  ~Impl() {
    stop(0);
    for (auto& channel : channels_) {
      if (channel->thread.joinable()) channel->thread.join();
    }
  }

  void addSink(std::string name, SinkWriteFunction write, SinkChannelOptions options) {
    if (started_) throw std::logic_error("pipeline: addSink() after start()");
    if (name.empty()) throw std::invalid_argument("pipeline: a sink has no name");
    if (!write) throw std::invalid_argument("pipeline: sink '" + name + "' has no write function");
    if (options.queue_capacity == 0) {
      throw std::invalid_argument("pipeline: sink '" + name + "' needs a queue capacity above 0");
    }
    if (options.retry_initial_ms < 1 || options.retry_max_ms < options.retry_initial_ms) {
      throw std::invalid_argument("pipeline: sink '" + name +
                                  "' needs 0 < retry_initial_ms <= retry_max_ms");
    }
    if (find(name) != nullptr) {
      throw std::invalid_argument("pipeline: sink '" + name + "' is added twice");
    }
    auto channel = std::make_unique<Channel>();
    channel->name = std::move(name);
    channel->write = std::move(write);
    channel->options = options;
    channels_.push_back(std::move(channel));
  }

  void setEventListener(PipelineEvent listener) {
    if (started_) throw std::logic_error("pipeline: setEventListener() after start()");
    listener_ = std::move(listener);
  }

  void start() {
    if (started_.exchange(true)) return;
    for (auto& channel : channels_) {
      Channel* raw = channel.get();
      channel->thread = std::thread([this, raw] { deliver(*raw); });
    }
  }

  void publish(std::shared_ptr<const sdk::Batch>&& batch) {
    if (!batch) return;
    const bool refused = stopped_.load();
    for (auto& channel : channels_) {
      std::optional<Event> event;
      {
        std::lock_guard lock(channel->mutex);
        if (refused) {
          ++channel->stats.dropped;
          event = Event{"pipeline stopped: " + describe(*batch) + " not accepted"};
        } else if (channel->queue.size() >= channel->options.queue_capacity) {
          ++channel->stats.overflowed;
          event = Event{"queue full (" + std::to_string(channel->options.queue_capacity) +
                        " batches): " + describe(*batch) + " not accepted"};
        } else {
          channel->queue.push_back(batch);
          channel->changed.notify_all();
        }
      }
      if (event) report(*channel, *event);
    }
  }

  void stop(std::int64_t drain_ms) {
    if (stopped_.exchange(true)) return;
    if (!started_) {
      for (auto& channel : channels_) reportLeftovers(*channel, drain_ms);
      return;
    }
    const std::int64_t deadline = clock_.steadyNowMs() + std::max<std::int64_t>(drain_ms, 0);
    for (auto& channel : channels_) {
      std::lock_guard lock(channel->mutex);
      channel->stopping = true;
      channel->drain_deadline_ms = deadline;
      channel->changed.notify_all();
    }
    // A delivery thread in a backoff sleep read the clock's wake generation under its channel's
    // lock before it looked at `stopping`, so this one wake cannot be lost.
    clock_.wakeAll();
    for (auto& channel : channels_) {
      std::unique_lock lock(channel->mutex);
      while (!channel->finished && clock_.steadyNowMs() < deadline) {
        channel->changed.wait_for(lock, kDrainCheck);
      }
      channel->changed.wait_for(lock, kExitWait,
                                [&] { return channel->finished || channel->writing; });
    }
    for (auto& channel : channels_) {
      reportLeftovers(*channel, drain_ms);
      bool finished = false;
      {
        std::lock_guard lock(channel->mutex);
        finished = channel->finished;
      }
      if (finished && channel->thread.joinable()) channel->thread.join();
    }
  }

  SinkStats stats(const std::string& name) const {
    const Channel* channel = find(name);
    if (channel == nullptr) throw std::out_of_range("pipeline: no sink named '" + name + "'");
    std::lock_guard lock(channel->mutex);
    SinkStats stats = channel->stats;
    stats.queued = static_cast<std::int64_t>(channel->queue.size());
    return stats;
  }

  std::vector<std::string> sinkNames() const {
    std::vector<std::string> names;
    for (const auto& channel : channels_) names.push_back(channel->name);
    return names;
  }

 private:
  const Channel* find(const std::string& name) const {
    for (const auto& channel : channels_) {
      if (channel->name == name) return channel.get();
    }
    return nullptr;
  }

  void report(const Channel& channel, const Event& event) {
    if (!listener_) return;
    try {
      listener_(channel.name, event.message, event.warning);
    } catch (...) {
      // A logging failure must not take a delivery thread down with it.
    }
  }

  void reportLeftovers(Channel& channel, std::int64_t drain_ms) {
    std::optional<Event> event;
    {
      std::lock_guard lock(channel.mutex);
      if (!channel.queue.empty()) {
        event = Event{"stopped with " + std::to_string(channel.queue.size()) +
                      " batches undelivered after " + std::to_string(drain_ms) + " ms of draining" +
                      (channel.writing ? "; a write is still running" : "")};
      }
    }
    if (event) report(channel, *event);
  }

  void deliver(Channel& channel) {
    std::unique_lock lock(channel.mutex);
    int attempts = 0;
    std::int64_t backoff_ms = 0;
    while (true) {
      if (channel.queue.empty()) {
        if (channel.stopping) break;
        channel.changed.wait(lock, [&] { return !channel.queue.empty() || channel.stopping; });
        continue;
      }
      if (channel.stopping && clock_.steadyNowMs() >= channel.drain_deadline_ms) break;

      std::shared_ptr<const sdk::Batch> batch = channel.queue.front();
      channel.writing = true;
      lock.unlock();
      sdk::WriteResult result = sdk::WriteResult::kDrop;
      std::optional<std::string> error;
      try {
        result = channel.write(*batch);
      } catch (const std::exception& exception) {
        error = exception.what();
      } catch (...) {
        error = "unknown exception";
      }
      lock.lock();
      channel.writing = false;

      std::optional<Event> event;
      switch (result) {
        case sdk::WriteResult::kOk:
          channel.queue.pop_front();
          ++channel.stats.delivered;
          if (attempts > 0) {
            event = Event{
                describe(*batch) + " delivered after " + std::to_string(attempts) + " retries",
                false};
          }
          attempts = 0;
          break;
        case sdk::WriteResult::kDrop:
          channel.queue.pop_front();
          ++channel.stats.dropped;
          event = Event{describe(*batch) + " dropped: " +
                        (error ? "write threw an exception: " + *error
                               : std::string("the sink cannot write it"))};
          attempts = 0;
          break;
        case sdk::WriteResult::kRetry:
          ++channel.stats.retries;
          ++attempts;
          backoff_ms = attempts == 1 ? channel.options.retry_initial_ms
                                     : std::min(backoff_ms * 2, channel.options.retry_max_ms);
          if (attempts == 1) {
            event = Event{describe(*batch) + " not written yet, retrying with backoff; " +
                          std::to_string(channel.queue.size()) + " batches wait"};
          }
          break;
      }
      if (event) {
        lock.unlock();
        report(channel, *event);
        lock.lock();
      }
      if (result == sdk::WriteResult::kRetry) backoff(channel, lock, backoff_ms);
    }
    channel.finished = true;
    channel.changed.notify_all();
  }

  // Sleeps on the clock for `backoff_ms`, or until the drain deadline once stopping. Another
  // component's wakeAll() does not shorten it.
  void backoff(Channel& channel, std::unique_lock<std::mutex>& lock, std::int64_t backoff_ms) {
    const std::int64_t resume = clock_.steadyNowMs() + backoff_ms;
    while (true) {
      const std::uint64_t generation = clock_.wakeGeneration();
      const std::int64_t target =
          channel.stopping ? std::min(resume, channel.drain_deadline_ms) : resume;
      if (clock_.steadyNowMs() >= target) return;
      lock.unlock();
      clock_.sleepUntil(target, generation);
      lock.lock();
    }
  }

  sdk::Clock& clock_;
  PipelineEvent listener_;
  std::vector<std::unique_ptr<Channel>> channels_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

Pipeline::Pipeline(sdk::Clock& clock) : impl_(std::make_unique<Impl>(clock)) {}

Pipeline::~Pipeline() = default;

void Pipeline::addSink(std::string name, SinkWriteFunction write, SinkChannelOptions options) {
  impl_->addSink(std::move(name), std::move(write), options);
}

void Pipeline::setEventListener(PipelineEvent listener) {
  impl_->setEventListener(std::move(listener));
}

void Pipeline::start() {
  impl_->start();
}

void Pipeline::publish(std::shared_ptr<const sdk::Batch> batch) {
  impl_->publish(std::move(batch));
}

void Pipeline::stop(std::int64_t drain_ms) {
  impl_->stop(drain_ms);
}

Pipeline::SinkStats Pipeline::stats(const std::string& sink) const {
  return impl_->stats(sink);
}

std::vector<std::string> Pipeline::sinkNames() const {
  return impl_->sinkNames();
}

}  // namespace gatherd::core
