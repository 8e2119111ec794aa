#pragma once
// A sink that writes every record (and optionally every window result) as a JSON line.

#include <cstdio>
#include <string>

#include "gatherd/sdk/sink.hpp"

namespace gatherd::plugins::stdout_sink {

sdk::ConfigSchema stdoutSchema();

class StdoutSink final : public sdk::Sink {
 public:
  sdk::Status init(const sdk::Config& config, sdk::Host& host) override;
  sdk::Status start() override;
  sdk::WriteResult write(const sdk::Batch& batch) override;
  void stop() override;

  /// The lines one batch becomes (exposed for tests).
  std::string format(const sdk::Batch& batch) const;

 private:
  std::string path_;  // empty = standard output
  bool windows_ = false;
  bool raw_ = false;
  std::FILE* file_ = nullptr;
  bool owns_file_ = false;
};

}  // namespace gatherd::plugins::stdout_sink
