#pragma once
// The SSE broadcaster as a sink: GET /events streams the store's changes as named events.

#include <memory>
#include <optional>
#include <string>

#include "broadcaster.hpp"
#include "gatherd/sdk/sink.hpp"

namespace gatherd::plugins::sse {

sdk::ConfigSchema sseSchema();

/// Parses the validated config into broadcaster options (exposed for tests).
BroadcasterOptions optionsFromConfig(const sdk::Config& config);

/// Parses a Last-Event-ID header value: a non-negative decimal id, else nothing.
std::optional<std::int64_t> parseLastEventId(const std::string& value);

class SseSink final : public sdk::Sink {
 public:
  ~SseSink() override;
  sdk::Status init(const sdk::Config& config, sdk::Host& host) override;
  /// Fails when no store sink is configured: events and replay come from the store.
  sdk::Status start() override;
  /// The store is the source of truth; a batch only means "look now".
  sdk::WriteResult write(const sdk::Batch& batch) override;
  void stop() override;

  /// For tests and metrics.
  std::size_t clientCount() const;
  std::int64_t droppedCount() const;

 private:
  void handle(sdk::StreamExchange& exchange);

  sdk::Host* host_ = nullptr;
  BroadcasterOptions options_;
  std::shared_ptr<Broadcaster> broadcaster_;
  std::mutex mutex_;  ///< guards broadcaster_ against the route handler
};

}  // namespace gatherd::plugins::sse
