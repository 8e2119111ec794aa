#pragma once

#include <set>
#include <string>
#include <string_view>

namespace gatherd::core {

/// Replaces every occurrence of every non-empty secret in `text` with "***", plain or
/// URL-encoded. Overlapping or adjacent occurrences become a single "***", so no fragment of a
/// longer secret survives because a shorter one was masked first. The algorithm is the sdk's
/// (gatherd/sdk/support/redaction.hpp), shared with the plugins' redactors.
std::string maskSecrets(std::string_view text, const std::set<std::string>& secrets);

}  // namespace gatherd::core
