#pragma once
// Groups error messages that differ only in ids, numbers and durations.

#include <string>
#include <string_view>

namespace gatherd::storage {

/// "request req_8f3a2b timed out after 30s (id 1234)" -> "request <id> timed out after <dur>
/// (id <n>)". Hex/uuid-like tokens become <id>, numbers with a time unit <dur>, other numbers
/// <n>; whitespace is collapsed and the result is cut at 200 bytes. Empty stays empty.
std::string normaliseErrorMessage(std::string_view message);

}  // namespace gatherd::storage
