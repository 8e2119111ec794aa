#pragma once
// Helpers for the config tests: a temp folder that cleans up, file writing, error capture.

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "core/config/config_error.hpp"
#include "gatherd/sdk/testing/temp_dir.hpp"
#include <unistd.h>

namespace gatherd::core::testing {

using gatherd::sdk::testing::TempDir;

/// A process-unique environment variable name, so tests never see each other's variables.
inline std::string uniqueEnvName(const std::string& stem) {
  static std::atomic<int> counter{0};
  return "GATHERD_TEST_" + stem + "_" + std::to_string(::getpid()) + "_" +
         std::to_string(counter.fetch_add(1));
}

/// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
    // The config tests start no threads, so changing the environment is safe here.
    ::setenv(name_.c_str(), value.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() { ::unsetenv(name_.c_str()); }  // NOLINT(concurrency-mt-unsafe)

 private:
  std::string name_;
};

/// Runs `action`, which must throw ConfigError, and returns the error.
inline ConfigError requireConfigError(const std::function<void()>& action) {
  try {
    action();
  } catch (const ConfigError& error) {
    return error;
  }
  FAIL("expected a ConfigError");
  throw std::logic_error("unreachable");
}

}  // namespace gatherd::core::testing
