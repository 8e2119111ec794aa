#pragma once
// A private temporary folder for one test, removed with everything in it when the test ends.
// The one TempDir of gatherd's tests and of plugin tests.

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <stdlib.h>

namespace gatherd::sdk::testing {

class TempDir {
 public:
  /// A new folder (mode 0700) under the system's temp folder, named `<prefix>-XXXXXX`.
  explicit TempDir(std::string_view prefix = "gatherd-test") {
    std::string pattern =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed for " + pattern);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  /// The path of `name` in the folder, as a string (for APIs that take one).
  std::string file(std::string_view name) const { return (path_ / name).string(); }
  /// Writes `text` to `name` (parent folders made as needed) and returns its path.
  std::filesystem::path write(std::string_view name, std::string_view text) const {
    const auto target = path_ / name;
    std::filesystem::create_directories(target.parent_path());
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out) throw std::runtime_error("cannot write " + target.string());
    return target;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace gatherd::sdk::testing
