#include "core/observe/logging.hpp"

#include <iostream>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>

namespace gatherd::core {
namespace {

// Formats, then masks the finished line, so secrets are caught wherever they appear
// (message, logger name or a formatted argument).
class RedactingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  RedactingSink(std::ostream& out, const SecretSet& secrets) : out_(out), secrets_(secrets) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(message, formatted);
    out_ << secrets_.mask(std::string_view(formatted.data(), formatted.size()));
  }
  void flush_() override { out_.flush(); }

 private:
  std::ostream& out_;
  const SecretSet& secrets_;
};

spdlog::level::level_enum toSpdlog(sdk::LogLevel level) {
  switch (level) {
    case sdk::LogLevel::kTrace: return spdlog::level::trace;
    case sdk::LogLevel::kDebug: return spdlog::level::debug;
    case sdk::LogLevel::kInfo: return spdlog::level::info;
    case sdk::LogLevel::kWarn: return spdlog::level::warn;
    case sdk::LogLevel::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

void SecretSet::replace(std::set<std::string> secrets) {
  std::lock_guard lock(mutex_);
  configured_ = std::move(secrets);
  rebuildLocked();
}

void SecretSet::add(const std::string& secret) {
  if (secret.empty()) return;
  std::lock_guard lock(mutex_);
  if (configured_.insert(secret).second) rebuildLocked();
}

void SecretSet::learn(std::string_view secret) {
  if (secret.empty()) return;
  std::lock_guard lock(mutex_);
  if (learned_.emplace(secret).second) rebuildLocked();
}

void SecretSet::rebuildLocked() {
  std::set<std::string> all = configured_;
  all.insert(learned_.begin(), learned_.end());
  mask_.replace(all);
}

std::string SecretSet::mask(std::string_view text) const {
  return mask_.apply(text);
}

Logging::Logging() : Logging(std::cerr) {}

Logging::Logging(std::ostream& out) {
  sink_ = std::make_shared<RedactingSink>(out, secrets_);
  sink_->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      "%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v", spdlog::pattern_time_type::utc));
}

void Logging::setLevel(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level == "warn" ? "warning" : level);
  if (parsed == spdlog::level::off && level != "off") return;
  std::lock_guard lock(mutex_);
  level_ = parsed;
  for (auto& logger : loggers_) logger->set_level(level_);
}

std::shared_ptr<spdlog::logger> Logging::get(const std::string& name) {
  std::lock_guard lock(mutex_);
  for (auto& logger : loggers_) {
    if (logger->name() == name) return logger;
  }
  auto logger = std::make_shared<spdlog::logger>(name, sink_);
  logger->set_level(level_);
  logger->flush_on(spdlog::level::trace);
  loggers_.push_back(logger);
  return logger;
}

void PluginLogger::log(sdk::LogLevel level, std::string_view message) {
  logger_->log(toSpdlog(level), "{}", message);
}

bool PluginLogger::enabled(sdk::LogLevel level) const {
  return logger_->should_log(toSpdlog(level));
}

}  // namespace gatherd::core
