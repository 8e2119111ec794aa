// Over 500 lines: the lenient rules for every field of UPSTREAM.md (types, units, time zones,
// masking) in one reviewed place.
#include "parser.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>

#include "gatherd/lib/json/json_writer.hpp"
#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/sdk/streams.hpp"
#include <simdjson.h>

namespace gatherd::plugins::xychatai {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
namespace inv = sdk::streams::invocation;
namespace quo = sdk::streams::quota;

constexpr std::size_t kMaxProblems = 10;
constexpr std::size_t kMaxQuotedChars = 40;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n' ||
                           text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' ||
                           text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string lowerCase(std::string_view text) {
  std::string lower;
  lower.reserve(text.size());
  for (char c : text) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  return lower;
}

/// A JSON value of the parsed document, or nothing (a missing member). Valid while the parser
/// that made the document is not reused, i.e. during one parseQuotaResponse() call.
class Var {
 public:
  Var() = default;
  explicit Var(element value) : value_(value), present_(true) {}

  bool isEmpty() const { return !present_ || value_.type() == element_type::NULL_VALUE; }
  bool isObject() const { return present_ && value_.type() == element_type::OBJECT; }
  bool isArray() const { return present_ && value_.type() == element_type::ARRAY; }
  bool isString() const { return present_ && value_.type() == element_type::STRING; }
  bool isBoolean() const { return present_ && value_.type() == element_type::BOOL; }
  bool isSigned() const { return present_ && value_.type() == element_type::INT64; }
  bool isInteger() const {
    return present_ &&
           (value_.type() == element_type::INT64 || value_.type() == element_type::UINT64);
  }
  bool isNumeric() const {
    return isInteger() || (present_ && value_.type() == element_type::DOUBLE);
  }

  // Call only after the matching is...() check.
  std::string_view string() const { return value_.get_string().value_unsafe(); }
  bool boolean() const { return value_.get_bool().value_unsafe(); }
  std::int64_t int64() const { return value_.get_int64().value_unsafe(); }
  std::uint64_t uint64() const { return value_.get_uint64().value_unsafe(); }
  /// Any number as a double.
  double number() const {
    switch (value_.type()) {
      case element_type::INT64: return static_cast<double>(int64());
      case element_type::UINT64: return static_cast<double>(uint64());
      default: return value_.get_double().value_unsafe();
    }
  }
  simdjson::dom::object object() const { return value_.get_object().value_unsafe(); }
  simdjson::dom::array array() const { return value_.get_array().value_unsafe(); }
  element raw() const { return value_; }

 private:
  element value_;
  bool present_ = false;
};

/// A number as the shortest text that reads back as the same value.
std::string numberText(double value) {
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return error == std::errc() ? std::string(buffer, end) : std::string("?");
}

/// Any value as text, the way it is quoted in a problem message.
std::string convertToText(const Var& value) {
  if (value.isEmpty()) return "";
  if (value.isString()) return std::string(value.string());
  if (value.isBoolean()) return value.boolean() ? "true" : "false";
  if (value.isSigned()) return std::to_string(value.int64());
  if (value.isInteger()) return std::to_string(value.uint64());
  if (value.isNumeric()) return numberText(value.number());
  return simdjson::minify(value.raw());
}

/// A value read leniently: absent (missing, null, blank), understood, or present but invalid.
template <class T>
struct Lenient {
  enum class State { kAbsent, kValue, kInvalid } state = State::kAbsent;
  T value{};
  std::string shown;  ///< the invalid value as text, for the problem message (not yet redacted)
};

std::string shownValue(const Var& value) {
  std::string text = convertToText(value);
  // Whole: it is redacted before it is cut to kMaxQuotedChars (redactedQuote).
  return text;
}

Lenient<double> readDouble(const Var& value) {
  Lenient<double> result;
  if (value.isEmpty()) return result;
  if (value.isString()) {
    const std::string_view trimmed = trim(value.string());
    if (trimmed.empty()) return result;
    double parsed = 0;
    const auto [end, error] =
        std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), parsed);
    if (error == std::errc() && end == trimmed.data() + trimmed.size() && std::isfinite(parsed)) {
      result.state = Lenient<double>::State::kValue;
      result.value = parsed;
      return result;
    }
  } else if (value.isNumeric()) {
    result.value = value.number();
    if (std::isfinite(result.value)) {
      result.state = Lenient<double>::State::kValue;
      return result;
    }
  }
  result.state = Lenient<double>::State::kInvalid;
  result.shown = shownValue(value);
  return result;
}

