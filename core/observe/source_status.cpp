#include "core/observe/source_status.hpp"

#include <algorithm>

#include "gatherd/sdk/streams.hpp"

namespace gatherd::core {

void SourceStatusRegistry::add(std::string name, std::string plugin, std::int64_t interval_ms) {
  std::lock_guard lock(mutex_);
  for (auto& status : statuses_) {
    if (status.name == name) {
      status.plugin = std::move(plugin);
      status.interval_ms = interval_ms;
      status.state = InstanceState::kRunning;
      return;
    }
  }
  SourceStatus status;
  status.name = std::move(name);
  status.plugin = std::move(plugin);
  status.interval_ms = interval_ms;
  statuses_.push_back(std::move(status));
}

void SourceStatusRegistry::setState(const std::string& name, InstanceState state,
                                    std::string reason) {
  SourceStatus changed;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(statuses_.begin(), statuses_.end(),
                           [&](const SourceStatus& s) { return s.name == name; });
    if (it == statuses_.end() || (it->state == state && it->state_reason == reason)) return;
    it->state = state;
    it->state_reason = std::move(reason);
    changed = *it;
  }
  notify(changed);
}

bool SourceStatusRegistry::setAuth(const std::string& name, sdk::AuthState state,
                                   const std::string& hint) {
  SourceStatus changed;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(statuses_.begin(), statuses_.end(),
                           [&](const SourceStatus& s) { return s.name == name; });
    if (it == statuses_.end()) return false;
    if (it->auth_state == state) {
      it->auth_hint = hint;
      return false;
    }
    it->auth_state = state;
    it->auth_hint = hint;
    changed = *it;
  }
  notify(changed);
  return true;
}

void SourceStatusRegistry::recordWindow(const sdk::WindowResult& window) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(statuses_.begin(), statuses_.end(),
                         [&](const SourceStatus& s) { return s.name == window.source; });
  if (it == statuses_.end()) return;
  // Results can arrive out of order when polls overlap; the newest window wins.
  if (!it->last_window || it->last_window->window_ms <= window.window_ms) it->last_window = window;
  if (window.outcome == sdk::Outcome::kOk) {
    it->last_success_ms = std::max(it->last_success_ms, window.finished_ms);
    it->consecutive_failures = 0;
  } else if (windowFailed(window.outcome)) {
    ++it->consecutive_failures;
  }
}

sdk::Record sourceStatusRecord(const SourceStatus& status, std::int64_t time_ms) {
  namespace f = sdk::streams::source_status;
  sdk::Record record;
  record.stream = sdk::streams::kSourceStatus;
  record.key = status.name;
  record.time_ms = time_ms;
  record.fields = {{f::kState, std::string(instanceStateName(status.state))},
                   {f::kStateReason, status.state_reason},
                   {f::kAuthState, std::string(sdk::authStateName(status.auth_state))},
                   {f::kAuthHint, status.auth_hint},
                   {f::kConsecutiveFailures, status.consecutive_failures}};
  return record;
}

std::vector<SourceStatus> SourceStatusRegistry::snapshot() const {
  std::lock_guard lock(mutex_);
  return statuses_;
}

std::optional<SourceStatus> SourceStatusRegistry::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  for (const auto& status : statuses_) {
    if (status.name == name) return status;
  }
  return std::nullopt;
}

void SourceStatusRegistry::setChangeListener(ChangeListener listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

void SourceStatusRegistry::notify(const SourceStatus& status) {
  ChangeListener listener;
  {
    std::lock_guard lock(mutex_);
    listener = listener_;
  }
  if (listener) listener(status);
}

std::string SinkStatus::reason() const {
  if (degraded) return degraded_reason;
  if (!spool_error.empty()) return "the spool cannot write: " + spool_error;
  if (backlogged) {
    return "writes are being retried; " + std::to_string(queued) +
           " batch(es) wait, the oldest for " + std::to_string(oldest_age_ms / 1000) + " s";
  }
  return {};
}

void SourceStatusRegistry::addSink(std::string name, std::string plugin) {
  std::lock_guard lock(mutex_);
  for (auto& status : sinks_) {
    if (status.name == name) return;
  }
  SinkStatus status;
  status.name = std::move(name);
  status.plugin = std::move(plugin);
  sinks_.push_back(std::move(status));
}

bool SourceStatusRegistry::setSinkHealth(const std::string& name, bool degraded,
                                         const std::string& reason) {
  std::lock_guard lock(mutex_);
  for (auto& status : sinks_) {
    if (status.name != name) continue;
    if (status.degraded == degraded && status.degraded_reason == reason) return false;
    const bool changed = status.degraded != degraded;
    status.degraded = degraded;
    status.degraded_reason = degraded ? reason : std::string();
    return changed;
  }
  return false;
}

void SourceStatusRegistry::setSinkStatsFiller(SinkStatsFiller filler) {
  std::lock_guard lock(mutex_);
  sink_filler_ = std::move(filler);
}

std::vector<SinkStatus> SourceStatusRegistry::sinkSnapshot() const {
  std::vector<SinkStatus> sinks;
  SinkStatsFiller filler;
  {
    std::lock_guard lock(mutex_);
    sinks = sinks_;
    filler = sink_filler_;
  }
  if (filler) filler(sinks);
  return sinks;
}

}  // namespace gatherd::core
