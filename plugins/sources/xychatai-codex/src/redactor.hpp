#pragma once
// Keeps secrets (the session cookie, the service apiKey) out of every string that leaves the
// plugin: log lines, window messages, record fields and raw JSON.

#include <string>
#include <string_view>
#include <vector>

namespace gatherd::plugins::xychatai {

inline constexpr const char* kRedacted = "[redacted]";

class Redactor {
 public:
  /// Adds a secret value; values shorter than 4 characters are ignored (they would mask
  /// ordinary text and protect nothing).
  void add(std::string_view secret);
  /// `text` with every occurrence of every secret replaced by "[redacted]".
  std::string apply(std::string_view text) const;
  /// True when `text` contains a secret.
  bool containsSecret(std::string_view text) const;
  bool empty() const noexcept { return secrets_.empty(); }

 private:
  std::vector<std::string> secrets_;
};

/// True for object keys whose value is a credential whatever it holds (apiKey, cookie, ...).
bool isSecretKey(std::string_view key);

}  // namespace gatherd::plugins::xychatai
