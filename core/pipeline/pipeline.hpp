#pragma once
// Fan-out of batches to sinks: one byte-bounded queue and one delivery thread per sink, an
// optional durable spool per sink, retry with exponential backoff at the head of the queue,
// overflow and drops counted and reported.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/spool/spool.hpp"
#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/sink.hpp"

namespace gatherd::core {

struct SinkChannelOptions {
  /// Bytes of batches held in memory for this sink (the one in write included). With a spool,
  /// batches beyond it stay on disk only and are read back when their turn comes; without one
  /// (or while the spool cannot write), a batch beyond it is refused (counted `overflowed`).
  std::size_t memory_max_bytes = 64u << 20;
  std::int64_t retry_initial_ms = 100;  ///< first backoff after kRetry
  std::int64_t retry_max_ms = 30'000;   ///< backoff doubles up to this
  /// Keep every batch in a durable on-disk journal until the sink said kOk (see spool.hpp).
  std::optional<spool::SpoolOptions> spool;
  /// Not empty: the sink reads only records of these streams (sdk Host::requestStreams). It
  /// gets only those; a batch without any comes as its window result alone (a "tick": never
  /// spooled, and at most one waits), so a sink that holds data for later still hears time pass.
  std::vector<std::string> streams;
};

/// Writes one batch to one sink. The app wraps the plugin call and maps an exception to kDrop
/// (exceptions that still escape are treated the same way here).
using SinkWriteFunction = std::function<sdk::WriteResult(const sdk::Batch&)>;
/// Reports what an operator should see in the log: overflow, drops, retries, leftovers at stop.
/// Called from publish() and from delivery threads, possibly concurrently: must be thread-safe.
using PipelineEvent =
    std::function<void(const std::string& sink, const std::string& message, bool warning)>;

/// Every sink gets every published batch (of its streams, when it chose some), in publish order. A
/// sink that returns kRetry keeps the batch at the head of its queue and is retried with backoff
/// (later batches wait behind it). One slow or stuck sink never delays another. Times run on the
/// given clock.
///
/// A spooled sink: publish() appends the batch to the sink's journal (fsync as configured)
/// before it returns; kOk or kDrop removes it. What a previous run left in the journal is
/// delivered first, in order. When the journal cannot be written (disk full), the batch waits
/// in memory within memory_max_bytes and `spool_error` says why.
class Pipeline {
 public:
  explicit Pipeline(sdk::Clock& clock);
  /// Stops (with no drain time left) and waits for every delivery thread; a write() that
  /// never returns keeps the destructor waiting.
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  /// Before start(). Opens the sink's spool if it has one (what it recovered is reported at
  /// start()). Throws std::invalid_argument on an empty or duplicate name, a missing write
  /// function, a memory bound of 0 or a non-positive retry time, std::runtime_error when the
  /// spool folder cannot be made, std::logic_error after start().
  void addSink(std::string name, SinkWriteFunction write, SinkChannelOptions options = {});
  /// Before addSink() and start().
  void setEventListener(PipelineEvent listener);
  /// Starts one delivery thread per sink. Call once.
  void start();
  /// Never blocks on a sink (only on the spool's own write). Thread-safe. Batches published
  /// before start() wait in the queues; after stop() they are refused (counted dropped,
  /// reported).
  void publish(std::shared_ptr<const sdk::Batch> batch);
  /// Keeps delivering what is queued until every queue is empty or drain_ms has passed on the
  /// clock, then stops the delivery threads; batches of a spooled sink that only memory held
  /// are written to its spool now. What is left stays counted in `queued` and is reported.
  /// Returns without waiting for a write() that is still running (the caller serialises the
  /// sink's stop with it). Idempotent.
  void stop(std::int64_t drain_ms);
  /// After stop(): waits for every delivery thread to end (a write() still running included).
  /// stats() keeps working afterwards.
  void join();

  struct SinkStats {
    std::int64_t delivered = 0, retries = 0, dropped = 0, overflowed = 0;
    std::int64_t queued = 0;  ///< batches waiting (memory and spool), the one in write included
    std::int64_t queued_bytes = 0;   ///< their size
    std::int64_t memory_bytes = 0;   ///< of which held in memory
    std::int64_t oldest_age_ms = 0;  ///< how long the oldest waiting batch has waited (0: none)
    bool retrying = false;           ///< the head batch was refused with kRetry at least once
    bool spooled = false;            ///< this sink has a spool
    std::int64_t spool_bytes = 0, spool_records = 0;
    std::int64_t spool_dropped = 0;       ///< records dropped because the spool was full
    std::int64_t spool_bad_records = 0;   ///< damaged records skipped (at start-up or later)
    std::int64_t spool_write_errors = 0;  ///< appends that failed (the batch stayed in memory)
    std::string spool_error;              ///< why the spool cannot write now; empty when it can
  };
  /// Throws std::out_of_range for an unknown sink.
  SinkStats stats(const std::string& sink) const;
  std::vector<std::string> sinkNames() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gatherd::core
