#include "core/config/redaction.hpp"

#include <vector>

namespace gatherd::core {

std::string maskSecrets(std::string_view text, const std::set<std::string>& secrets) {
  // Mark every byte covered by some occurrence first, then emit: masking secret by secret
  // would let a later secret that overlaps an earlier one slip through partly.
  std::vector<bool> covered(text.size(), false);
  bool any = false;
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (auto at = text.find(secret); at != std::string_view::npos;
         at = text.find(secret, at + 1)) {
      for (std::size_t i = at; i < at + secret.size(); ++i) covered[i] = true;
      any = true;
    }
  }
  if (!any) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!covered[i]) {
      out += text[i];
    } else if (i == 0 || !covered[i - 1]) {
      out += "***";
    }
  }
  return out;
}

}  // namespace gatherd::core
