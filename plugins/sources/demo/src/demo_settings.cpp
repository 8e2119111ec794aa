#include "demo_settings.hpp"

#include <sstream>

namespace gatherd::plugins::demo {

sdk::ConfigSchema demoSchema() {
  using sdk::ConfigType;
  return {
      sdk::key("calls_per_minute", ConfigType::kDouble)
          .byDefault("6")
          .describedAs("average simulated calls per minute"),
      sdk::key("burst_every", ConfigType::kDuration)
          .byDefault("0")
          .describedAs("emit a burst of calls this often (0 = never)"),
      sdk::key("burst_size", ConfigType::kInt).byDefault("30").describedAs("calls in one burst"),
      sdk::key("failure_ratio", ConfigType::kDouble)
          .byDefault("0.05")
          .describedAs("share of calls that fail (0..1)"),
      sdk::key("seed", ConfigType::kInt)
          .byDefault("0")
          .describedAs("random seed for repeatable runs (0 = from the clock)"),
      sdk::key("models", ConfigType::kString)
          .byDefault("gpt-5.3-codex,gpt-5.2-codex,gpt-5-codex-mini")
          .describedAs("comma-separated model names to pick from"),
      sdk::key("service", ConfigType::kString)
          .byDefault("codex")
          .describedAs("service name in quota records"),
      sdk::key("poll_latency", ConfigType::kDuration)
          .byDefault("0")
          .describedAs(
              "simulated upstream response time of each poll (to try deadlines and shutdown)"),
  };
}

sdk::Status parseDemoSettings(const sdk::Config& given, DemoSettings& settings) {
  // Defaults come from the schema only (getters below take no fallback).
  const sdk::Config config = sdk::withDefaults(given, demoSchema());
  settings.calls_per_minute = config.getDouble("calls_per_minute");
  if (settings.calls_per_minute < 0 || settings.calls_per_minute > 100'000) {
    return sdk::Status::failure("calls_per_minute must be between 0 and 100000");
  }
  settings.burst_every_ms = config.getDurationMs("burst_every");
  settings.burst_size = config.getInt("burst_size");
  if (settings.burst_size < 0 || settings.burst_size > 10'000) {
    return sdk::Status::failure("burst_size must be between 0 and 10000");
  }
  settings.failure_ratio = config.getDouble("failure_ratio");
  if (settings.failure_ratio < 0 || settings.failure_ratio > 1) {
    return sdk::Status::failure("failure_ratio must be between 0 and 1");
  }
  settings.seed = static_cast<std::uint64_t>(config.getInt("seed"));
  settings.models.clear();
  std::stringstream list(config.getString("models"));
  for (std::string model; std::getline(list, model, ',');) {
    while (!model.empty() && model.front() == ' ') model.erase(model.begin());
    while (!model.empty() && model.back() == ' ') model.pop_back();
    if (!model.empty()) settings.models.push_back(model);
  }
  if (settings.models.empty()) return sdk::Status::failure("models must name at least one model");
  settings.service = config.getString("service");
  settings.poll_latency_ms = config.getDurationMs("poll_latency");
  return sdk::Status::success();
}

}  // namespace gatherd::plugins::demo
