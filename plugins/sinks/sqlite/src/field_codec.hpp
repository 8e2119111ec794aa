#pragma once
// Typed record fields to and from the JSON kept in payload/fields columns. Decoding uses
// SQLite's json_each, so the store needs no JSON parser of its own.

#include <optional>
#include <string>
#include <string_view>

#include "connection.hpp"
#include "gatherd/lib/storage/flat_fields.hpp"
#include "gatherd/sdk/record.hpp"

namespace gatherd::plugins::sqlite {

using storage::encodeFields;
using storage::parseFlatObject;

/// The inverse of encodeFields, on `connection`'s thread: parseFlatObject, falling back to
/// SQLite's json_each for other shapes (rows migrated from the seed may nest). Nested values
/// come back as their JSON text; invalid JSON gives no fields.
sdk::Fields decodeFields(Connection& connection, std::string_view json);

}  // namespace gatherd::plugins::sqlite
