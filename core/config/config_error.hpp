#pragma once

#include <stdexcept>
#include <string>

namespace gatherd::core {

/// Where a configuration value came from. Every part is optional: line 0, an empty section or an
/// empty key mean "unknown" and are left out of messages.
struct ConfigLocation {
  std::string file;
  int line = 0;
  std::string section;
  std::string key;
};

/// "<file>:<line>: [<section>] <key>" with the unknown parts left out, e.g. "a.ini:3: [http] bind".
std::string formatLocation(const ConfigLocation& location);

/// A configuration or start-up error. what() is "<file>:<line>: [<section>] <key>: <message>"
/// with the unknown parts left out.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(ConfigLocation location, const std::string& message);
  ConfigError(const std::string& file, int line, const std::string& section, const std::string& key,
              const std::string& message);
  /// An error whose message already carries its location (or has none).
  explicit ConfigError(const std::string& message);

  const ConfigLocation& location() const noexcept { return location_; }
  /// The message without the location prefix.
  const std::string& message() const noexcept { return message_; }

 private:
  ConfigLocation location_;
  std::string message_;
};

}  // namespace gatherd::core
