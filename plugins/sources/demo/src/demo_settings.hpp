#pragma once
// The demo source's configuration, parsed apart from its logic.

#include <cstdint>
#include <string>
#include <vector>

#include "gatherd/sdk/config.hpp"
#include "gatherd/sdk/status.hpp"

namespace gatherd::plugins::demo {

/// Filled by parseDemoSettings() from demoSchema(), defaults included: the initialisers here are
/// zero values, never a second copy of a default.
struct DemoSettings {
  double calls_per_minute = 0;      ///< average rate of simulated calls
  std::int64_t burst_every_ms = 0;  ///< 0 = no bursts
  std::int64_t burst_size = 0;      ///< calls in one burst
  double failure_ratio = 0;         ///< share of calls that fail
  std::uint64_t seed = 0;           ///< 0 = seeded from the clock
  std::vector<std::string> models;
  std::string service;
  std::int64_t poll_latency_ms = 0;  ///< simulated upstream response time of each poll
};

sdk::ConfigSchema demoSchema();
/// Reads validated config; fails with the key name for out-of-range values.
sdk::Status parseDemoSettings(const sdk::Config& config, DemoSettings& settings);

}  // namespace gatherd::plugins::demo
