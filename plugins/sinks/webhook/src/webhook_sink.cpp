#include "webhook_sink.hpp"

#include "gatherd/sdk/streams.hpp"
#include "messages.hpp"

namespace gatherd::plugins::webhook {
namespace {
constexpr const char* kAlertStream = sdk::streams::kAlert;
constexpr std::size_t kSeenLimit = 10'000;
}  // namespace

sdk::Status WebhookSink::init(const sdk::Config& config, sdk::Host& host) {
  host_ = &host;
  if (auto status = parseSettings(config, settings_); !status) return status;
  if (auto status =
          Poster::create(settings_.proxy, settings_.ca_file, settings_.timeout_ms, poster_);
      !status) {
    return status;
  }
  user_agent_ = "gatherd/" + host.version();
  // Alerts only, kept in the core's spool until the receiver took them: an alert that fired
  // while the receiver was down survives a crash or restart (the core's alert state would not
  // fire it again).
  host.requestStreams({kAlertStream});
  host.requestSpool();
  return sdk::Status::success();
}

std::string WebhookSink::lastRefusal() const {
  std::lock_guard lock(mutex_);
  return last_refusal_;
}

sdk::WriteResult WebhookSink::write(const sdk::Batch& batch) {
  std::lock_guard lock(mutex_);
  for (const auto& record : batch.records) {
    if (record.stream != kAlertStream) continue;
    const std::string rule = record.get<std::string>("rule").value_or("");
    if (rule != "test" && !settings_.rules.empty() && settings_.rules.count(rule) == 0) continue;
    // A batch the core retries comes again: each transition is sent once.
    const std::string id = record.key + "|" + record.get<std::string>("state").value_or("");
    if (!seen_.insert(id).second) continue;
    seen_order_.push_back(id);
    if (seen_order_.size() > kSeenLimit) {
      seen_.erase(seen_order_.front());
      seen_order_.pop_front();
    }
    pending_.push_back(record);
  }
  return flush(false);
}

sdk::WriteResult WebhookSink::flush(bool ignore_interval) {
  if (pending_.empty()) return sdk::WriteResult::kOk;
  const std::int64_t now = host_->clock().steadyNowMs();
  if (!ignore_interval && last_sent_steady_ms_ >= 0 &&
      now - last_sent_steady_ms_ < settings_.min_interval_ms) {
    host_->metrics().setGauge("webhook_held", static_cast<double>(pending_.size()));
    return sdk::WriteResult::kOk;  // held: sent with a later batch
  }
  const OutgoingRequest request = buildRequest(pending_, settings_, host_->clock().utcNowMs());
  const PostResult result = poster_->post(request.url, request.body, user_agent_);
  std::string refusal;
  if (result.kind == PostResult::Kind::kOk &&
      !refusedInBody(settings_.format, result.body, refusal)) {
    host_->metrics().increment("webhook_sent", static_cast<std::int64_t>(pending_.size()));
    host_->metrics().setGauge("webhook_held", 0);
    if (failing_) host_->logger().info("the receiver accepts messages again");
    if (!last_refusal_.empty()) {
      last_refusal_.clear();
      host_->reportSinkHealth(sdk::SinkHealth::kOk, {});
    }
    host_->logger().info("sent " + std::to_string(pending_.size()) + " alert(s) (" +
                         formatName(settings_.format) + ")");
    failing_ = false;
    pending_.clear();
    last_sent_steady_ms_ = now;
    return sdk::WriteResult::kOk;
  }
  const bool retry = result.kind == PostResult::Kind::kTransport ||
                     (result.kind == PostResult::Kind::kHttpStatus &&
                      (result.status >= 500 || result.status == 429 || result.status == 408));
  if (retry) {
    host_->metrics().increment("webhook_retries");
    if (!failing_) {
      host_->logger().warn(result.kind == PostResult::Kind::kTransport
                               ? "cannot reach the receiver (" + result.error +
                                     "); retrying with backoff"
                               : "the receiver answered HTTP " + std::to_string(result.status) +
                                     "; retrying with backoff");
    }
    failing_ = true;
    return sdk::WriteResult::kRetry;
  }
  if (refusal.empty()) {
    refusal = "HTTP " + std::to_string(result.status);
    std::string answer = result.body.substr(0, 200);
    for (char& c : answer) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    if (!answer.empty()) refusal += ": " + answer;
  }
  last_refusal_ = refusal;
  // Shown on the Sources page (and in /ready) until a message goes through again: a refusal is
  // a wrong url, secret or format that only the user can fix.
  host_->reportSinkHealth(
      sdk::SinkHealth::kDegraded,
      "the receiver refused the last message (" + refusal + "); check url, secret and format");
  host_->metrics().increment("webhook_refused", static_cast<std::int64_t>(pending_.size()));
  host_->logger().error("the receiver refused " + std::to_string(pending_.size()) + " alert(s): " +
                        refusal + " (check url, secret and format; the message is dropped)");
  failing_ = false;
  pending_.clear();
  last_sent_steady_ms_ = now;
  return sdk::WriteResult::kDrop;
}

void WebhookSink::stop() {
  std::lock_guard lock(mutex_);
  if (stopped_ || host_ == nullptr) return;
  stopped_ = true;
  if (!pending_.empty() && flush(true) != sdk::WriteResult::kOk) {
    host_->logger().warn(std::to_string(pending_.size()) +
                         " alert(s) could not be sent before stopping (the receiver failed or "
                         "min_interval held them)");
  }
}

}  // namespace gatherd::plugins::webhook
