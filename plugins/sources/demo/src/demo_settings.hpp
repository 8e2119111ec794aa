#pragma once
// The demo source's configuration, parsed apart from its logic.

#include <cstdint>
#include <string>
#include <vector>

#include "gatherd/sdk/config.hpp"
#include "gatherd/sdk/status.hpp"

namespace gatherd::plugins::demo {

struct DemoSettings {
  double calls_per_minute = 6;       ///< average rate of simulated calls
  std::int64_t burst_every_ms = 0;   ///< 0 = no bursts
  std::int64_t burst_size = 30;      ///< calls in one burst
  double failure_ratio = 0.05;       ///< share of calls that fail
  std::uint64_t seed = 0;            ///< 0 = seeded from the clock
  std::vector<std::string> models;
  std::string service = "codex";
  std::int64_t poll_latency_ms = 0;  ///< simulated upstream response time of each poll
};

sdk::ConfigSchema demoSchema();
/// Reads validated config; fails with the key name for out-of-range values.
sdk::Status parseDemoSettings(const sdk::Config& config, DemoSettings& settings);

}  // namespace gatherd::plugins::demo
