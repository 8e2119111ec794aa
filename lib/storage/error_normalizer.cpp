#include "gatherd/lib/storage/error_normalizer.hpp"

#include <cctype>

namespace gatherd::storage {
namespace {

constexpr std::size_t kMaxLength = 200;

bool isWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

bool isDurationUnit(std::string_view unit) {
  return unit == "ms" || unit == "s" || unit == "sec" || unit == "secs" || unit == "seconds" ||
         unit == "m" || unit == "min" || unit == "mins" || unit == "minutes" || unit == "h" ||
         unit == "hours" || unit == "us" || unit == "ns";
}

/// A token is an id when it mixes digits with letters (or is long hex), like "req_8f3a2b" or
/// a uuid; plain words stay.
bool looksLikeId(std::string_view token) {
  bool digit = false;
  bool alpha = false;
  for (char c : token) {
    if (std::isdigit(static_cast<unsigned char>(c)) != 0) digit = true;
    if (std::isalpha(static_cast<unsigned char>(c)) != 0) alpha = true;
  }
  return digit && (alpha || token.find('-') != std::string_view::npos) && token.size() >= 6;
}

}  // namespace

std::string normaliseErrorMessage(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  std::size_t i = 0;
  while (i < message.size() && out.size() < kMaxLength) {
    const char c = message[i];
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
      ++i;
      continue;
    }
    if (!isWordChar(c)) {
      out.push_back(c);
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < message.size() && (isWordChar(message[end]) || message[end] == '.')) ++end;
    while (end > i && message[end - 1] == '.') --end;
    std::string_view token = message.substr(i, end - i);
    i = end;
    std::size_t digits = 0;
    while (digits < token.size() &&
           (std::isdigit(static_cast<unsigned char>(token[digits])) != 0 || token[digits] == '.')) {
      ++digits;
    }
    if (digits > 0 && digits == token.size()) {
      // A bare number; a following unit word makes it a duration ("30 s").
      std::size_t j = i;
      while (j < message.size() && message[j] == ' ') ++j;
      std::size_t unit_end = j;
      while (unit_end < message.size() &&
             std::isalpha(static_cast<unsigned char>(message[unit_end])) != 0) {
        ++unit_end;
      }
      if (unit_end > j && isDurationUnit(message.substr(j, unit_end - j))) {
        out += "<dur>";
        i = unit_end;
      } else {
        out += "<n>";
      }
    } else if (digits > 0 && isDurationUnit(token.substr(digits))) {
      out += "<dur>";
    } else if (looksLikeId(token)) {
      out += "<id>";
    } else {
      out.append(token);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > kMaxLength) {
    out.resize(kMaxLength);
    // Never leave half of a UTF-8 sequence at the end.
    std::size_t lead = out.size();
    while (lead > 0 && (static_cast<unsigned char>(out[lead - 1]) & 0xC0) == 0x80) --lead;
    if (lead > 0) {
      const auto byte = static_cast<unsigned char>(out[lead - 1]);
      const std::size_t expected = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
      if (out.size() - (lead - 1) < expected) out.resize(lead - 1);
    }
  }
  return out;
}

}  // namespace gatherd::storage
