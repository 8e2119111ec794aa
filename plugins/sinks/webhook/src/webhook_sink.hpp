#pragma once
// The webhook sink: sends the alert records (stream "alert") the core's rules publish to one
// receiver (a Feishu group, a DingTalk group, a Slack channel, ...).

#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "gatherd/sdk/sink.hpp"
#include "poster.hpp"
#include "settings.hpp"

namespace gatherd::plugins::webhook {

class WebhookSink final : public sdk::Sink {
 public:
  sdk::Status init(const sdk::Config& config, sdk::Host& host) override;
  /// Alerts of the chosen rules are sent at once, or held while min_interval has not passed
  /// since the last message (then sent together with the next batch). 5xx, 429 and transport
  /// errors return kRetry (the core backs off); 4xx and refusals in the body are logged as
  /// errors and the message is dropped.
  sdk::WriteResult write(const sdk::Batch& batch) override;
  /// Sends what min_interval still holds, once.
  void stop() override;

  const Settings& settings() const { return settings_; }
  /// The last refusal (4xx or an error in the body), for tests and status; empty when none.
  std::string lastRefusal() const;

 private:
  sdk::WriteResult flush(bool ignore_interval);

  sdk::Host* host_ = nullptr;
  Settings settings_;
  std::unique_ptr<Poster> poster_;
  std::string user_agent_;
  mutable std::mutex mutex_;
  std::vector<sdk::Record> pending_;
  std::set<std::string> seen_;          // "<key>|<state>" pending or sent
  std::deque<std::string> seen_order_;  // to bound seen_
  std::int64_t last_sent_steady_ms_ = -1;
  bool failing_ = false;  // a retry streak is logged once
  std::string last_refusal_;
  bool stopped_ = false;
};

}  // namespace gatherd::plugins::webhook