Lenient<std::int64_t> readInt(const Var& value) {
  Lenient<std::int64_t> result;
  if (value.isEmpty()) return result;
  if (value.isInteger()) {
    // An unsigned value is above INT64_MAX (the parser reads everything else as signed).
    if (value.isSigned()) {
      result.state = Lenient<std::int64_t>::State::kValue;
      result.value = value.int64();
      return result;
    }
  } else {
    const auto number = readDouble(value);
    if (number.state == Lenient<double>::State::kAbsent) return result;
    // Counts sent as "10" or 10.0 are whole numbers; 10.5 tokens is not a count.
    if (number.state == Lenient<double>::State::kValue &&
        std::floor(number.value) == number.value && std::fabs(number.value) < 9.0e18) {
      result.state = Lenient<std::int64_t>::State::kValue;
      result.value = static_cast<std::int64_t>(number.value);
      return result;
    }
  }
  result.state = Lenient<std::int64_t>::State::kInvalid;
  result.shown = shownValue(value);
  return result;
}

Lenient<bool> readBool(const Var& value) {
  Lenient<bool> result;
  if (value.isEmpty()) return result;
  if (value.isBoolean()) {
    result.state = Lenient<bool>::State::kValue;
    result.value = value.boolean();
    return result;
  }
  if (value.isInteger()) {
    if (value.isSigned() && (value.int64() == 0 || value.int64() == 1)) {
      result.state = Lenient<bool>::State::kValue;
      result.value = value.int64() == 1;
      return result;
    }
  } else if (value.isString()) {
    const std::string lower = lowerCase(trim(value.string()));
    if (lower.empty()) return result;
    if (lower == "true" || lower == "yes" || lower == "1") {
      result.state = Lenient<bool>::State::kValue;
      result.value = true;
      return result;
    }
    if (lower == "false" || lower == "no" || lower == "0") {
      result.state = Lenient<bool>::State::kValue;
      result.value = false;
      return result;
    }
  }
  result.state = Lenient<bool>::State::kInvalid;
  result.shown = shownValue(value);
  return result;
}

/// Strings, and numbers as their decimal text (ids sometimes arrive as numbers).
std::optional<std::string> readText(const Var& value) {
  if (value.isEmpty() || value.isObject() || value.isArray()) return std::nullopt;
  return convertToText(value);
}

/// An object's members in key order, each key once with its last value (what a map-based
/// parser gives: raw JSON keeps the key order gatherd has always written).
class ObjectView {
 public:
  explicit ObjectView(simdjson::dom::object object) {
    members_.reserve(24);
    for (const auto member : object) members_.emplace_back(member.key, member.value);
    std::stable_sort(members_.begin(), members_.end(),
                     [](const auto& left, const auto& right) { return left.first < right.first; });
    // Of equal keys keep the last one.
    std::size_t kept = 0;
    for (std::size_t i = 0; i < members_.size(); ++i) {
      if (i + 1 < members_.size() && members_[i + 1].first == members_[i].first) continue;
      members_[kept++] = members_[i];
    }
    members_.resize(kept);
  }
  Var get(std::string_view name) const {
    const auto found = std::lower_bound(
        members_.begin(), members_.end(), name,
        [](const auto& member, std::string_view key) { return member.first < key; });
    if (found == members_.end() || found->first != name) return Var();
    return Var(found->second);
  }
  bool has(std::string_view name) const { return !get(name).isEmpty(); }
  const std::vector<std::pair<std::string_view, element>>& members() const { return members_; }

 private:
  std::vector<std::pair<std::string_view, element>> members_;
};

void writeValue(json::Writer& writer, const Var& value, const Redactor& redactor);
void writeString(json::Writer& writer, std::string_view text);

/// Member names come from the upstream too: one that holds a secret is redacted (found by
/// fuzz/xychatai_parser).
void writeKey(json::Writer& writer, std::string_view name, const Redactor& redactor) {
  if (redactor.containsSecret(name)) {
    writer.key(redactor.apply(name));
  } else {
    writer.key(name);
  }
}

