#pragma once
// Keeps secrets (the session cookie, the service apiKey, the proxy's credentials) out of every
// string that leaves the plugin: log lines, window messages, record fields and raw JSON. The
// matching is the sdk's SecretMask (plain and URL-encoded copies), the same as the core's log
// mask; a secret learned at run time is also handed to the core (Host::addSecret).

#include <string>
#include <string_view>

#include "gatherd/sdk/support/redaction.hpp"

namespace gatherd::plugins::xychatai {

inline constexpr const char* kRedacted = "[redacted]";

/// Thread-safe: polls of one instance may overlap, and a poll may learn a secret.
class Redactor {
 public:
  /// Adds a secret value; values shorter than 4 characters are ignored (they would mask
  /// ordinary text and protect nothing). Returns true when it was new.
  bool add(std::string_view secret) { return mask_.add(secret); }
  /// `text` with every occurrence of every secret (plain or URL-encoded) replaced by
  /// "[redacted]".
  std::string apply(std::string_view text) const { return mask_.apply(text); }
  /// True when `text` contains a secret.
  bool containsSecret(std::string_view text) const { return mask_.containsSecret(text); }
  bool empty() const { return mask_.empty(); }

 private:
  sdk::SecretMask mask_{kRedacted, 4};
};

/// True for object keys whose value is a credential whatever it holds (apiKey, cookie, ...).
bool isSecretKey(std::string_view key);

/// `text` redacted first, then cut to `max_chars` bytes (on a UTF-8 boundary) with "..."
/// appended when it was longer: cutting first would let a secret's prefix through.
std::string redactedQuote(const Redactor& redactor, std::string_view text, std::size_t max_chars);

}  // namespace gatherd::plugins::xychatai
