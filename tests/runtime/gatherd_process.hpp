#pragma once
// Runs the real gatherd binary for runtime tests: a temp folder with a config, stdout and stderr
// captured to files, signals, and bounded waits.

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "gatherd/sdk/testing/temp_dir.hpp"
#include <sys/types.h>

namespace gatherd::testing {

using gatherd::sdk::testing::TempDir;

std::string readFile(const std::filesystem::path& path);

/// A child process with stdout and stderr captured to files in `dir`.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, const std::filesystem::path& dir,
               std::vector<std::string> environment = {});
  ~ChildProcess();  // kills the process if it still runs
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  void signal(int number) const;
  pid_t pid() const { return pid_; }
  /// The exit code, or -1 if it did not exit within `timeout` (then it is still running).
  int wait(std::chrono::milliseconds timeout);
  bool running();
  std::string out() const { return readFile(out_path_); }
  const std::filesystem::path& outPath() const { return out_path_; }
  std::string err() const { return readFile(err_path_); }
  /// Waits until stderr (the log) contains `text`; false after `timeout`.
  bool waitForLog(const std::string& text, std::chrono::milliseconds timeout) const;
  /// Waits until `predicate(file contents)` holds; false after `timeout`.
  template <class Predicate>
  static bool waitFor(const std::filesystem::path& file, Predicate predicate,
                      std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::filesystem::path out_path_;
  std::filesystem::path err_path_;
};

template <class Predicate>
bool ChildProcess::waitFor(const std::filesystem::path& file, Predicate predicate,
                           std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (predicate(readFile(file))) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// The port a fake upstream started with --print-port prints on its first line; waits up to
/// 10 s for it and throws std::runtime_error (with what it printed) when it does not come.
std::string printedPort(const ChildProcess& fake_upstream);

/// One run of `gatherd --config <config> [args...]`.
class GatherdProcess : public ChildProcess {
 public:
  GatherdProcess(const std::filesystem::path& config, std::vector<std::string> args = {},
                 std::vector<std::string> environment = {});
};

/// The config header every runtime test starts from: plugin dir of this build, data in `dir`.
std::string baseConfig(const std::filesystem::path& dir, const std::string& interval);

}  // namespace gatherd::testing
