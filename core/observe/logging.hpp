#pragma once
// spdlog set-up: one shared sink that masks every configured secret, one logger per instance.

#include <memory>
#include <mutex>
#include <ostream>
#include <set>
#include <shared_mutex>
#include <string>

#include <spdlog/logger.h>

#include "gatherd/sdk/host.hpp"

namespace gatherd::core {

/// The secrets that must never appear in a log line. Thread-safe; shared by all loggers.
class SecretSet {
 public:
  void replace(std::set<std::string> secrets);
  void add(const std::string& secret);
  std::string mask(std::string_view text) const;

 private:
  mutable std::shared_mutex mutex_;
  std::set<std::string> secrets_;
};

/// Owns the log sink. Every logger made here writes through the same sink, after masking.
class Logging {
 public:
  /// Writes to stderr.
  Logging();
  /// Writes to `out` (tests).
  explicit Logging(std::ostream& out);

  /// "trace", "debug", "info", "warn", "error"; unknown names keep the current level.
  void setLevel(const std::string& level);
  SecretSet& secrets() { return secrets_; }
  /// The logger named `name` ("core", "source.xychatai", ...), created on first use.
  std::shared_ptr<spdlog::logger> get(const std::string& name);

 private:
  SecretSet secrets_;
  spdlog::sink_ptr sink_;
  std::mutex mutex_;
  spdlog::level::level_enum level_ = spdlog::level::info;
  std::vector<std::shared_ptr<spdlog::logger>> loggers_;
};

/// The sdk::Logger a plugin instance gets.
class PluginLogger final : public sdk::Logger {
 public:
  explicit PluginLogger(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}
  void log(sdk::LogLevel level, std::string_view message) override;
  bool enabled(sdk::LogLevel level) const override;

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace gatherd::core
