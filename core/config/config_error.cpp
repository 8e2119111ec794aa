#include "core/config/config_error.hpp"

#include <utility>

namespace gatherd::core {

namespace {

std::string formatWhat(const ConfigLocation& location, const std::string& message) {
  std::string where = formatLocation(location);
  if (where.empty()) return message;
  return where + ": " + message;
}

}  // namespace

std::string formatLocation(const ConfigLocation& location) {
  std::string text = location.file;
  if (location.line > 0) {
    text += ':';
    text += std::to_string(location.line);
  }
  if (!location.file.empty() && !location.section.empty()) text += ": ";
  if (!location.section.empty()) text += "[" + location.section + "]";
  if (!location.key.empty()) {
    if (!text.empty()) text += location.section.empty() ? ": " : " ";
    text += location.key;
  }
  return text;
}

ConfigError::ConfigError(ConfigLocation location, const std::string& message)
    : std::runtime_error(formatWhat(location, message)),
      location_(std::move(location)),
      message_(message) {}

ConfigError::ConfigError(const std::string& file, int line, const std::string& section,
                         const std::string& key, const std::string& message)
    : ConfigError(ConfigLocation{file, line, section, key}, message) {}

ConfigError::ConfigError(const std::string& message)
    : std::runtime_error(message), message_(message) {}

}  // namespace gatherd::core
