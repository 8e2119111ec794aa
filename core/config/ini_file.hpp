#pragma once
// Our own ini reader: Poco's IniFileConfiguration forgets line numbers, keeps quotes and merges
// duplicate keys silently (TRAPS.md), and every configuration error must name file and line.

#include <string>
#include <vector>

namespace gatherd::core {

/// One `key = value` line. The key is lower-cased, the value trimmed and stripped of one pair of
/// surrounding quotes ("..." or '...'). Nothing else is interpreted: `;` or `#` after a value is
/// part of the value.
struct IniEntry {
  std::string key;
  std::string value;
  int line = 0;
};

/// One `[name]` section with its entries in file order. The name is trimmed, case kept.
struct IniSection {
  std::string name;
  int line = 0;
  std::vector<IniEntry> entries;

  /// The entry with this (lower-case) key, or nullptr.
  const IniEntry* find(const std::string& key) const;
};

struct IniDocument {
  std::string path;
  std::vector<IniSection> sections;

  /// The section with this exact name, or nullptr.
  const IniSection* find(const std::string& name) const;
};

/// Reads and parses an ini file. Throws ConfigError naming the file (and line) when it cannot be
/// read, on a syntax error, a key outside any section, a duplicate key or a duplicate section.
IniDocument parseIniFile(const std::string& path);

/// Parses ini text; `path_for_messages` is used in errors and stored in IniDocument::path.
IniDocument parseIniText(const std::string& text, const std::string& path_for_messages);

}  // namespace gatherd::core
