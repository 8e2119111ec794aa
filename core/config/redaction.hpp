#pragma once

#include <set>
#include <string>
#include <string_view>

namespace gatherd::core {

/// Replaces every occurrence of every non-empty secret in `text` with "***". Overlapping or
/// adjacent occurrences become a single "***", so no fragment of a longer secret survives
/// because a shorter one was masked first.
std::string maskSecrets(std::string_view text, const std::set<std::string>& secrets);

}  // namespace gatherd::core
