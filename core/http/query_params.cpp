#include "core/http/query_params.hpp"

#include <algorithm>
#include <charconv>

#include "gatherd/lib/json/time_format.hpp"

namespace gatherd::core {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool allDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::optional<std::string> percentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int high = hexValue(text[i + 1]);
      int low = hexValue(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      char decoded = static_cast<char>(high * 16 + low);
      if (decoded == '\0') return std::nullopt;
      out.push_back(decoded);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

QueryParams::QueryParams(std::string_view query) {
  while (!query.empty()) {
    std::size_t end = query.find('&');
    std::string_view pair = query.substr(0, end);
    query = end == std::string_view::npos ? std::string_view() : query.substr(end + 1);
    if (pair.empty()) continue;
    std::size_t equals = pair.find('=');
    auto name = percentDecode(pair.substr(0, equals), true);
    if (!name || name->empty()) throw ParameterError("query", "malformed query string");
    std::string raw(equals == std::string_view::npos ? std::string_view()
                                                     : pair.substr(equals + 1));
    if (!percentDecode(raw, true)) throw ParameterError(*name, "malformed escape in " + *name);
    if (!values_.emplace(*name, std::move(raw)).second) {
      throw ParameterError(*name, "parameter " + *name + " given more than once");
    }
  }
}

void QueryParams::allowOnly(std::initializer_list<std::string_view> allowed) const {
  for (const auto& [name, value] : values_) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      throw ParameterError(name, "unknown parameter " + name);
    }
  }
}

std::optional<std::string> QueryParams::text(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return percentDecode(it->second, true);
}

std::optional<std::int64_t> QueryParams::integer(const std::string& name, std::int64_t min,
                                                 std::int64_t max) const {
  const auto value = text(name);
  if (!value) return std::nullopt;
  const char* first = value->data();
  const char* last = first + value->size();
  std::int64_t number = 0;
  auto [end, error] = std::from_chars(first, last, number);
  if (error != std::errc() || end != last || number < min || number > max) {
    throw ParameterError(name, name + " must be an integer from " + std::to_string(min) + " to " +
                                   std::to_string(max));
  }
  return number;
}

std::optional<std::int64_t> QueryParams::time(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  // A literal '+' here is an offset sign, not a space.
  auto value = percentDecode(it->second, false);
  if (value && allDigits(*value) && value->size() <= 15) return std::stoll(*value);
  if (value) {
    if (auto parsed = json::parseTimestamp(*value, 0)) return parsed;
  }
  throw ParameterError(name, name + " must be an ISO-8601 time or UTC milliseconds");
}

int QueryParams::utcOffset(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return 0;
  auto value = percentDecode(it->second, false);
  // Only the documented forms: "Z" or ±HH:MM.
  if (value &&
      (*value == "Z" ||
       (value->size() == 6 && ((*value)[0] == '+' || (*value)[0] == '-') && (*value)[3] == ':'))) {
    if (auto minutes = json::parseUtcOffset(*value)) {
      if (*minutes >= -14 * 60 && *minutes <= 14 * 60) return *minutes;
    }
  }
  throw ParameterError(name, name + " must be a fixed UTC offset such as +08:00, -05:30 or Z");
}

std::optional<std::string> QueryParams::choice(
    const std::string& name, std::initializer_list<std::string_view> choices) const {
  auto value = text(name);
  if (!value) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *value) == choices.end()) {
    std::string list;
    for (auto option : choices) list += (list.empty() ? "" : ", ") + std::string(option);
    throw ParameterError(name, name + " must be one of " + list);
  }
  return value;
}

}  // namespace gatherd::core
