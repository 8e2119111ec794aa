#include "core/config/redaction.hpp"

#include "gatherd/sdk/support/redaction.hpp"

namespace gatherd::core {

std::string maskSecrets(std::string_view text, const std::set<std::string>& secrets) {
  return sdk::maskSecrets(text, secrets, "***");
}

}  // namespace gatherd::core