void writeObject(json::Writer& writer, const ObjectView& object, const Redactor& redactor) {
  writer.beginObject();
  for (const auto& [name, raw] : object.members()) {
    const Var value(raw);
    writeKey(writer, name, redactor);
    if (isSecretKey(name) && !value.isEmpty()) {
      writer.string(kRedacted);
    } else {
      writeValue(writer, value, redactor);
    }
  }
  writer.endObject();
}

void writeValue(json::Writer& writer, const Var& value, const Redactor& redactor) {
  if (value.isEmpty()) {
    writer.null();
  } else if (value.isObject()) {
    writeObject(writer, ObjectView(value.object()), redactor);
  } else if (value.isArray()) {
    writer.beginArray();
    for (const element item : value.array()) writeValue(writer, Var(item), redactor);
    writer.endArray();
  } else if (value.isString()) {
    const std::string_view text = value.string();
    if (redactor.containsSecret(text)) {
      writer.string(redactor.apply(text));
    } else {
      writeString(writer, text);
    }
  } else if (value.isBoolean()) {
    writer.boolean(value.boolean());
  } else if (value.isSigned()) {
    writer.integer(value.int64());
  } else if (value.isInteger()) {
    writer.raw(std::to_string(value.uint64()));
  } else {
    writer.number(value.number());
  }
}

/// The parser only yields valid UTF-8, so a string without quotes, backslashes or control
/// characters can be copied as it is; the rest goes through the full escaper.
void writeString(json::Writer& writer, std::string_view text) {
  for (const char c : text) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      writer.string(text);
      return;
    }
  }
  thread_local std::string quoted;
  quoted.clear();
  quoted.push_back('"');
  quoted.append(text);
  quoted.push_back('"');
  writer.raw(quoted);
}

std::string rawJson(const ObjectView& object, const Redactor& redactor) {
  std::string out;
  out.reserve(512);
  json::Writer writer(out);
  writeObject(writer, object, redactor);
  return out;
}

class RecordBuilder {
 public:
  /// `context` names the object in problem messages; it is built only when there is one.
  RecordBuilder(const ObjectView& object, sdk::Fields& fields, std::vector<std::string>& problems,
                const Redactor& redactor, std::function<std::string()> context)
      : object_(object),
        fields_(fields),
        problems_(problems),
        redactor_(redactor),
        context_(std::move(context)) {}

  void integer(const char* upstream_name, const char* field) {
    put(readInt(object_.get(upstream_name)), upstream_name, field, "a whole number");
  }
  void number(const char* upstream_name, const char* field) {
    put(readDouble(object_.get(upstream_name)), upstream_name, field, "a number");
  }
  void boolean(const char* upstream_name, const char* field) {
    put(readBool(object_.get(upstream_name)), upstream_name, field, "true or false");
  }
  void text(const char* upstream_name, const char* field) {
    if (auto value = readText(object_.get(upstream_name))) fields_[field] = std::move(*value);
  }
  void time(const char* upstream_name, const char* field, int offset_minutes) {
    const auto value = readText(object_.get(upstream_name));
    if (!value || trim(*value).empty()) return;
    if (const auto ms = json::parseTimestamp(*value, offset_minutes)) {
      fields_[field] = json::formatIsoUtc(*ms);
    } else {
      invalid(upstream_name, *value, "a time");
    }
  }
  bool has(const char* upstream_name) const { return object_.has(upstream_name); }

 private:
  // A value is stored, an invalid one reported, an absent or null one skipped.
  template <class T>
  void put(const Lenient<T>& value, const char* upstream_name, const char* field,
           const char* expected) {
    if (value.state == Lenient<T>::State::kValue) {
      fields_[field] = value.value;
    } else if (value.state == Lenient<T>::State::kInvalid) {
      invalid(upstream_name, value.shown, expected);
    }
  }
  void invalid(const char* upstream_name, const std::string& shown, const char* expected) {
    if (problems_.size() >= kMaxProblems) return;
    problems_.push_back(context_() + ": " + upstream_name + " '" +
                        redactedQuote(redactor_, shown, kMaxQuotedChars) + "' is not " + expected +
                        " (field left out)");
  }

