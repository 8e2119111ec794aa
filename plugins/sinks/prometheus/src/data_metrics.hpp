#pragma once
// The data gatherd collects, as Prometheus counters and gauges: invocations, cost and tokens
// per source, model and status class, and each source's latest quota. Counters start from the
// store's totals and grow with the records this sink sees, so they survive a restart.

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "exposition.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/status.hpp"
#include "gatherd/sdk/store.hpp"
#include "gatherd/sdk/telemetry.hpp"

namespace gatherd::plugins::prometheus {

/// Thread-safe: apply() from the sink's delivery thread, collect() from HTTP threads.
class DataMetrics {
 public:
  /// Models beyond `max_models` distinct names share the label model="other"; model names are
  /// cut to kMaxModelBytes.
  explicit DataMetrics(std::size_t max_models) : max_models_(max_models) {}

  static constexpr std::size_t kMaxModelBytes = 100;
  /// Invocation keys remembered per source, so that a record seen again (a running call that
  /// finished, or the upstream's last 20 re-sent after a restart) is not counted twice.
  static constexpr std::size_t kKeysPerSource = 1'000;
  /// Label value of the models beyond the cap.
  static constexpr const char* kOtherModel = "other";

  /// Starts the counters of `sources` from the store: totals per model, the latest quota, and
  /// the newest invocations' keys. Replaces what was counted for those sources. Re-reads when
  /// the store changed meanwhile (up to three times).
  [[nodiscard]] sdk::Status seed(sdk::Store& store, const std::vector<std::string>& sources);
  /// Counts the batch's invocation records and takes its quota records.
  void apply(const sdk::Batch& batch);
  /// Appends the data families.
  void collect(std::vector<sdk::MetricFamily>& families) const;
  /// Appends the data families' exposition in `format`: made again only after a batch or a
  /// seed changed something, else the text of the previous scrape.
  void render(Format format, std::string& out) const;
  /// Distinct model label values in use (at most max_models + 1).
  std::size_t modelLabels() const;

  /// A status that is not final yet: counted once it is.
  static bool pendingStatus(const std::string& status);

 private:
  enum class Kind { kInput, kOutput, kCacheInput, kReasoning };
  static constexpr int kKinds = 4;
  struct Amounts {
    double cost_usd = 0;
    double tokens[kKinds] = {0, 0, 0, 0};
  };
  struct Seen {
    bool counted = false;
    std::string model;  // label value
    Amounts amounts;
  };
  struct SourceKeys {
    std::deque<std::string> order;
    std::unordered_map<std::string, Seen> seen;
  };
  struct ModelTotals {
    double success = 0;
    double failure = 0;
    Amounts amounts;
  };
  struct Quota {
    std::int64_t time_ms = 0;
    std::optional<double> amount_limit, amount_used, amount_remaining;
    std::optional<double> count_limit, count_used, count_remaining;
    std::optional<double> reset_s, expiry_s, usage_24h_cost;
    std::optional<bool> active;
    std::string plan, billing_type;
  };

  // Callers hold mutex_.
  std::string modelLabel(const std::string& model);
  void applyInvocation(const std::string& source, const sdk::Record& record);
  void remember(SourceKeys& keys, const std::string& key, Seen seen);
  static Amounts amountsOf(const sdk::Record& record);
  static Quota quotaOf(const sdk::Record& record);

  const std::size_t max_models_;
  mutable std::mutex mutex_;
  std::atomic<std::uint64_t> generation_{1};  // bumped (under mutex_) by every change
  struct Rendered {
    std::uint64_t generation = 0;
    std::string text;
  };
  mutable std::mutex render_mutex_;            // taken before mutex_, never after
  mutable Rendered rendered_[2];               // by Format
  std::set<std::string, std::less<>> models_;  // named model labels
  std::map<std::string, std::map<std::string, ModelTotals>> totals_;  // source -> model label
  std::map<std::string, SourceKeys> keys_;
  std::map<std::string, Quota> quota_;
};

}  // namespace gatherd::plugins::prometheus
