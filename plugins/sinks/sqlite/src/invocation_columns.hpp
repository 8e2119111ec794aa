#pragma once
// How the sqlite store keeps an invocation compactly (schema 4): the typed columns hold the
// well-known fields, `extra` only the fields they cannot give back exactly, and `raw_response`
// only the upstream members no field holds. `payload` (the seed's column) is generated from
// these when read, so nothing is stored twice.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "connection.hpp"
#include "gatherd/sdk/record.hpp"

namespace gatherd::plugins::sqlite {

/// The typed columns of one codex_invocations row that stand for record fields.
struct InvocationColumns {
  std::string invoke_id;
  std::string occurred_at;
  std::string model;
  std::string status;
  std::optional<std::string> error_message;           ///< NULL stands for ""
  std::array<std::optional<std::int64_t>, 5> tokens;  ///< storage::kInvocationTokenFields' order
  std::optional<double> cost;
  std::optional<std::int64_t> response_time_ms;
  std::optional<std::int64_t> first_byte_time_ms;
  // From schema 4 on: the other well-known fields (sdk/streams.hpp), NULL when absent.
  std::optional<std::string> request_time;
  std::optional<std::string> service;
  std::optional<std::string> service_tier;
  std::optional<std::int64_t> cache_creation_tokens;
  std::optional<std::int64_t> cache_read_tokens;
};

/// The columns of InvocationColumns, in the order readInvocationColumns reads them.
inline constexpr const char* kInvocationColumnList =
    "invoke_id, occurred_at, model, status, error_message, input_tokens, output_tokens, "
    "cache_input_tokens, reasoning_tokens, total_tokens, cost, response_time_ms, "
    "first_byte_time_ms, request_time, service, service_tier, cache_creation_tokens, "
    "cache_read_tokens";

/// Reads kInvocationColumnList from `row`, starting at column `first`.
InvocationColumns readInvocationColumns(const Statement& row, int first);

/// Sets the columns schema 4 added (request_time ... cache_read_tokens) from `fields`: a value
/// of the field's documented type, else NULL (extra keeps it then).
void setSchema4Columns(const sdk::Fields& fields, InvocationColumns& columns);

/// Adds the fields the columns stand for to `fields`, keeping any already there (from extra).
/// model, status and error_message always come back, "" when the record had none.
void addColumnFields(const InvocationColumns& columns, sdk::Fields& fields);

/// The fields of `fields` that addColumnFields would not give back as they are (other names,
/// other types, other values), as encodeFields JSON; nullopt when there are none.
std::optional<std::string> extraFields(const sdk::Fields& fields, const InvocationColumns& columns);

/// The members of the upstream JSON object `raw` that no field of `fields` holds: a member is
/// held when a field of the same name (compared without case and '_', optionally followed by
/// the unit "ms" or "usd": responseTime ~ response_time_ms) has the same value. Nested members
/// are always kept. nullopt when every member is held or raw is empty; raw unchanged when it is
/// not a JSON object. Member order is kept; numbers come back in SQLite's spelling.
std::optional<std::string> rawResidue(Connection& connection, std::string_view raw,
                                      const sdk::Fields& fields);

/// Whether `json` is a valid JSON object (SQLite's JSON functions decide).
bool isJsonObject(Connection& connection, std::string_view json);

/// The SQL of the generated payload column: the typed columns and extra as one JSON object, or
/// extra itself when that is not a JSON object (a seed-era payload kept as it was).
std::string payloadColumnSql();

}  // namespace gatherd::plugins::sqlite
