#include "redactor.hpp"

#include <algorithm>
#include <array>

namespace gatherd::plugins::xychatai {

void Redactor::add(std::string_view secret) {
  if (secret.size() < 4) return;
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
  secrets_.emplace_back(secret);
  // Longest first, so a secret that contains another is replaced whole.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string Redactor::apply(std::string_view text) const {
  std::string result(text);
  for (const auto& secret : secrets_) {
    std::size_t pos = 0;
    while ((pos = result.find(secret, pos)) != std::string::npos) {
      result.replace(pos, secret.size(), kRedacted);
      pos += std::char_traits<char>::length(kRedacted);
    }
  }
  return result;
}

bool Redactor::containsSecret(std::string_view text) const {
  return std::any_of(secrets_.begin(), secrets_.end(), [&](const std::string& secret) {
    return text.find(secret) != std::string_view::npos;
  });
}

bool isSecretKey(std::string_view key) {
  static constexpr std::array<std::string_view, 10> kNames = {
      "apikey",   "api_key",  "cookie",      "authorization", "password",
      "secret",   "sessionid", "accesstoken", "access_token",  "share-session"};
  std::string lower;
  lower.reserve(key.size());
  for (char c : key) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  return std::find(kNames.begin(), kNames.end(), lower) != kNames.end();
}

}  // namespace gatherd::plugins::xychatai
