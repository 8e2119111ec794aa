#include "core/config/text_util.hpp"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "core/config/config_error.hpp"

namespace gatherd::core::config_detail {

std::string_view trim(std::string_view text) noexcept {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

std::string toLower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

std::string_view unquote(std::string_view text) noexcept {
  if (text.size() >= 2 && (text.front() == '"' || text.front() == '\'') &&
      text.back() == text.front()) {
    return text.substr(1, text.size() - 2);
  }
  return text;
}

std::vector<std::string> splitList(std::string_view text, char separator) {
  std::vector<std::string> items;
  while (true) {
    const auto at = text.find(separator);
    const auto item = trim(text.substr(0, at));
    if (!item.empty()) items.emplace_back(item);
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  return items;
}

std::string readWholeFile(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw ConfigError(path, 0, "", "", "cannot read: is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(path, 0, "", "",
                      "cannot read: " + std::error_code(errno, std::generic_category()).message());
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw ConfigError(path, 0, "", "", "cannot read: I/O error");
  return content.str();
}

}  // namespace gatherd::core::config_detail
