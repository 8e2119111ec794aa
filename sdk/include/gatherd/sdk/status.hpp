#pragma once
// Status values returned across the plugin boundary (no exception crosses it).

#include <string>
#include <utility>

namespace gatherd::sdk {

/// Success or a human-readable failure. Cheap to copy; owns its message.
class [[nodiscard]] Status {
 public:
  /// A successful status.
  static Status success() { return Status(true, {}); }
  /// A failure; `message` should tell the user what went wrong and what to do about it.
  static Status failure(std::string message) { return Status(false, std::move(message)); }

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  /// Empty for a success.
  const std::string& message() const noexcept { return message_; }

 private:
  Status(bool ok, std::string message) : ok_(ok), message_(std::move(message)) {}
  bool ok_;
  std::string message_;
};

}  // namespace gatherd::sdk
