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
#include "gatherd/sdk/support/redaction.hpp"

namespace gatherd::core {

/// The secrets that must never appear in a log line: the configured ones and those plugins
/// learned at run time (Host::addSecret). Thread-safe; shared by all loggers. Masking is the
/// sdk's SecretMask, the same algorithm the plugins' redactors use (plain and URL-encoded).
class SecretSet {
 public:
  /// Replaces the configured secrets (start-up, reload); learned ones are kept.
  void replace(std::set<std::string> secrets);
  /// Adds a configured secret.
  void add(const std::string& secret);
  /// Adds a secret a plugin learned at run time (an API key in a response); kept for the
  /// life of the process, through reloads.
  void learn(std::string_view secret);
  std::string mask(std::string_view text) const;

 private:
  void rebuildLocked();

  std::mutex mutex_;  // guards the two sets; mask_ has its own lock
  std::set<std::string> configured_;
  std::set<std::string> learned_;
  sdk::SecretMask mask_{"***"};
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
