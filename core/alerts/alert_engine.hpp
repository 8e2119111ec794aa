#pragma once
// Alert rules evaluated on the stream of window results and records the pipeline carries: each
// alert fires once when its condition starts and once when it resolves; open alerts survive a
// restart (a small JSON state file in data_dir, replaced atomically).

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/observe/source_status.hpp"
#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/streams.hpp"

namespace gatherd::core {

/// The [alerts] section: thresholds of the rules (per daemon, not per webhook). gatherd sets every
/// field from the config, whose schema holds the defaults; these built-in values are the same (a
/// daemon config test compares them) for the engine's tests and other direct users.
struct AlertOptions {
  bool enabled = true;
  std::int64_t failure_window_ms = 15 * 60'000;
  std::int64_t failure_min_calls = 5;
  double failure_ratio = 0.5;
  std::int64_t source_down_windows = 6;
  double quota_remaining = 0.10;  ///< share of the limit
  std::int64_t forecast_window_ms = 24 * 3'600'000;
  std::int64_t expiry_warn_ms = 3 * 24 * 3'600'000LL;
  std::size_t history = 200;  ///< resolved alerts kept for /api/alerts
  std::string state_file;     ///< empty: state is not persisted
};

/// One alert, open or resolved.
struct Alert {
  std::string id;       ///< "<rule>|<source>|<subject>|<fired_ms>": the record key
  std::string rule;     ///< auth, failures, source_down, gap, quota, plan_expiry
  std::string source;   ///< source instance
  std::string subject;  ///< what within the source (quota: "<service>:low"/":forecast")
  std::int64_t fired_ms = 0;
  std::int64_t resolved_ms = 0;  ///< 0 while open
  sdk::Fields details;           ///< rule-specific facts (no secrets), snake_case
  bool open() const { return resolved_ms == 0; }
};

/// The quota forecast of one (source, service): what the plan card shows.
struct QuotaForecast {
  std::string source;
  std::string service;
  std::string unit;  ///< "usd" or "count"
  double remaining = 0;
  double limit = 0;
  bool rate_known = false;       ///< enough history (or the upstream 24 h usage) for a rate
  double rate_per_hour = 0;      ///< spending rate over the forecast window (0: none)
  std::int64_t runs_out_ms = 0;  ///< 0: not at this rate (no spending)
  std::int64_t resets_ms = 0;    ///< next reset, or 0
  std::int64_t expires_ms = 0;   ///< plan expiry, or 0
  std::int64_t updated_ms = 0;
};

/// The stream name of alert transition records.
inline constexpr const char* kAlertStream = sdk::streams::kAlert;

/// Makes the record that announces `alert` (state "firing" or "resolved").
sdk::Record alertRecord(const Alert& alert);

/// Thread-safe: observe() may run on several scheduler threads at once.
class AlertEngine {
 public:
  AlertEngine(AlertOptions options, sdk::Clock& clock);

  /// Reads the state file (open alerts, recent history). Returns an error text, or empty.
  std::string load();
  /// Evaluates every rule against one finished window and its records; returns the alert
  /// records (stream "alert") of the transitions it caused, in order. Persists on change.
  /// `consecutive_failures` is the source's count after this window, as the core's source
  /// registry keeps it (SourceStatus: the one definition of a failure in a row).
  std::vector<sdk::Record> observe(const sdk::Batch& batch, std::int64_t consecutive_failures);

  /// Resolves the open alerts of sources that are no longer configured (a restart or reload
  /// without them: nothing would ever resolve them) and forgets those sources' rule state;
  /// returns the transition records. Persists on change.
  std::vector<sdk::Record> retireSources(const std::set<std::string>& configured);
  /// New thresholds from a reload; open alerts and their state stay. The state file cannot
  /// change at runtime (it keeps the one it was started with).
  void setOptions(AlertOptions options);

  std::vector<Alert> openAlerts() const;
  /// Resolved alerts, newest first.
  std::vector<Alert> recentAlerts() const;
  std::vector<QuotaForecast> forecasts() const;
  /// {"open":[...],"recent":[...],"forecasts":[...]} for /api/alerts.
  std::string toJson(std::size_t recent_limit) const;
  AlertOptions options() const;
  /// Why the last save of the state file failed, or empty.
  std::string lastSaveError() const;

 private:
  struct SourceState {
    std::map<std::string, std::pair<std::int64_t, bool>> calls;  // key -> (time, failed)
  };
  struct QuotaSamples {
    std::deque<std::pair<std::int64_t, double>> used;  // (time, used amount)
  };
  // Opens (if not open) or resolves (if open) the alert `rule/source/subject`.
  void setCondition(const std::string& rule, const std::string& source, const std::string& subject,
                    bool holds, const sdk::Fields& details, std::int64_t now_ms,
                    std::vector<sdk::Record>& out);
  void evaluateQuota(const std::string& source, const sdk::Record& record, std::int64_t now_ms,
                     std::vector<sdk::Record>& out);
  void evaluateFailures(const std::string& source, SourceState& state, std::int64_t now_ms,
                        std::vector<sdk::Record>& out);
  std::string saveLocked() const;

  AlertOptions options_;
  sdk::Clock& clock_;
  std::int64_t started_ms_;
  std::string last_save_error_;
  mutable std::mutex mutex_;
  std::map<std::string, Alert> open_;  // by "<rule>|<source>|<subject>"
  std::deque<Alert> recent_;           // resolved, newest first
  std::map<std::string, SourceState> sources_;
  std::map<std::string, QuotaSamples> quota_samples_;  // by "<source>|<service>"
  std::map<std::string, QuotaForecast> forecasts_;     // by "<source>|<service>"
};

}  // namespace gatherd::core
