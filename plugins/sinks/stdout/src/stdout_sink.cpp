#include "stdout_sink.hpp"

#include <cerrno>
#include <cstring>
#include <system_error>

#include "gatherd/lib/json/record_json.hpp"

namespace gatherd::plugins::stdout_sink {

sdk::ConfigSchema stdoutSchema() {
  using sdk::ConfigType;
  return {
      sdk::key("path", ConfigType::kPath)
          .describedAs("append to this file instead of standard output"),
      sdk::key("windows", ConfigType::kBool)
          .byDefault("false")
          .describedAs("also write one line per window result"),
      sdk::key("raw", ConfigType::kBool)
          .byDefault("false")
          .describedAs("include the redacted upstream JSON of each record"),
  };
}

sdk::Status StdoutSink::init(const sdk::Config& given, sdk::Host&) {
  // Defaults come from the schema only (getters below take no fallback).
  const sdk::Config config = sdk::withDefaults(given, stdoutSchema());
  path_ = config.getString("path");
  windows_ = config.getBool("windows");
  raw_ = config.getBool("raw");
  return sdk::Status::success();
}

sdk::Status StdoutSink::start() {
  if (path_.empty()) {
    file_ = stdout;
    return sdk::Status::success();
  }
  file_ = std::fopen(path_.c_str(), "a");
  if (file_ == nullptr) {
    return sdk::Status::failure("cannot open " + path_ + ": " +
                                std::error_code(errno, std::generic_category()).message());
  }
  owns_file_ = true;
  return sdk::Status::success();
}

std::string StdoutSink::format(const sdk::Batch& batch) const {
  std::string out;
  for (const auto& record : batch.records) {
    json::appendSourcedRecord(out, batch.window.source, record, raw_);
    out += "\n";
  }
  if (windows_) {
    out += "{\"stream\":\"window\",\"window\":";
    json::appendWindowResult(out, batch.window);
    out += "}\n";
  }
  return out;
}

sdk::WriteResult StdoutSink::write(const sdk::Batch& batch) {
  if (file_ == nullptr) return sdk::WriteResult::kRetry;
  const std::string text = format(batch);
  if (text.empty()) return sdk::WriteResult::kOk;
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0) {
    // A full disk or closed pipe may clear up; the core retries with backoff.
    std::clearerr(file_);
    return sdk::WriteResult::kRetry;
  }
  return sdk::WriteResult::kOk;
}

void StdoutSink::stop() {
  if (owns_file_ && file_ != nullptr) std::fclose(file_);
  file_ = nullptr;
  owns_file_ = false;
}

}  // namespace gatherd::plugins::stdout_sink
