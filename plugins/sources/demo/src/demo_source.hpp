#pragma once
// A source that simulates a Codex account: realistic calls, failures, latencies and bursts.

#include <cstdint>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "demo_settings.hpp"
#include "gatherd/sdk/source.hpp"

namespace gatherd::plugins::demo {

class DemoSource final : public sdk::Source {
 public:
  sdk::Status init(const sdk::Config& config, sdk::Host& host) override;
  void poll(const sdk::PollContext& context, sdk::Batch& batch) override;

  /// Makes the calls of the span (from_ms, to_ms]; exposed for tests.
  std::vector<sdk::Record> simulate(std::int64_t from_ms, std::int64_t to_ms);

 private:
  struct RunningCall {
    sdk::Record record;
  };
  sdk::Record makeCall(std::int64_t time_ms, bool running);
  void finishCall(sdk::Record& record);
  sdk::Record makeQuota(std::int64_t now_ms);

  DemoSettings settings_;
  sdk::Host* host_ = nullptr;
  std::mutex mutex_;  // polls may overlap; the simulation state is shared
  std::mt19937_64 random_;
  std::int64_t last_poll_ms_ = 0;
  std::int64_t next_burst_ms_ = 0;
  double carry_ = 0;
  std::uint64_t sequence_ = 0;
  std::vector<sdk::Record> running_;
  double used_usd_ = 0;
  std::int64_t used_count_ = 0;
  std::int64_t last_quota_ms_ = 0;
};

}  // namespace gatherd::plugins::demo
