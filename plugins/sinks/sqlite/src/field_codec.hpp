#pragma once
// Typed record fields to and from the JSON kept in payload/fields columns. Decoding uses
// SQLite's json_each, so the store needs no JSON parser of its own.

#include <string>

#include "connection.hpp"
#include "gatherd/sdk/record.hpp"

namespace gatherd::plugins::sqlite {

/// {"name":value,...}; doubles always carry a fraction or exponent so they decode as doubles.
std::string encodeFields(const sdk::Fields& fields);

/// The inverse of encodeFields, on `connection`'s thread. Invalid JSON gives no fields.
sdk::Fields decodeFields(Connection& connection, std::string_view json);

}  // namespace gatherd::plugins::sqlite