  const ObjectView& object_;
  sdk::Fields& fields_;
  std::vector<std::string>& problems_;
  const Redactor& redactor_;
  std::function<std::string()> context_;
};

void addProblem(std::vector<std::string>& problems, std::string problem) {
  if (problems.size() < kMaxProblems) problems.push_back(std::move(problem));
}

std::optional<sdk::Record> parseInvocation(std::size_t index, const Var& item,
                                           const ParseOptions& options, const Redactor& redactor,
                                           std::vector<std::string>& problems) {
  auto position = [index] { return "record " + std::to_string(index + 1); };
  if (!item.isObject()) {
    addProblem(problems, position() + ": not a JSON object (rejected)");
    return std::nullopt;
  }
  const ObjectView object(item.object());
  const auto request_id = readText(object.get("requestId"));
  if (!request_id || trim(*request_id).empty()) {
    addProblem(problems, position() + ": no requestId (rejected)");
    return std::nullopt;
  }
  auto context = [&] {
    return position() + " (" + redactedQuote(redactor, *request_id, kMaxQuotedChars) + ")";
  };
  const auto request_time = readText(object.get("requestTime"));
  if (!request_time || trim(*request_time).empty()) {
    addProblem(problems, context() + ": no requestTime (rejected)");
    return std::nullopt;
  }
  const auto time_ms = json::parseTimestamp(*request_time, options.utc_offset_minutes);
  if (!time_ms) {
    addProblem(problems, context() + ": requestTime '" +
                             redactedQuote(redactor, *request_time, kMaxQuotedChars) +
                             "' is not a time (rejected)");
    return std::nullopt;
  }

  sdk::Record record;
  record.stream = sdk::streams::kInvocation;
  record.time_ms = *time_ms;
  const std::string occurred_at = json::formatIsoUtc(*time_ms);
  record.key = *request_id + "|" + occurred_at;
  auto& fields = record.fields;
  fields[inv::kRequestId] = *request_id;
  fields[inv::kRequestTime] = *request_time;
  fields[inv::kOccurredAt] = occurred_at;
  fields[inv::kService] = options.service;

  RecordBuilder builder(object, fields, problems, redactor, context);
  builder.text("model", inv::kModel);
  const auto status = readText(object.get("status"));
  const std::string status_text = status ? lowerCase(trim(*status)) : std::string();
  fields[inv::kStatus] = status_text.empty() ? std::string("unknown") : status_text;
  const auto error_message = readText(object.get("errorMessage"));
  fields[inv::kErrorMessage] = error_message ? redactor.apply(*error_message) : std::string();
  builder.integer("inputTokens", inv::kInputTokens);
  builder.integer("outputTokens", inv::kOutputTokens);
  builder.integer("cacheInputTokens", inv::kCacheInputTokens);
  builder.integer("cacheCreationTokens", inv::kCacheCreationTokens);
  builder.integer("cacheReadTokens", inv::kCacheReadTokens);
  builder.integer("reasoningTokens", inv::kReasoningTokens);
  builder.integer("totalTokens", inv::kTotalTokens);
  builder.number("cost", inv::kCostUsd);
  builder.integer("responseTime", inv::kResponseTimeMs);
  builder.integer("firstByteTime", inv::kFirstByteTimeMs);
  if (builder.has("serviceTier")) {
    builder.text("serviceTier", inv::kServiceTier);
  } else {
    builder.text("service_tier", inv::kServiceTier);
  }
  if (auto model = fields.find(inv::kModel); model != fields.end()) {
    if (auto* text = std::get_if<std::string>(&model->second)) *text = redactor.apply(*text);
  }
  record.raw_json = rawJson(object, redactor);
  return record;
}

/// The plan to report: the first active subscription of an array, else its first object.
std::optional<ObjectView> pickSubscription(const Var& value) {
  if (value.isObject()) return ObjectView(value.object());
  if (!value.isArray()) return std::nullopt;
  std::optional<ObjectView> first;
  for (const element raw : value.array()) {
    const Var item(raw);
    if (!item.isObject()) continue;
    ObjectView object(item.object());
    const auto active = readBool(object.get("isActive"));
    if (active.state == Lenient<bool>::State::kValue && active.value) return object;
    if (!first) first = std::move(object);
  }
  return first;
}

