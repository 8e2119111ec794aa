#pragma once
// The Source interface: something the scheduler polls once per window.

#include <cstdint>
#include <utility>

#include "gatherd/sdk/config.hpp"
#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/status.hpp"
#include "gatherd/sdk/support/cancel_token.hpp"

namespace gatherd::sdk {

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
