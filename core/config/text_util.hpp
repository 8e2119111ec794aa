#pragma once
// Small string helpers shared by the config readers (internal to core/config).

#include <string>
#include <string_view>
#include <vector>

namespace gatherd::core::config_detail {

std::string_view trim(std::string_view text) noexcept;
std::string toLower(std::string_view text);
/// Removes one pair of matching surrounding quotes ("..." or '...'), if present.
std::string_view unquote(std::string_view text) noexcept;
/// Splits on `separator`, trims every piece and drops empty ones.
std::vector<std::string> splitList(std::string_view text, char separator);
/// Reads a whole file; throws ConfigError naming the file when that fails.
std::string readWholeFile(const std::string& path);

}  // namespace gatherd::core::config_detail
