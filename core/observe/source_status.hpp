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

 private:
  void notify(const SourceStatus& status);
  mutable std::mutex mutex_;
  std::vector<SourceStatus> statuses_;
  ChangeListener listener_;
};

}  // namespace gatherd::core
