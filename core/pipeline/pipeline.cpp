// Over 500 lines: per-sink queues, the spool hand-off, retries with backoff and the ordered drain
// share one channel state.
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

#include "core/observe/thread_name.hpp"
#include "core/spool/batch_codec.hpp"
#include "gatherd/lib/json/time_format.hpp"

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

struct Entry {
  std::shared_ptr<const sdk::Batch> batch;  // null: only the spool holds it
  std::uint64_t sequence = 0;               // 0: not in the spool
  std::size_t bytes = 0;
  std::int64_t queued_utc_ms = 0;
  std::uint64_t id = 0;  // unique within the channel
  // A window result without records for a stream-filtered sink: it only tells the sink that
  // time passed, so it is never spooled and is not counted as data left undelivered.
  bool tick = false;
};

struct Channel {
  std::string name;
  SinkWriteFunction write;
  SinkChannelOptions options;
  std::unique_ptr<spool::Spool> spool;
  spool::SpoolRecovery recovery;

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::deque<Entry> queue;  // the head is the one being written
  std::size_t memory_bytes = 0;
  std::size_t queued_bytes = 0;
  std::uint64_t next_id = 1;
  Pipeline::SinkStats stats;
  int attempts = 0;
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

// The part of `batch` a sink that reads only `streams` gets: the batch itself when every
// record is of those streams, else a copy with only those records (none: the window alone).
std::shared_ptr<const sdk::Batch> ofStreams(const std::shared_ptr<const sdk::Batch>& batch,
                                            const std::vector<std::string>& streams) {
  const auto wanted = [&](const sdk::Record& record) {
    return std::find(streams.begin(), streams.end(), record.stream) != streams.end();
  };
  if (std::all_of(batch->records.begin(), batch->records.end(), wanted)) return batch;
  auto part = std::make_shared<sdk::Batch>();
  part->window = batch->window;
  for (const sdk::Record& record : batch->records) {
    if (wanted(record)) part->records.push_back(record);
  }
  return part;
}

std::string mib(std::size_t bytes) {
  return std::to_string(bytes / 1024) + " KiB";
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
    if (options.memory_max_bytes == 0) {
      throw std::invalid_argument("pipeline: sink '" + name + "' needs a memory bound above 0");
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
    if (options.spool) {
      channel->spool = std::make_unique<spool::Spool>(*options.spool);
      channel->recovery = channel->spool->open();
      channel->stats.spooled = true;
      channel->stats.spool_bad_records = static_cast<std::int64_t>(channel->recovery.bad_regions);
      const std::int64_t now = clock_.utcNowMs();
      for (std::uint64_t sequence : channel->spool->pending()) {
        Entry entry;
        entry.sequence = sequence;
        entry.queued_utc_ms = now;
        entry.id = channel->next_id++;
        channel->queue.push_back(std::move(entry));
      }
      channel->queued_bytes = static_cast<std::size_t>(channel->spool->bytes());
    }
    channels_.push_back(std::move(channel));
  }

  void setEventListener(PipelineEvent listener) {
    if (started_) throw std::logic_error("pipeline: setEventListener() after start()");
    listener_ = std::move(listener);
  }

  void start() {
    if (started_.exchange(true)) return;
    for (auto& channel : channels_) {
      const spool::SpoolRecovery& recovery = channel->recovery;
      for (const std::string& problem : recovery.problems) report(*channel, {"spool: " + problem});
      if (recovery.pending > 0 || recovery.torn_tail_bytes > 0) {
        report(*channel,
               {"spool: " + std::to_string(recovery.pending) +
                    " batch(es) from the last run are delivered first" +
                    (recovery.torn_tail_bytes > 0 ? "; an incomplete last record (" +
                                                        std::to_string(recovery.torn_tail_bytes) +
                                                        " bytes, a write cut short) was ignored"
                                                  : ""),
                recovery.bad_regions > 0});
      }
      Channel* raw = channel.get();
      channel->thread = std::thread([this, raw] { deliver(*raw); });
    }
  }

  void publish(std::shared_ptr<const sdk::Batch>&& batch) {
    if (!batch) return;
    const bool refused = stopped_.load();
    const std::size_t bytes = spool::approximateBytes(*batch);
    std::string encoded;  // shared by the spooled sinks that take the whole batch
    for (auto& channel : channels_) {
      std::vector<Event> events;
      std::shared_ptr<const sdk::Batch> part = batch;
      std::size_t part_bytes = bytes;
      std::string part_encoded;
      if (!channel->options.streams.empty()) {
        part = ofStreams(batch, channel->options.streams);
        if (part != batch) part_bytes = spool::approximateBytes(*part);
      }
      {
        std::lock_guard lock(channel->mutex);
        if (refused) {
          ++channel->stats.dropped;
          events.push_back({"pipeline stopped: " + describe(*batch) + " not accepted"});
        } else if (part != batch) {
          enqueue(*channel, part, part_bytes, part_encoded, events);
        } else {
          enqueue(*channel, batch, bytes, encoded, events);
        }
      }
      for (const Event& event : events) report(*channel, event);
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
      spillToSpool(*channel);
      reportLeftovers(*channel, drain_ms);
      bool finished = false;
      {
        std::lock_guard lock(channel->mutex);
        finished = channel->finished;
      }
      if (finished && channel->thread.joinable()) channel->thread.join();
    }
  }

  void join() {
    for (auto& channel : channels_) {
      if (channel->thread.joinable()) channel->thread.join();
    }
  }

  SinkStats stats(const std::string& name) const {
    const Channel* channel = find(name);
    if (channel == nullptr) throw std::out_of_range("pipeline: no sink named '" + name + "'");
    std::lock_guard lock(channel->mutex);
    SinkStats stats = channel->stats;
    stats.queued = static_cast<std::int64_t>(channel->queue.size());
    stats.queued_bytes = static_cast<std::int64_t>(channel->queued_bytes);
    stats.memory_bytes = static_cast<std::int64_t>(channel->memory_bytes);
    stats.retrying = channel->attempts > 0;
    if (!channel->queue.empty()) {
      stats.oldest_age_ms =
          std::max<std::int64_t>(0, clock_.utcNowMs() - channel->queue.front().queued_utc_ms);
    }
    if (channel->spool) {
      stats.spool_bytes = static_cast<std::int64_t>(channel->spool->bytes());
      stats.spool_records = static_cast<std::int64_t>(channel->spool->records());
    }
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

  // Under the channel's lock: the spool append and the queue push happen together, so queue
  // order is sequence order (acknowledge() relies on it).
  void enqueue(Channel& channel, const std::shared_ptr<const sdk::Batch>& batch, std::size_t bytes,
               std::string& encoded, std::vector<Event>& events) {
    Entry entry;
    entry.batch = batch;
    entry.bytes = bytes;
    entry.queued_utc_ms = clock_.utcNowMs();
    entry.id = channel.next_id++;
    entry.tick = !channel.options.streams.empty() && batch->records.empty();
    if (entry.tick) {
      // One waiting tick says all a later one would; the head in write does not count.
      const bool tick_waits = !channel.queue.empty() && channel.queue.back().tick &&
                              !(channel.queue.size() == 1 && channel.writing);
      if (tick_waits) return;
    }
    if (channel.spool && !entry.tick) {
      if (encoded.empty()) spool::encodeBatch(*batch, encoded);
      const spool::AppendResult appended = channel.spool->append(encoded);
      if (appended.dropped > 0) {
        channel.stats.spool_dropped += static_cast<std::int64_t>(appended.dropped);
        forgetDropped(channel, appended.dropped_through);
        events.push_back({"spool full (spool_max_bytes " + mib(channel.options.spool->max_bytes) +
                          "): dropped the oldest " + std::to_string(appended.dropped) +
                          " batch(es)"});
      }
      if (appended.ok) {
        if (!channel.stats.spool_error.empty()) {
          events.push_back({"spool writes again", false});
          channel.stats.spool_error.clear();
        }
        entry.sequence = appended.sequence;
        entry.bytes = encoded.size() + 20;
        channel.queued_bytes += entry.bytes;
        if (channel.memory_bytes + entry.bytes <= channel.options.memory_max_bytes) {
          channel.memory_bytes += entry.bytes;
        } else {
          entry.batch.reset();  // read back from the journal when its turn comes
        }
        channel.queue.push_back(std::move(entry));
        channel.changed.notify_all();
        return;
      }
      ++channel.stats.spool_write_errors;
      if (channel.stats.spool_error != appended.error) {
        events.push_back({"spool cannot write (" + appended.error +
                          "): batches wait in memory (memory_queue_max_bytes " +
                          mib(channel.options.memory_max_bytes) + ")"});
      }
      channel.stats.spool_error = appended.error;
    }
    if (channel.memory_bytes + entry.bytes > channel.options.memory_max_bytes) {
      ++channel.stats.overflowed;
      events.push_back({"queue full (" + mib(channel.options.memory_max_bytes) +
                        " in memory): " + describe(*batch) + " not accepted"});
      return;
    }
    channel.memory_bytes += entry.bytes;
    channel.queued_bytes += entry.bytes;
    channel.queue.push_back(std::move(entry));
    channel.changed.notify_all();
  }

  // The spool dropped every record up to `through`: their queue entries go too (except the one
  // being written, which holds its batch already).
  void forgetDropped(Channel& channel, std::uint64_t through) {
    for (auto it = channel.queue.begin(); it != channel.queue.end();) {
      const bool head_in_write = it == channel.queue.begin() && channel.writing;
      if (it->sequence != 0 && it->sequence <= through && !head_in_write) {
        removeAccounting(channel, *it);
        it = channel.queue.erase(it);
      } else {
        ++it;
      }
    }
  }

  void removeAccounting(Channel& channel, const Entry& entry) {
    channel.queued_bytes -= std::min(channel.queued_bytes, entry.bytes);
    if (entry.batch) channel.memory_bytes -= std::min(channel.memory_bytes, entry.bytes);
  }

  // At stop: batches that only memory held (the spool could not write then) get another try.
  void spillToSpool(Channel& channel) {
    if (!channel.spool) return;
    std::int64_t spilled = 0;
    {
      std::lock_guard lock(channel.mutex);
      for (Entry& entry : channel.queue) {
        if (entry.sequence != 0 || !entry.batch || entry.tick) continue;
        std::string encoded;
        spool::encodeBatch(*entry.batch, encoded);
        const spool::AppendResult appended = channel.spool->append(encoded);
        if (!appended.ok) break;
        entry.sequence = appended.sequence;
        ++spilled;
      }
    }
    if (spilled > 0) {
      report(channel, {std::to_string(spilled) +
                           " batch(es) held in memory were written to the spool at stop",
                       false});
    }
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
      const auto undelivered =
          static_cast<std::size_t>(std::count_if(channel.queue.begin(), channel.queue.end(),
                                                 [](const Entry& entry) { return !entry.tick; }));
      if (undelivered > 0) {
        std::size_t on_disk = 0;
        for (const Entry& entry : channel.queue) on_disk += entry.sequence != 0 ? 1 : 0;
        event = Event{"stopped with " + std::to_string(undelivered) +
                      " batches undelivered after " + std::to_string(drain_ms) + " ms of draining" +
                      (channel.spool ? " (" + std::to_string(on_disk) +
                                           " kept in the spool for the next start)"
                                     : std::string()) +
                      (channel.writing ? "; a write is still running" : "")};
      }
    }
    if (event) report(channel, *event);
  }

  void deliver(Channel& channel) {
    nameThisThread("sink-" + channel.name);
    std::unique_lock lock(channel.mutex);
    std::int64_t backoff_ms = 0;
    while (true) {
      if (channel.queue.empty()) {
        if (channel.stopping) break;
        channel.changed.wait(lock, [&] { return !channel.queue.empty() || channel.stopping; });
        continue;
      }
      if (channel.stopping && clock_.steadyNowMs() >= channel.drain_deadline_ms) break;

      Entry& head = channel.queue.front();
      std::shared_ptr<const sdk::Batch> batch = head.batch;
      const std::uint64_t sequence = head.sequence;
      const std::uint64_t id = head.id;
      channel.writing = true;
      lock.unlock();
      std::optional<std::string> unreadable;
      if (!batch) {
        std::string payload, error;
        auto loaded = std::make_shared<sdk::Batch>();
        if (!channel.spool->read(sequence, payload, error)) {
          unreadable = error;
        } else if (!spool::decodeBatch(payload, *loaded)) {
          unreadable = "spooled batch #" + std::to_string(sequence) + " cannot be decoded";
        } else {
          batch = std::move(loaded);
        }
      }
      sdk::WriteResult result = sdk::WriteResult::kDrop;
      std::optional<std::string> error;
      if (batch) {
        try {
          result = channel.write(*batch);
        } catch (const std::exception& exception) {
          error = exception.what();
        } catch (...) {
          error = "unknown exception";
        }
      }
      lock.lock();
      channel.writing = false;

      std::optional<Event> event;
      const bool head_still_there = !channel.queue.empty() && channel.queue.front().id == id;
      if (unreadable) {
        ++channel.stats.spool_bad_records;
        event = Event{"spool: " + *unreadable + "; skipped"};
        result = sdk::WriteResult::kOk;  // nothing to deliver: remove it like a delivered one
      }
      switch (result) {
        case sdk::WriteResult::kOk:
        case sdk::WriteResult::kDrop:
          if (!unreadable) {
            if (result == sdk::WriteResult::kOk) {
              ++channel.stats.delivered;
              if (channel.attempts > 0) {
                event = Event{describe(*batch) + " delivered after " +
                                  std::to_string(channel.attempts) + " retries",
                              false};
              }
            } else {
              ++channel.stats.dropped;
              event = Event{describe(*batch) + " dropped: " +
                            (error ? "write threw an exception: " + *error
                                   : std::string("the sink cannot write it"))};
            }
          }
          if (head_still_there) {
            removeAccounting(channel, channel.queue.front());
            channel.queue.pop_front();
          }
          if (sequence != 0) channel.spool->acknowledge(sequence);
          channel.attempts = 0;
          break;
        case sdk::WriteResult::kRetry:
          ++channel.stats.retries;
          ++channel.attempts;
          backoff_ms = channel.attempts == 1
                           ? channel.options.retry_initial_ms
                           : std::min(backoff_ms * 2, channel.options.retry_max_ms);
          if (channel.attempts == 1) {
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
  impl_->addSink(std::move(name), std::move(write), std::move(options));
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

void Pipeline::join() {
  impl_->join();
}

Pipeline::SinkStats Pipeline::stats(const std::string& sink) const {
  return impl_->stats(sink);
}

std::vector<std::string> Pipeline::sinkNames() const {
  return impl_->sinkNames();
}

}  // namespace gatherd::core
