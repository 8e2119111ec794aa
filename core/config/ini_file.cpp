#include "core/config/ini_file.hpp"

#include <map>
#include <string_view>

#include "core/config/config_error.hpp"
#include "core/config/text_util.hpp"

namespace gatherd::core {

namespace {

using config_detail::toLower;
using config_detail::trim;
using config_detail::unquote;

bool isKeyChar(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

class IniParser {
 public:
  explicit IniParser(const std::string& path) { document_.path = path; }

  void parseLine(std::string_view raw, int line) {
    const auto text = trim(raw);
    if (text.empty() || text.front() == ';' || text.front() == '#') return;
    if (text.front() == '[') {
      parseSectionHeader(text, line);
    } else {
      parseEntry(text, line);
    }
  }

  IniDocument take() { return std::move(document_); }

 private:
  [[noreturn]] void fail(int line, const std::string& section, const std::string& key,
                         const std::string& message) const {
    throw ConfigError(document_.path, line, section, key, message);
  }

  void parseSectionHeader(std::string_view text, int line) {
    if (text.back() != ']') fail(line, "", "", "section header must end with ']'");
    const std::string name(trim(text.substr(1, text.size() - 2)));
    if (name.empty()) fail(line, "", "", "empty section name");
    if (name.find_first_of("[]") != std::string::npos) {
      fail(line, "", "", "section name must not contain '[' or ']'");
    }
    if (const auto seen = section_lines_.find(name); seen != section_lines_.end()) {
      fail(line, name, "",
           "duplicate section (first defined at line " + std::to_string(seen->second) + ")");
    }
    section_lines_.emplace(name, line);
    document_.sections.push_back(IniSection{name, line, {}});
    key_lines_.clear();
  }

  void parseEntry(std::string_view text, int line) {
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) {
      fail(line, currentSectionName(), "", "expected 'key = value', a [section] or a comment");
    }
    const auto raw_key = trim(text.substr(0, equals));
    if (raw_key.empty()) fail(line, currentSectionName(), "", "missing key before '='");
    for (char c : raw_key) {
      if (!isKeyChar(c)) {
        fail(line, currentSectionName(), std::string(raw_key),
             "invalid key (use letters, digits, '_', '-' and '.')");
      }
    }
    std::string key = toLower(raw_key);
    if (document_.sections.empty()) fail(line, "", key, "key outside of any [section]");
    IniSection& section = document_.sections.back();
    if (const auto seen = key_lines_.find(key); seen != key_lines_.end()) {
      fail(line, section.name, key,
           "duplicate key (first set at line " + std::to_string(seen->second) + ")");
    }
    key_lines_.emplace(key, line);
    std::string value(unquote(trim(text.substr(equals + 1))));
    section.entries.push_back(IniEntry{std::move(key), std::move(value), line});
  }

  std::string currentSectionName() const {
    return document_.sections.empty() ? std::string() : document_.sections.back().name;
  }

  IniDocument document_;
  std::map<std::string, int> section_lines_;
  std::map<std::string, int> key_lines_;
};

}  // namespace

const IniEntry* IniSection::find(const std::string& key) const {
  for (const auto& entry : entries) {
    if (entry.key == key) return &entry;
  }
  return nullptr;
}

const IniSection* IniDocument::find(const std::string& name) const {
  for (const auto& section : sections) {
    if (section.name == name) return &section;
  }
  return nullptr;
}

IniDocument parseIniText(const std::string& text, const std::string& path_for_messages) {
  IniParser parser(path_for_messages);
  std::string_view rest(text);
  constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
  if (rest.substr(0, kUtf8Bom.size()) == kUtf8Bom) rest.remove_prefix(kUtf8Bom.size());
  int line = 0;
  while (!rest.empty()) {
    ++line;
    const auto end = rest.find('\n');
    parser.parseLine(rest.substr(0, end), line);
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return parser.take();
}

IniDocument parseIniFile(const std::string& path) {
  return parseIniText(config_detail::readWholeFile(path), path);
}

}  // namespace gatherd::core
