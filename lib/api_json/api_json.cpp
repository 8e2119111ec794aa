#include "gatherd/lib/api_json/api_json.hpp"

#include <algorithm>
#include <string_view>

#include "gatherd/lib/json/json_writer.hpp"
#include "gatherd/lib/json/record_json.hpp"
#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/sdk/streams.hpp"

namespace gatherd::api_json {
namespace {

namespace fields = sdk::streams::invocation;

void intOrNull(json::Writer& writer, const sdk::Record& record, const char* name) {
  if (auto value = record.get<std::int64_t>(name))
    writer.integer(*value);
  else if (auto number = record.get<double>(name))
    writer.number(*number);
  else
    writer.null();
}

void stringOrNull(json::Writer& writer, const sdk::Record& record, const char* name) {
  if (auto value = record.get<std::string>(name))
    writer.string(*value);
  else
    writer.null();
}

}  // namespace

std::string totalsMembers(const sdk::Totals& totals) {
  std::string out;
  json::Writer writer(out);
  writer.key("count").integer(totals.count);
  writer.key("success").integer(totals.success);
  writer.key("failure").integer(totals.failure);
  writer.key("successRate");
  if (totals.count > 0) {
    writer.number(static_cast<double>(totals.success) / static_cast<double>(totals.count));
  } else {
    writer.null();
  }
  writer.key("costUsd").number(totals.cost_usd);
  writer.key("inputTokens").integer(totals.input_tokens);
  writer.key("outputTokens").integer(totals.output_tokens);
  writer.key("cacheInputTokens").integer(totals.cache_input_tokens);
  writer.key("reasoningTokens").integer(totals.reasoning_tokens);
  writer.key("totalTokens").integer(totals.total_tokens);
  return out;
}

std::string totals(const sdk::Totals& totals) {
  return "{" + totalsMembers(totals) + "}";
}

std::string invocation(const sdk::StoredInvocation& invocation) {
  const sdk::Record& record = invocation.record;
  std::string out;
  json::Writer writer(out);
  writer.beginObject();
  writer.key("id").integer(invocation.id);
  writer.key("source").string(invocation.source);
  writer.key("requestId").string(record.get<std::string>(fields::kRequestId).value_or(""));
  writer.key("occurredAt").string(json::formatIsoUtc(record.time_ms));
  writer.key("requestTime");
  stringOrNull(writer, record, fields::kRequestTime);
  writer.key("model").string(record.get<std::string>(fields::kModel).value_or(""));
  writer.key("status").string(record.get<std::string>(fields::kStatus).value_or(""));
  writer.key("errorMessage").string(record.get<std::string>(fields::kErrorMessage).value_or(""));
  writer.key("inputTokens").integer(record.get<std::int64_t>(fields::kInputTokens).value_or(0));
  writer.key("outputTokens").integer(record.get<std::int64_t>(fields::kOutputTokens).value_or(0));
  writer.key("cacheInputTokens")
      .integer(record.get<std::int64_t>(fields::kCacheInputTokens).value_or(0));
  writer.key("reasoningTokens")
      .integer(record.get<std::int64_t>(fields::kReasoningTokens).value_or(0));
  writer.key("totalTokens").integer(record.get<std::int64_t>(fields::kTotalTokens).value_or(0));
  writer.key("costUsd").number(record.get<double>(fields::kCostUsd).value_or(0));
  writer.key("responseTimeMs");
  intOrNull(writer, record, fields::kResponseTimeMs);
  writer.key("firstByteTimeMs");
  intOrNull(writer, record, fields::kFirstByteTimeMs);
  writer.key("serviceTier");
  stringOrNull(writer, record, fields::kServiceTier);
  writer.key("createdAt").string(json::formatIsoUtc(invocation.created_ms));
  writer.key("updatedAt").string(json::formatIsoUtc(invocation.updated_ms));
  writer.key("raw");
  if (record.raw_json.empty())
    writer.null();
  else
    writer.raw(record.raw_json);
  writer.endObject();
  return out;
}

std::string window(std::int64_t id, const sdk::WindowResult& window) {
  std::string body = json::windowResultToJson(window);
  return "{\"id\":" + std::to_string(id) + "," + body.substr(1);
}

std::string window(const sdk::WindowResult& window) {
  return json::windowResultToJson(window);
}

std::string quota(const std::string& source, const sdk::Record& quota) {
  std::string out;
  json::Writer writer(out);
  writer.beginObject();
  writer.key("source").string(source);
  writer.key("time").string(json::formatIsoUtc(quota.time_ms));
  for (const auto& [name, value] : quota.fields) {
    if (name == "source" || name == "time") continue;
    writer.key(json::camelCase(name)).value(value);
  }
  writer.endObject();
  return out;
}

std::string alert(const sdk::Record& alert) {
  static const char* const kTop[] = {"rule",  "source",   "subject",
                                     "state", "fired_at", "resolved_at"};
  std::string out;
  json::Writer writer(out);
  writer.beginObject();
  writer.key("id").string(alert.key);
  for (const char* name : kTop) {
    writer.key(json::camelCase(name));
    auto it = alert.fields.find(name);
    if (it == alert.fields.end())
      writer.null();
    else
      writer.value(it->second);
  }
  writer.key("details").beginObject();
  for (const auto& [name, value] : alert.fields) {
    if (std::find(std::begin(kTop), std::end(kTop), std::string_view(name)) != std::end(kTop)) {
      continue;
    }
    writer.key(json::camelCase(name)).value(value);
  }
  writer.endObject();
  writer.endObject();
  return out;
}

std::string sourceStatus(const std::string& source, const sdk::Record& status) {
  std::string out;
  json::Writer writer(out);
  writer.beginObject();
  writer.key("name").string(source);
  for (const auto& [name, value] : status.fields) writer.key(json::camelCase(name)).value(value);
  writer.endObject();
  return out;
}

}  // namespace gatherd::api_json
