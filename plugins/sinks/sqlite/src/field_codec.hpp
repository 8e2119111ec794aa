#pragma once
// Typed record fields to and from the JSON kept in payload/fields columns. Decoding uses
// SQLite's json_each, so the store needs no JSON parser of its own.

#include <optional>
#include <string>
#include <string_view>

#include "connection.hpp"
#include "gatherd/sdk/record.hpp"

namespace gatherd::plugins::sqlite {

/// {"name":value,...}; doubles always carry a fraction or exponent so they decode as doubles.
std::string encodeFields(const sdk::Fields& fields);

/// Parses a flat JSON object (string, number, bool and null members), or nullopt for anything
/// else (nested values, invalid JSON).
std::optional<sdk::Fields> parseFlatObject(std::string_view json);

/// The inverse of encodeFields, on `connection`'s thread: parseFlatObject, falling back to
/// SQLite's json_each for other shapes (rows migrated from the seed may nest). Nested values
/// come back as their JSON text; invalid JSON gives no fields.
sdk::Fields decodeFields(Connection& connection, std::string_view json);

}  // namespace gatherd::plugins::sqlite