std::optional<sdk::Record> parseQuota(const ObjectView& service_object, const ParseOptions& options,
                                      const Redactor& redactor,
                                      std::vector<std::string>& problems) {
  const Var subscriptions = service_object.get("subscriptions");
  const Var usage = service_object.get("currentUsage");
  if (subscriptions.isEmpty() && usage.isEmpty()) return std::nullopt;

  sdk::Record record;
  record.stream = sdk::streams::kQuota;
  record.key = options.service;
  record.time_ms = options.now_utc_ms;
  auto& fields = record.fields;
  fields[quo::kService] = options.service;
  const auto is_auth = readBool(service_object.get("isAuth"));
  if (is_auth.state == Lenient<bool>::State::kValue) fields[quo::kIsAuth] = is_auth.value;

  if (const auto plan = pickSubscription(subscriptions)) {
    const ObjectView& plan_view = *plan;
    RecordBuilder builder(plan_view, fields, problems, redactor,
                          [] { return std::string("subscriptions"); });
    builder.text("subTypeName", quo::kPlanName);
    builder.text("id", quo::kPlanId);
    builder.text("period", quo::kPeriod);
    builder.time("periodResetTime", quo::kPeriodResetAt, options.utc_offset_minutes);
    builder.time("expireTime", quo::kExpiresAt, options.utc_offset_minutes);
    builder.boolean("isActive", quo::kIsActive);
    builder.boolean("isLongTerm", quo::kIsLongTerm);
    const auto billing = readText(plan_view.get("billingType"));
    std::string billing_type = billing ? lowerCase(trim(*billing)) : std::string();
    // Amount plans count USD, count plans count calls; `limit` means calls, so an amount plan
    // never falls back to it (an earlier tool mixed the two units that way).
    if (billing_type.empty()) {
      if (builder.has("amountLimit") || builder.has("usedAmount") ||
          builder.has("remainingAmount")) {
        billing_type = "amount";
      } else if (builder.has("limit") || builder.has("usedCount") ||
                 builder.has("remainingCount")) {
        billing_type = "count";
      }
    }
    if (!billing_type.empty()) fields[quo::kBillingType] = billing_type;
    if (billing_type == "amount") {
      builder.number("amountLimit", quo::kAmountLimitUsd);
      builder.number("usedAmount", quo::kAmountUsedUsd);
      builder.number("remainingAmount", quo::kAmountRemainingUsd);
    } else if (billing_type == "count") {
      builder.integer("limit", quo::kCountLimit);
      builder.integer("usedCount", quo::kCountUsed);
      builder.integer("remainingCount", quo::kCountRemaining);
    }
  }
  if (usage.isObject()) {
    const ObjectView usage_view(usage.object());
    RecordBuilder builder(usage_view, fields, problems, redactor,
                          [] { return std::string("currentUsage"); });
    builder.integer("totalRequests", quo::kUsage24hRequests);
    builder.integer("totalTokens", quo::kUsage24hTokens);
    builder.number("totalCost", quo::kUsage24hCostUsd);
    builder.time("lastRequestTime", quo::kLastRequestAt, options.utc_offset_minutes);
  }

  // Everything of the service object but the invocations (they are records of their own):
  // unknown keys such as `balance` stay visible; the apiKey is masked by writeObject.
  std::string raw;
  json::Writer writer(raw);
  writer.beginObject();
  for (const auto& [name, raw_value] : service_object.members()) {
    if (name == "recentRecords") continue;
    const Var value(raw_value);
    writeKey(writer, name, redactor);
    if (isSecretKey(name) && !value.isEmpty()) {
      writer.string(kRedacted);
    } else {
      writeValue(writer, value, redactor);
    }
  }
  writer.endObject();
  record.raw_json = std::move(raw);
  return record;
}

std::optional<std::int64_t> readCode(const Var& value) {
  const auto code = readInt(value);
  if (code.state != Lenient<std::int64_t>::State::kValue) return std::nullopt;
  return code.value;
}

ParsedResponse malformed(std::string message) {
  ParsedResponse result;
  result.envelope = Envelope::kMalformed;
  result.message = std::move(message);
  return result;
}

}  // namespace

