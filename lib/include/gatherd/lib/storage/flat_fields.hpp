#pragma once
// Typed record fields as a flat JSON object: what the store sinks keep in their payload and
// fields columns.

#include <optional>
#include <string>
#include <string_view>

#include "gatherd/sdk/record.hpp"

namespace gatherd::storage {

/// {"name":value,...}; doubles always carry a fraction or exponent so they decode as doubles.
std::string encodeFields(const sdk::Fields& fields);

/// Parses a flat JSON object (string, number, bool and null members), or nullopt for anything
/// else (nested values, invalid JSON).
std::optional<sdk::Fields> parseFlatObject(std::string_view json);

}  // namespace gatherd::storage
