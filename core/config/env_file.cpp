#include "core/config/env_file.hpp"

#include <filesystem>
#include <string_view>
#include <utility>

#include "core/config/text_util.hpp"
#include <unistd.h>

namespace gatherd::core {

namespace {

using config_detail::trim;

bool isNameStart(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool isNameChar(char c) noexcept {
  return isNameStart(c) || (c >= '0' && c <= '9');
}

bool isValidName(std::string_view name) noexcept {
  if (name.empty() || !isNameStart(name.front())) return false;
  for (char c : name) {
    if (!isNameChar(c)) return false;
  }
  return true;
}

class EnvLineParser {
 public:
  EnvLineParser(const std::string& path, int line) : path_(path), line_(line) {}

  std::pair<std::string, std::string> parse(std::string_view text) const {
    constexpr std::string_view kExport = "export";
    if (text.substr(0, kExport.size()) == kExport && text.size() > kExport.size() &&
        (text[kExport.size()] == ' ' || text[kExport.size()] == '\t')) {
      text = trim(text.substr(kExport.size()));
    }
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) fail("", "expected KEY=VALUE");
    const std::string name(trim(text.substr(0, equals)));
    if (!isValidName(name)) {
      fail(name, "invalid variable name (use letters, digits and '_', not starting with a digit)");
    }
    return {name, parseValue(name, trim(text.substr(equals + 1)))};
  }

 private:
  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw ConfigError(path_, line_, "", key, message);
  }

  std::string parseValue(const std::string& name, std::string_view text) const {
    if (text.empty()) return {};
    if (text.front() == '\'') {
      const auto close = text.find('\'', 1);
      if (close == std::string_view::npos) fail(name, "unterminated single quote");
      checkTrailing(name, text.substr(close + 1));
      return std::string(text.substr(1, close - 1));
    }
    if (text.front() == '"') return parseDoubleQuoted(name, text);
    // A bare value ends where a comment starts: '#' preceded by white space.
    for (std::size_t i = 1; i < text.size(); ++i) {
      if (text[i] == '#' && (text[i - 1] == ' ' || text[i - 1] == '\t')) {
        return std::string(trim(text.substr(0, i)));
      }
    }
    return std::string(text);
  }

  std::string parseDoubleQuoted(const std::string& name, std::string_view text) const {
    std::string value;
    for (std::size_t i = 1; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '"') {
        checkTrailing(name, text.substr(i + 1));
        return value;
      }
      if (c == '\\' && i + 1 < text.size()) {
        const char next = text[++i];
        switch (next) {
          case 'n': value += '\n'; break;
          case 't': value += '\t'; break;
          case 'r': value += '\r'; break;
          case '"':
          case '\\':
          case '$': value += next; break;
          default: value.append({'\\', next}); break;
        }
        continue;
      }
      value += c;
    }
    fail(name, "unterminated double quote");
  }

  void checkTrailing(const std::string& name, std::string_view rest) const {
    rest = trim(rest);
    if (!rest.empty() && rest.front() != '#') fail(name, "unexpected text after the closing quote");
  }

  const std::string& path_;
  int line_;
};

void mergeEnvFile(const std::filesystem::path& file, std::map<std::string, std::string>& into) {
  std::error_code error;
  if (!std::filesystem::exists(file, error)) return;
  for (auto& [name, value] : parseEnvFile(file.string())) into[name] = std::move(value);
}

}  // namespace

std::map<std::string, std::string> parseEnvFile(const std::string& path) {
  return parseEnvText(config_detail::readWholeFile(path), path);
}

std::map<std::string, std::string> parseEnvText(const std::string& text, const std::string& path) {
  std::map<std::string, std::string> values;
  std::string_view rest(text);
  int line = 0;
  while (!rest.empty()) {
    ++line;
    const auto end = rest.find('\n');
    const auto current = trim(rest.substr(0, end));
    if (!current.empty() && current.front() != '#') {
      auto [name, value] = EnvLineParser(path, line).parse(current);
      values[name] = std::move(value);
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return values;
}

EnvLookup makeEnvLookup(const std::string& config_dir) {
  std::map<std::string, std::string> files;
  const std::filesystem::path dir(config_dir);
  mergeEnvFile(dir / ".env", files);
  mergeEnvFile(dir / ".env.local", files);
  // A snapshot of the process environment, taken now: later lookups (from any thread) then never
  // touch the environment, which getenv does not make safe.
  std::map<std::string, std::string> values = std::move(files);
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals == std::string_view::npos || equals == 0) continue;
    values.insert_or_assign(std::string(text.substr(0, equals)),
                            std::string(text.substr(equals + 1)));
  }
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    if (const auto it = values.find(name); it != values.end()) return it->second;
    return std::nullopt;
  };
}

std::string expandVariables(const std::string& value, const EnvLookup& env,
                            const ConfigLocation& where) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c != '$' || i + 1 >= value.size()) {
      out += c;
      continue;
    }
    if (value[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (value[i + 1] != '{') {
      out += c;
      continue;
    }
    const auto close = value.find('}', i + 2);
    if (close == std::string::npos) {
      throw ConfigError(where, "unterminated ${ (missing '}')");
    }
    const std::string_view inside(value.data() + i + 2, close - i - 2);
    const auto marker = inside.find(":-");
    const std::string name(inside.substr(0, marker));
    if (!isValidName(name)) {
      throw ConfigError(where, "invalid variable reference ${" + std::string(inside) + "}");
    }
    const auto found = env ? env(name) : std::nullopt;
    if (marker != std::string_view::npos) {
      out += (found && !found->empty()) ? *found : std::string(inside.substr(marker + 2));
    } else if (found) {
      out += *found;
    } else {
      std::string message = "environment variable ";
      message += name;
      message += " is not set (set it in the environment, .env or .env.local beside the config, ";
      message += "or write ${";
      message += name;
      message += ":-default})";
      throw ConfigError(where, message);
    }
    i = close;
  }
  return out;
}

std::string expandVariables(const std::string& value, const EnvLookup& env,
                            const std::string& where) {
  try {
    return expandVariables(value, env, ConfigLocation{});
  } catch (const ConfigError& error) {
    if (where.empty()) throw;
    throw ConfigError(where + ": " + error.message());
  }
}

}  // namespace gatherd::core
