// libFuzzer target: the ini reader. Bad input may only end in ConfigError.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/config/config_error.hpp"
#include "core/config/ini_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto document = gatherd::core::parseIniText(text, "fuzz.ini");
    for (const auto& section : document.sections) {
      (void)document.find(section.name);
      for (const auto& entry : section.entries) (void)section.find(entry.key);
    }
  } catch (const gatherd::core::ConfigError&) {
  }
  return 0;
}
