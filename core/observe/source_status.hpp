#pragma once
// What the core knows about each source instance, for /api/sources, /ready and SSE.

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gatherd/sdk/record.hpp"

namespace gatherd::core {

enum class InstanceState { kRunning, kFailed, kStopped };

inline const char* instanceStateName(InstanceState state) {
  switch (state) {
    case InstanceState::kRunning: return "running";
    case InstanceState::kFailed: return "failed";
    case InstanceState::kStopped: return "stopped";
  }
  return "unknown";
}

/// Whether a window counts as a failure of its source: its poll ran and did not end ok. Skipped
/// (not admitted) and aborted (shutdown) windows neither count nor reset the failures in a row.
/// The one definition: /api/sources, the source_status records (SSE, the dashboard) and the
/// source_down alert all read the count this rule makes.
inline bool windowFailed(sdk::Outcome outcome) {
  return outcome != sdk::Outcome::kOk && outcome != sdk::Outcome::kSkipped &&
         outcome != sdk::Outcome::kAborted;
}

struct SourceStatus {
  std::string name;
  std::string plugin;
  std::int64_t interval_ms = 0;
  InstanceState state = InstanceState::kRunning;
  std::string state_reason;  ///< why it failed, if it did
  sdk::AuthState auth_state = sdk::AuthState::kUnknown;
  std::string auth_hint;
  std::optional<sdk::WindowResult> last_window;
  std::int64_t last_success_ms = 0;  ///< 0 = never
  std::int64_t consecutive_failures = 0;
};

/// `status` as a record of stream source_status (key: the instance name), stamped `time_ms`.
sdk::Record sourceStatusRecord(const SourceStatus& status, std::int64_t time_ms);

/// What the core knows about each sink instance: the health the sink reported and the
/// pipeline's and spool's counters for it (filled in by the app when a snapshot is taken).
struct SinkStatus {
  std::string name;
  std::string plugin;
  bool degraded = false;        ///< the sink reported its storage degraded
  std::string degraded_reason;  ///< what it said
  bool backlogged = false;      ///< the head batch is being retried, or the spool cannot write
  // Pipeline and spool counters (see Pipeline::SinkStats).
  std::int64_t delivered = 0, retries = 0, dropped = 0, overflowed = 0;
  std::int64_t queued = 0, queued_bytes = 0, memory_bytes = 0, oldest_age_ms = 0;
  bool spooled = false;
  std::int64_t spool_bytes = 0, spool_records = 0, spool_dropped = 0, spool_bad_records = 0;
  std::int64_t spool_write_errors = 0;
  std::string spool_error;
  /// "ok", "backlogged" or "degraded", with the reason for the last two.
  std::string health() const { return degraded ? "degraded" : backlogged ? "backlogged" : "ok"; }
  std::string reason() const;
};

/// Thread-safe table of source statuses. The app registers instances; the scheduler's results
/// and the sources' auth reports update it; the HTTP API and SSE read snapshots.
class SourceStatusRegistry {
 public:
  /// Called with the new status whenever state or auth state changes (not on every window).
  using ChangeListener = std::function<void(const SourceStatus&)>;

  void add(std::string name, std::string plugin, std::int64_t interval_ms);
  void setState(const std::string& name, InstanceState state, std::string reason = {});
  /// Returns true when the auth state changed (the caller logs it once).
  bool setAuth(const std::string& name, sdk::AuthState state, const std::string& hint);
  void recordWindow(const sdk::WindowResult& window);
  std::vector<SourceStatus> snapshot() const;
  std::optional<SourceStatus> find(const std::string& name) const;
  void setChangeListener(ChangeListener listener);

  /// Sinks: registered once at start-up.
  void addSink(std::string name, std::string plugin);
  /// Returns true when the health changed (the caller logs it once).
  bool setSinkHealth(const std::string& name, bool degraded, const std::string& reason);
  /// Fills each status's counters; set by the app, called by sinkSnapshot() without the lock.
  using SinkStatsFiller = std::function<void(std::vector<SinkStatus>&)>;
  void setSinkStatsFiller(SinkStatsFiller filler);
  std::vector<SinkStatus> sinkSnapshot() const;

 private:
  void notify(const SourceStatus& status);
  mutable std::mutex mutex_;
  std::vector<SourceStatus> statuses_;
  ChangeListener listener_;
  std::vector<SinkStatus> sinks_;
  SinkStatsFiller sink_filler_;
};

}  // namespace gatherd::core
