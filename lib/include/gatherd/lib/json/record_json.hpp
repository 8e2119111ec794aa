#pragma once
// Records and window results as JSON (camelCase keys, UTC ISO-8601 times).

#include <string>

#include "gatherd/sdk/record.hpp"

namespace gatherd::json {

/// {"stream":..,"key":..,"time":"...Z","timeMs":..,"fields":{..},"raw":<raw json or null>}
/// Field names are converted from snake_case to camelCase.
void appendRecord(std::string& out, const sdk::Record& record, bool include_raw = true);
std::string recordToJson(const sdk::Record& record, bool include_raw = true);
/// The record object with a leading "source" member: one line of `gatherd once` and the stdout
/// sink.
void appendSourcedRecord(std::string& out, std::string_view source, const sdk::Record& record,
                         bool include_raw);

/// {"source":..,"window":"...Z","outcome":"ok",...} with every WindowResult member.
void appendWindowResult(std::string& out, const sdk::WindowResult& window);
std::string windowResultToJson(const sdk::WindowResult& window);

/// "cache_input_tokens" -> "cacheInputTokens".
std::string camelCase(std::string_view snake);

}  // namespace gatherd::json
