#include "gatherd/lib/storage/invocation_values.hpp"

#include <cmath>

#include "gatherd/lib/json/time_format.hpp"

namespace gatherd::storage {

namespace inv = sdk::streams::invocation;

InvocationIdentity invocationIdentity(const sdk::Record& record) {
  InvocationIdentity identity;
  if (const auto bar = record.key.rfind('|'); bar != std::string::npos) {
    identity.invoke_id = record.key.substr(0, bar);
    identity.occurred_at = record.key.substr(bar + 1);
  } else {
    identity.invoke_id = record.get<std::string>(inv::kRequestId).value_or(record.key);
    identity.occurred_at = json::formatIsoUtc(record.time_ms);
  }
  return identity;
}

InvocationValues invocationValues(const sdk::Record& record) {
  InvocationValues values;
  values.occurred_ms = record.time_ms < 0 ? 0 : record.time_ms;
  values.model = textField(record, inv::kModel);
  values.status = textField(record, inv::kStatus);
  values.cost = record.get<double>(inv::kCostUsd);
  if (values.cost && !std::isfinite(*values.cost)) values.cost.reset();
  for (std::size_t i = 0; i < kInvocationTokenFields.size(); ++i) {
    values.tokens[i] = intField(record, kInvocationTokenFields[i]);
  }
  return values;
}

std::optional<std::int64_t> intField(const sdk::Record& record, const char* name) {
  if (auto value = record.get<std::int64_t>(name)) return value;
  if (auto value = record.get<double>(name); value && std::isfinite(*value)) {
    return std::llround(*value);
  }
  return std::nullopt;
}

std::string textField(const sdk::Record& record, const char* name) {
  return record.get<std::string>(name).value_or(std::string());
}

}  // namespace gatherd::storage
