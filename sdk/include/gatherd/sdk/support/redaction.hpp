#pragma once
// The one secret-masking algorithm of gatherd: the core's log mask and the plugins' redactors
// use it, so a secret is matched the same way in a log line, a window message and raw JSON.

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace gatherd::sdk {

namespace redaction_detail {

inline int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Marks in `covered` every byte of `haystack` that is part of an occurrence of a secret;
/// `origin[i]`..`origin[i + 1]` is the span of `text` that byte i of `haystack` came from.
template <class Secrets>
bool markIn(std::string_view haystack, const std::vector<std::size_t>* origin,
            const Secrets& secrets, std::vector<bool>& covered) {
  bool any = false;
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (auto at = haystack.find(secret); at != std::string_view::npos;
         at = haystack.find(secret, at + 1)) {
      const std::size_t from = origin ? (*origin)[at] : at;
      const std::size_t to = origin ? (*origin)[at + secret.size()] : at + secret.size();
      for (std::size_t i = from; i < to; ++i) covered[i] = true;
      any = true;
    }
  }
  return any;
}

/// `text` with %XX sequences decoded (and '+' read as a space when `plus_is_space`), and the
/// offset in `text` where each decoded byte starts (one more entry: text.size()).
inline std::string percentDecoded(std::string_view text, bool plus_is_space,
                                  std::vector<std::size_t>& origin) {
  std::string decoded;
  decoded.reserve(text.size());
  origin.clear();
  origin.reserve(text.size() + 1);
  for (std::size_t i = 0; i < text.size();) {
    origin.push_back(i);
    if (text[i] == '%' && i + 2 < text.size() && hexValue(text[i + 1]) >= 0 &&
        hexValue(text[i + 2]) >= 0) {
      decoded.push_back(static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2])));
      i += 3;
    } else {
      decoded.push_back(plus_is_space && text[i] == '+' ? ' ' : text[i]);
      ++i;
    }
  }
  origin.push_back(text.size());
  return decoded;
}

}  // namespace redaction_detail

/// True for JSON object keys whose value is a credential whatever it holds (apiKey, cookie,
/// password, ...), compared without case. Plugins mask such values in raw JSON they keep.
inline bool isSecretKeyName(std::string_view key) {
  static constexpr std::string_view kNames[] = {
      "apikey",    "api_key",     "cookie",       "authorization", "password",           "secret",
      "sessionid", "accesstoken", "access_token", "share-session", "proxy-authorization"};
  std::string lower;
  lower.reserve(key.size());
  for (char c : key) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  for (std::string_view name : kNames) {
    if (lower == name) return true;
  }
  return false;
}

/// The forms of `secret` worth masking: itself, and its percent-decoded copy when it holds
/// %XX escapes (a cookie is often configured URL-encoded but echoed decoded).
inline std::vector<std::string> secretForms(std::string_view secret) {
  std::vector<std::string> forms;
  if (secret.empty()) return forms;
  forms.emplace_back(secret);
  if (secret.find('%') != std::string_view::npos) {
    std::vector<std::size_t> origin;
    std::string decoded = redaction_detail::percentDecoded(secret, false, origin);
    if (!decoded.empty() && decoded != secret) forms.push_back(std::move(decoded));
  }
  return forms;
}

/// Which bytes of `text` belong to a secret: a plain occurrence, or a URL-encoded copy (any mix
/// of %XX escapes in upper or lower case, and '+' for a space), so a secret echoed inside a URL
/// or a form body is caught too. `secrets` is any container of std::string.
template <class Secrets>
std::vector<bool> secretBytes(std::string_view text, const Secrets& secrets, bool& any) {
  std::vector<bool> covered(text.size(), false);
  any = redaction_detail::markIn(text, nullptr, secrets, covered);
  const bool has_percent = text.find('%') != std::string_view::npos;
  const bool has_plus = text.find('+') != std::string_view::npos;
  if (has_percent || has_plus) {
    std::vector<std::size_t> origin;
    if (has_percent) {
      const std::string decoded = redaction_detail::percentDecoded(text, false, origin);
      any = redaction_detail::markIn(decoded, &origin, secrets, covered) || any;
    }
    if (has_plus) {
      const std::string decoded = redaction_detail::percentDecoded(text, true, origin);
      any = redaction_detail::markIn(decoded, &origin, secrets, covered) || any;
    }
  }
  return covered;
}

/// `text` with every occurrence (plain or URL-encoded) of every non-empty secret replaced by
/// `replacement`. Overlapping or adjacent occurrences become a single replacement, so no
/// fragment of a longer secret survives because a shorter one was masked first.
template <class Secrets>
std::string maskSecrets(std::string_view text, const Secrets& secrets,
                        std::string_view replacement = "***") {
  bool any = false;
  const std::vector<bool> covered = secretBytes(text, secrets, any);
  if (!any) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!covered[i]) {
      out += text[i];
    } else if (i == 0 || !covered[i - 1]) {
      out += replacement;
    }
  }
  return out;
}

/// A thread-safe set of secrets and the text they are masked with. The core's log mask is one;
/// a plugin keeps its own for what it writes into records and window messages, and tells the
/// core about secrets it learns at run time with Host::addSecret().
class SecretMask {
 public:
  explicit SecretMask(std::string replacement = "***", std::size_t min_length = 1)
      : replacement_(std::move(replacement)), min_length_(std::max<std::size_t>(min_length, 1)) {}
  SecretMask(const SecretMask& other)
      : replacement_(other.replacement_), min_length_(other.min_length_) {
    std::shared_lock lock(other.mutex_);
    secrets_ = other.secrets_;
  }
  SecretMask& operator=(const SecretMask& other) {
    if (this == &other) return *this;
    std::set<std::string, std::less<>> copy;
    {
      std::shared_lock lock(other.mutex_);
      copy = other.secrets_;
    }
    std::unique_lock lock(mutex_);
    replacement_ = other.replacement_;
    min_length_ = other.min_length_;
    secrets_ = std::move(copy);
    return *this;
  }

  /// Adds a secret; values shorter than the minimum length are ignored (they would mask
  /// ordinary text and protect nothing). Returns true when it was new.
  bool add(std::string_view secret) {
    if (secret.size() < min_length_) return false;
    std::unique_lock lock(mutex_);
    bool added = false;
    for (auto& form : secretForms(secret)) {
      if (form.size() >= min_length_) added = secrets_.insert(std::move(form)).second || added;
    }
    return added;
  }
  /// Replaces every secret with `secrets` (any container of strings; a reload).
  template <class Secrets>
  void replace(const Secrets& secrets) {
    std::set<std::string, std::less<>> kept;
    for (const auto& secret : secrets) {
      for (auto& form : secretForms(secret)) {
        if (form.size() >= min_length_) kept.insert(std::move(form));
      }
    }
    std::unique_lock lock(mutex_);
    secrets_ = std::move(kept);
  }
  std::string apply(std::string_view text) const {
    std::shared_lock lock(mutex_);
    return maskSecrets(text, secrets_, replacement_);
  }
  bool containsSecret(std::string_view text) const {
    std::shared_lock lock(mutex_);
    bool any = false;
    secretBytes(text, secrets_, any);
    return any;
  }
  bool empty() const {
    std::shared_lock lock(mutex_);
    return secrets_.empty();
  }
  std::set<std::string, std::less<>> secrets() const {
    std::shared_lock lock(mutex_);
    return secrets_;
  }

 private:
  mutable std::shared_mutex mutex_;
  std::string replacement_;
  std::size_t min_length_;
  std::set<std::string, std::less<>> secrets_;
};

}  // namespace gatherd::sdk
