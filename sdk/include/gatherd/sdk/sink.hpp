#pragma once
// The Sink interface: somewhere batches go.

#include "gatherd/sdk/config.hpp"
#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/status.hpp"
#include "gatherd/sdk/store.hpp"

namespace gatherd::sdk {

/// What a sink did with a batch.
enum class WriteResult {
  kOk,     ///< done
  kRetry,  ///< temporarily impossible (locked, unreachable): the core keeps it and retries later
  kDrop,   ///< can never be written (the core logs and counts it)
};

/// A sink plugin instance. Lifecycle: construct -> init -> start -> write* -> stop -> destroy.
class Sink {
 public:
  virtual ~Sink() = default;
  /// Validates and keeps the config; `host` outlives this object. Called once, main thread.
  [[nodiscard]] virtual Status init(const Config& config, Host& host) = 0;
  /// Called once after every instance was initialised (open files, start threads).
  [[nodiscard]] virtual Status start() { return Status::success(); }
  /// Writes one batch. Called from this instance's own delivery thread only, one batch at a time,
  /// in the order the windows finished. The batch is valid only during the call.
  [[nodiscard]] virtual WriteResult write(const Batch& batch) = 0;
  /// The Store capability, or nullptr. The pointer stays valid until stop().
  virtual Store* store() noexcept { return nullptr; }
  /// Flushes and stops. Idempotent; no write() runs during or after it.
  virtual void stop() {}

  // Since ABI 2.3 (the host calls it only on plugins built against 2.3 or later).

  /// Keeps rows copied from another store's history (gatherd migrate): a page of
  /// Store::readHistory, with their original times. Idempotent: a row this store already keeps
  /// (same identity: invocation key, record key, or every field of a quota snapshot or window
  /// entry) is skipped, so a copy interrupted at any point is finished by running it again.
  /// Totals stay exact: rollups count each inserted invocation once, and pruned totals (rows
  /// the source's retention deleted) once per hour, source, model and status. Rows enter no change
  /// sequence: they are history, not live events. Called between start() and stop(), never
  /// while write() runs. `inserted` receives the number of rows newly kept.
  [[nodiscard]] virtual Status importHistory(const HistoryPage& page, std::int64_t& inserted) {
    (void)page;
    inserted = 0;
    return Status::failure("this sink cannot import a history");
  }
};

}  // namespace gatherd::sdk
