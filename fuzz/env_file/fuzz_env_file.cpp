// libFuzzer target: the .env reader and ${VAR} expansion. Bad input may only end in
// ConfigError.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/config/config_error.hpp"
#include "core/config/env_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> values;
  try {
    values = gatherd::core::parseEnvText(text, "fuzz.env");
  } catch (const gatherd::core::ConfigError&) {
  }
  // The same bytes as a config value, expanded against what the file defined.
  const gatherd::core::EnvLookup lookup =
      [&](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
  try {
    (void)gatherd::core::expandVariables(text, lookup, "fuzz.ini:1");
  } catch (const gatherd::core::ConfigError&) {
  }
  return 0;
}
