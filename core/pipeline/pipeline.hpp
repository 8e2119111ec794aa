#pragma once
// Fan-out of batches to sinks: one bounded queue and one delivery thread per sink, retry with
// exponential backoff at the head of the queue, overflow and drops counted and reported.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/sink.hpp"

namespace gatherd::core {

struct SinkChannelOptions {
  std::size_t queue_capacity =
      10'000;  ///< batches waiting for this sink, the one in write included
  std::int64_t retry_initial_ms = 100;  ///< first backoff after kRetry
  std::int64_t retry_max_ms = 30'000;   ///< backoff doubles up to this
};

/// Writes one batch to one sink. The app wraps the plugin call and maps an exception to kDrop
/// (exceptions that still escape are treated the same way here).
using SinkWriteFunction = std::function<sdk::WriteResult(const sdk::Batch&)>;
/// Reports what an operator should see in the log: overflow, drops, retries, leftovers at stop.
/// Called from publish() and from delivery threads, possibly concurrently: must be thread-safe.
using PipelineEvent =
    std::function<void(const std::string& sink, const std::string& message, bool warning)>;

/// Every sink gets every published batch, in publish order. A sink that returns kRetry keeps
/// the batch at the head of its queue and is retried with backoff (later batches wait behind
/// it); a full queue refuses the new batch for that sink (counted `overflowed`, reported). One
/// slow or stuck sink never delays another. Times run on the given clock.
class Pipeline {
 public:
  explicit Pipeline(sdk::Clock& clock);
  /// Stops (with no drain time left) and waits for every delivery thread; a write() that
  /// never returns keeps the destructor waiting.
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  /// Before start(). Throws std::invalid_argument on an empty or duplicate name, a missing
  /// write function, capacity 0 or a non-positive retry time, std::logic_error after start().
  void addSink(std::string name, SinkWriteFunction write, SinkChannelOptions options = {});
  /// Before start().
  void setEventListener(PipelineEvent listener);
  /// Starts one delivery thread per sink. Call once.
  void start();
  /// Never blocks on a sink: queues the batch for every sink (or counts it overflowed there).
  /// Thread-safe. Batches published before start() wait in the queues; after stop() they are
  /// refused (counted dropped, reported).
  void publish(std::shared_ptr<const sdk::Batch> batch);
  /// Keeps delivering what is queued until every queue is empty or drain_ms has passed on the
  /// clock, then stops the delivery threads; what is left stays counted in `queued` and is
  /// reported. Returns without waiting for a write() that is still running. Idempotent.
  void stop(std::int64_t drain_ms);

  struct SinkStats {
    std::int64_t delivered = 0, retries = 0, dropped = 0, overflowed = 0, queued = 0;
  };
  /// Throws std::out_of_range for an unknown sink.
  SinkStats stats(const std::string& sink) const;
  std::vector<std::string> sinkNames() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gatherd::core
