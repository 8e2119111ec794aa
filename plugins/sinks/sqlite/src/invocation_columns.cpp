#include "invocation_columns.hpp"

#include <cctype>
#include <unordered_map>

#include "gatherd/lib/json/json_writer.hpp"
#include "gatherd/lib/storage/flat_fields.hpp"
#include "gatherd/lib/storage/invocation_values.hpp"
#include "gatherd/sdk/streams.hpp"

namespace gatherd::plugins::sqlite {
namespace {

namespace inv = sdk::streams::invocation;
constexpr const auto& kTokenFields = storage::kInvocationTokenFields;
// The optional numeric columns after the tokens, with the fields they hold.
constexpr const char* kTimeFields[2] = {inv::kResponseTimeMs, inv::kFirstByteTimeMs};

// "responseTime", "response_time" and "RESPONSE_TIME" alike: lower case, letters and digits.
std::string normalisedName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (const char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

// Whether the field value `field` is the upstream member value of JSON type `type` in column 2
// of `member` (a json_each row).
bool sameValue(const sdk::FieldValue& field, std::string_view type, const Statement& member) {
  if (type == "text") {
    const auto* text = std::get_if<std::string>(&field);
    return text != nullptr && *text == member.viewText(2);
  }
  if (type == "integer") {
    if (const auto* number = std::get_if<std::int64_t>(&field)) return *number == member.getInt(2);
    const auto* real = std::get_if<double>(&field);
    return real != nullptr && *real == static_cast<double>(member.getInt(2));
  }
  if (type == "real") {
    if (const auto* real = std::get_if<double>(&field)) return *real == member.getDouble(2);
    const auto* number = std::get_if<std::int64_t>(&field);
    return number != nullptr && static_cast<double>(*number) == member.getDouble(2);
  }
  if (type == "true" || type == "false") {
    const auto* flag = std::get_if<bool>(&field);
    return flag != nullptr && *flag == (type == "true");
  }
  return false;  // null, objects and arrays: kept
}

void appendMemberValue(std::string& out, std::string_view type, const Statement& member) {
  if (type == "text") {
    json::appendString(out, member.viewText(2));
  } else if (type == "true" || type == "false" || type == "null") {
    out += type;
  } else {
    out += member.viewText(2);  // a number's text, or an object's or array's JSON
  }
}

}  // namespace

InvocationColumns readInvocationColumns(const Statement& row, int first) {
  InvocationColumns columns;
  columns.invoke_id = row.getText(first);
  columns.occurred_at = row.getText(first + 1);
  columns.model = row.getText(first + 2);
  columns.status = row.getText(first + 3);
  if (!row.isNull(first + 4)) columns.error_message = row.getText(first + 4);
  for (std::size_t i = 0; i < columns.tokens.size(); ++i) {
    columns.tokens[i] = row.optInt(first + 5 + static_cast<int>(i));
  }
  columns.cost = row.optDouble(first + 10);
  columns.response_time_ms = row.optInt(first + 11);
  columns.first_byte_time_ms = row.optInt(first + 12);
  if (!row.isNull(first + 13)) columns.request_time = row.getText(first + 13);
  if (!row.isNull(first + 14)) columns.service = row.getText(first + 14);
  if (!row.isNull(first + 15)) columns.service_tier = row.getText(first + 15);
  columns.cache_creation_tokens = row.optInt(first + 16);
  columns.cache_read_tokens = row.optInt(first + 17);
  return columns;
}

void setSchema4Columns(const sdk::Fields& fields, InvocationColumns& columns) {
  auto text = [&fields](const char* name) -> std::optional<std::string> {
    const auto it = fields.find(name);
    if (it == fields.end()) return std::nullopt;
    const auto* value = std::get_if<std::string>(&it->second);
    return value != nullptr ? std::optional(*value) : std::nullopt;
  };
  auto integer = [&fields](const char* name) -> std::optional<std::int64_t> {
    const auto it = fields.find(name);
    if (it == fields.end()) return std::nullopt;
    const auto* value = std::get_if<std::int64_t>(&it->second);
    return value != nullptr ? std::optional(*value) : std::nullopt;
  };
  columns.request_time = text(inv::kRequestTime);
  columns.service = text(inv::kService);
  columns.service_tier = text(inv::kServiceTier);
  columns.cache_creation_tokens = integer(inv::kCacheCreationTokens);
  columns.cache_read_tokens = integer(inv::kCacheReadTokens);
}

void addColumnFields(const InvocationColumns& columns, sdk::Fields& fields) {
  fields.try_emplace(inv::kRequestId, columns.invoke_id);
  fields.try_emplace(inv::kOccurredAt, columns.occurred_at);
  fields.try_emplace(inv::kModel, columns.model);
  fields.try_emplace(inv::kStatus, columns.status);
  fields.try_emplace(inv::kErrorMessage, columns.error_message.value_or(std::string()));
  for (std::size_t i = 0; i < kTokenFields.size(); ++i) {
    if (columns.tokens[i]) fields.try_emplace(kTokenFields[i], *columns.tokens[i]);
  }
  if (columns.cost) fields.try_emplace(inv::kCostUsd, *columns.cost);
  if (columns.response_time_ms) fields.try_emplace(kTimeFields[0], *columns.response_time_ms);
  if (columns.first_byte_time_ms) fields.try_emplace(kTimeFields[1], *columns.first_byte_time_ms);
  if (columns.request_time) fields.try_emplace(inv::kRequestTime, *columns.request_time);
  if (columns.service) fields.try_emplace(inv::kService, *columns.service);
  if (columns.service_tier) fields.try_emplace(inv::kServiceTier, *columns.service_tier);
  if (columns.cache_creation_tokens) {
    fields.try_emplace(inv::kCacheCreationTokens, *columns.cache_creation_tokens);
  }
  if (columns.cache_read_tokens)
    fields.try_emplace(inv::kCacheReadTokens, *columns.cache_read_tokens);
}

std::optional<std::string> extraFields(const sdk::Fields& fields,
                                       const InvocationColumns& columns) {
  sdk::Fields given;
  addColumnFields(columns, given);
  sdk::Fields extra;
  for (const auto& [name, value] : fields) {
    const auto it = given.find(name);
    if (it == given.end() || it->second != value) extra.emplace(name, value);
  }
  if (extra.empty()) return std::nullopt;
  return storage::encodeFields(extra);
}

std::optional<std::string> rawResidue(Connection& connection, std::string_view raw,
                                      const sdk::Fields& fields) {
  if (raw.empty()) return std::nullopt;
  if (!isJsonObject(connection, raw)) return std::string(raw);

  std::unordered_map<std::string, const sdk::FieldValue*> by_name;
  for (const auto& [name, value] : fields) by_name.emplace(normalisedName(name), &value);
  Statement& members = connection.cached(
      "SELECT key, type, CASE WHEN type IN ('object', 'array') THEN value ELSE atom END "
      "FROM json_each(?1)");
  members.bind(1, raw);
  std::string out;
  while (members.step()) {
    const std::string_view type = members.viewText(1);
    const std::string name = normalisedName(members.viewText(0));
    bool held = false;
    for (const char* unit : {"", "ms", "usd"}) {
      const auto it = by_name.find(name + unit);
      if (it != by_name.end() && sameValue(*it->second, type, members)) {
        held = true;
        break;
      }
    }
    if (held) continue;
    out.push_back(out.empty() ? '{' : ',');
    json::appendString(out, members.viewText(0));
    out.push_back(':');
    appendMemberValue(out, type, members);
  }
  members.start();
  if (out.empty()) return std::nullopt;
  out.push_back('}');
  return out;
}

bool isJsonObject(Connection& connection, std::string_view json) {
  Statement& shape =
      connection.cached("SELECT CASE WHEN json_valid(?1) THEN json_type(?1) = 'object' ELSE 0 END");
  shape.bind(1, json);
  const bool object = shape.step() && shape.getInt(0) != 0;
  shape.start();
  return object;
}

std::string payloadColumnSql() {
  // json_patch('{}', ...) leaves out the members whose column is NULL; extra wins over them.
  std::string sql =
      "CASE WHEN extra IS NULL OR (CASE WHEN json_valid(extra) THEN json_type(extra) END) = "
      "'object' THEN json_patch(json_patch('{}', json_object('";
  sql += std::string(inv::kRequestId) + "', invoke_id, '" + inv::kOccurredAt + "', occurred_at, '" +
         inv::kModel + "', model, '" + inv::kStatus + "', status, '" + inv::kErrorMessage +
         "', coalesce(error_message, '')";
  const char* const token_columns[] = {"input_tokens", "output_tokens", "cache_input_tokens",
                                       "reasoning_tokens", "total_tokens"};
  for (std::size_t i = 0; i < kTokenFields.size(); ++i) {
    sql += std::string(", '") + kTokenFields[i] + "', " + token_columns[i];
  }
  sql += std::string(", '") + inv::kCostUsd + "', cost, '" + kTimeFields[0] +
         "', response_time_ms, '" + kTimeFields[1] + "', first_byte_time_ms, '" +
         inv::kRequestTime + "', request_time, '" + inv::kService + "', service, '" +
         inv::kServiceTier + "', service_tier, '" + inv::kCacheCreationTokens +
         "', cache_creation_tokens, '" + inv::kCacheReadTokens +
         "', cache_read_tokens)), coalesce(extra, '{}')) ELSE extra END";
  return sql;
}

}  // namespace gatherd::plugins::sqlite