ParsedResponse parseQuotaResponse(std::string_view body, const ParseOptions& options) {
  Redactor redactor = options.redactor != nullptr ? *options.redactor : Redactor();
  const std::string_view trimmed = trim(body);
  if (trimmed.empty()) return malformed("empty response body");
  if (trimmed.front() != '{') {
    return malformed("the response is not a JSON object (starts with '" +
                     std::string(trimmed.substr(0, 1)) + "')");
  }
  // One parser per thread: its buffers are kept for the next response of about the same size.
  thread_local simdjson::dom::parser parser;
  element root;
  if (const auto error = parser.parse(trimmed.data(), trimmed.size()).get(root)) {
    return malformed(std::string("the response is not valid JSON: ") +
                     redactor.apply(simdjson::error_message(error)));
  }
  if (root.type() != element_type::OBJECT) return malformed("the response is not a JSON object");
  const ObjectView envelope(root.get_object().value_unsafe());

  ParsedResponse result;
  result.code = readCode(envelope.get("code"));
  const std::string msg = redactor.apply(readText(envelope.get("msg")).value_or(""));
  if (!result.code) return malformed("the response has no numeric 'code'");
  if (*result.code == -1) {
    result.envelope = Envelope::kAuthExpired;
    result.message = msg;
    return result;
  }
  if (*result.code != 1) {
    result.envelope = Envelope::kBusinessError;
    result.message = msg;
    return result;
  }
  const Var data = envelope.get("data");
  if (!data.isObject()) return malformed("code 1 but the response has no 'data' object");
  const ObjectView data_object(data.object());
  const Var service_value = data_object.get(options.service);
  if (!service_value.isObject()) {
    std::string others;
    for (const auto& [name, value] : data_object.members()) {
      if (Var(value).isObject()) others += (others.empty() ? "" : ", ") + std::string(name);
    }
    // Key names come from the upstream too: redacted like any other text of the response.
    return malformed(redactor.apply(
        "the response has no data." + options.service +
        (others.empty() ? std::string() : " (it has: " + others + "; check 'service')")));
  }
  const ObjectView service_object(service_value.object());
  // The apiKey is a secret from here on: in this parse, and (through learned_secrets) in what
  // the source and the core write afterwards.
  if (const auto api_key = readText(service_object.get("apiKey"))) {
    if (redactor.add(*api_key)) result.learned_secrets.push_back(*api_key);
  }

  const auto is_auth = readBool(service_object.get("isAuth"));
  result.is_auth = is_auth.state != Lenient<bool>::State::kValue || is_auth.value;

  const Var records = service_object.get("recentRecords");
  if (!records.isEmpty()) {
    if (!records.isArray()) {
      return malformed("data." + options.service + ".recentRecords is not an array");
    }
    const simdjson::dom::array array = records.array();
    result.records_seen = static_cast<std::int64_t>(array.size());
    result.invocations.reserve(array.size());
    std::size_t index = 0;
    for (const element item : array) {
      if (auto record = parseInvocation(index++, Var(item), options, redactor, result.problems)) {
        result.invocations.push_back(std::move(*record));
      } else {
        ++result.records_rejected;
      }
    }
  }
  result.quota = parseQuota(service_object, options, redactor, result.problems);
  result.envelope = Envelope::kOk;
  result.message = msg;
  return result;
}

std::uint64_t changeFingerprint(const sdk::Record& record) {
  static constexpr const char* kChanging[] = {inv::kStatus,
                                              inv::kCostUsd,
                                              inv::kErrorMessage,
                                              inv::kInputTokens,
                                              inv::kOutputTokens,
                                              inv::kCacheInputTokens,
                                              inv::kCacheCreationTokens,
                                              inv::kCacheReadTokens,
                                              inv::kReasoningTokens,
                                              inv::kTotalTokens};
  std::string text;
  for (const char* name : kChanging) {
    text += name;
    text.push_back('=');
    if (auto it = record.fields.find(name); it != record.fields.end()) {
      json::appendValue(text, it->second);
    }
    text.push_back(';');
  }
  return std::hash<std::string>{}(text);
}

std::uint64_t contentFingerprint(const sdk::Record& record) {
  std::string text;
  for (const auto& [name, value] : record.fields) {
    text += name;
    text.push_back('=');
    json::appendValue(text, value);
    text.push_back(';');
  }
  return std::hash<std::string>{}(text);
}

}  // namespace gatherd::plugins::xychatai
