#include "core/alerts/alert_engine.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "gatherd/lib/api_json/api_json.hpp"
#include "gatherd/lib/json/json_writer.hpp"
#include "gatherd/lib/json/record_json.hpp"
#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/sdk/streams.hpp"

namespace gatherd::core {
namespace {

namespace inv = sdk::streams::invocation;
namespace quota = sdk::streams::quota;
constexpr std::int64_t kHourMs = 3'600'000;

std::string slot(const std::string& rule, const std::string& source, const std::string& subject) {
  return rule + "|" + source + "|" + subject;
}

std::optional<std::int64_t> timeField(const sdk::Record& record, std::string_view name) {
  auto text = record.get<std::string>(name);
  if (!text || text->empty()) return std::nullopt;
  return json::parseTimestamp(*text, 0);
}

// The API shape (api_json::alert, the same as the SSE event) or the state file's.
void writeAlert(json::Writer& writer, const Alert& alert, bool api) {
  if (api) {
    writer.raw(api_json::alert(alertRecord(alert)));
    return;
  }
  writer.beginObject();
  writer.key("id").string(alert.id);
  writer.key("rule").string(alert.rule);
  writer.key("source").string(alert.source);
  writer.key("subject").string(alert.subject);
  writer.key("fired_ms").integer(alert.fired_ms);
  writer.key("resolved_ms").integer(alert.resolved_ms);
  writer.key("details").beginObject();
  for (const auto& [name, value] : alert.details) writer.key(name).value(value);
  writer.endObject();
  writer.endObject();
}

Alert readAlert(const Poco::JSON::Object& object) {
  Alert alert;
  alert.id = object.optValue<std::string>("id", "");
  alert.rule = object.optValue<std::string>("rule", "");
  alert.source = object.optValue<std::string>("source", "");
  alert.subject = object.optValue<std::string>("subject", "");
  alert.fired_ms = object.optValue<Poco::Int64>("fired_ms", 0);
  alert.resolved_ms = object.optValue<Poco::Int64>("resolved_ms", 0);
  if (auto details = object.getObject("details")) {
    for (const auto& [name, value] : *details) {
      if (value.isEmpty())
        alert.details[name] = std::monostate{};
      else if (value.type() == typeid(bool))
        alert.details[name] = value.extract<bool>();
      else if (value.isString())
        alert.details[name] = value.convert<std::string>();
      else if (value.isInteger())
        alert.details[name] = value.convert<std::int64_t>();
      else
        alert.details[name] = value.convert<double>();
    }
  }
  return alert;
}

}  // namespace

sdk::Record alertRecord(const Alert& alert) {
  sdk::Record record;
  record.stream = kAlertStream;
  record.key = alert.id;
  record.time_ms = alert.open() ? alert.fired_ms : alert.resolved_ms;
  record.fields = alert.details;
  record.fields["rule"] = alert.rule;
  record.fields["source"] = alert.source;
  record.fields["subject"] = alert.subject;
  record.fields["state"] = std::string(alert.open() ? "firing" : "resolved");
  record.fields["fired_at"] = json::formatIsoUtc(alert.fired_ms);
  record.fields["resolved_at"] =
      alert.open() ? sdk::FieldValue{} : sdk::FieldValue{json::formatIsoUtc(alert.resolved_ms)};
  return record;
}

AlertEngine::AlertEngine(AlertOptions options, sdk::Clock& clock)
    : options_(std::move(options)), clock_(clock), started_ms_(clock.utcNowMs()) {}

std::string AlertEngine::load() {
  if (options_.state_file.empty()) return {};
  std::ifstream in(options_.state_file);
  if (!in) return {};  // first start
  std::stringstream text;
  text << in.rdbuf();
  try {
    Poco::JSON::Parser parser;
    auto root = parser.parse(text.str()).extract<Poco::JSON::Object::Ptr>();
    std::lock_guard lock(mutex_);
    if (auto open = root->getArray("open")) {
      for (std::size_t i = 0; i < open->size(); ++i) {
        Alert alert = readAlert(*open->getObject(static_cast<unsigned>(i)));
        if (alert.open() && !alert.rule.empty()) {
          open_[slot(alert.rule, alert.source, alert.subject)] = std::move(alert);
        }
      }
    }
    if (auto recent = root->getArray("recent")) {
      for (std::size_t i = 0; i < recent->size() && recent_.size() < options_.history; ++i) {
        recent_.push_back(readAlert(*recent->getObject(static_cast<unsigned>(i))));
      }
    }
  } catch (const std::exception& error) {
    return options_.state_file + " is not a valid alert state file (" + error.what() +
           "); starting without open alerts";
  }
  return {};
}

std::string AlertEngine::saveLocked() const {
  if (options_.state_file.empty()) return {};
  std::string body;
  json::Writer writer(body);
  writer.beginObject().key("version").integer(1).key("open").beginArray();
  for (const auto& [key, alert] : open_) writeAlert(writer, alert, false);
  writer.endArray().key("recent").beginArray();
  for (const auto& alert : recent_) writeAlert(writer, alert, false);
  writer.endArray().endObject();
  const std::string temporary = options_.state_file + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << body << '\n';
    out.flush();
    if (!out) return "cannot write " + temporary;
  }
  std::error_code error;
  std::filesystem::rename(temporary, options_.state_file, error);
  if (error) return "cannot replace " + options_.state_file + ": " + error.message();
  return {};
}

void AlertEngine::setCondition(const std::string& rule, const std::string& source,
                               const std::string& subject, bool holds, const sdk::Fields& details,
                               std::int64_t now_ms, std::vector<sdk::Record>& out) {
  const std::string key = slot(rule, source, subject);
  auto it = open_.find(key);
  if (holds && it == open_.end()) {
    Alert alert;
    alert.rule = rule;
    alert.source = source;
    alert.subject = subject;
    alert.fired_ms = now_ms;
    alert.id = key + "|" + std::to_string(now_ms);
    alert.details = details;
    out.push_back(alertRecord(alert));
    open_.emplace(key, std::move(alert));
  } else if (!holds && it != open_.end()) {
    Alert alert = std::move(it->second);
    open_.erase(it);
    alert.resolved_ms = std::max(now_ms, alert.fired_ms);
    for (const auto& [name, value] : details) alert.details[name] = value;
    out.push_back(alertRecord(alert));
    recent_.push_front(std::move(alert));
    while (recent_.size() > options_.history) recent_.pop_back();
  }
}

void AlertEngine::evaluateFailures(const std::string& source, SourceState& state,
                                   std::int64_t now_ms, std::vector<sdk::Record>& out) {
  const std::int64_t from_ms = now_ms - options_.failure_window_ms;
  for (auto it = state.calls.begin(); it != state.calls.end();) {
    it = it->second.first < from_ms ? state.calls.erase(it) : std::next(it);
  }
  std::int64_t calls = 0, failed = 0;
  for (const auto& [key, call] : state.calls) {
    ++calls;
    if (call.second) ++failed;
  }
  const double ratio = calls == 0 ? 0.0 : static_cast<double>(failed) / static_cast<double>(calls);
  const bool enough = calls >= options_.failure_min_calls;
  sdk::Fields details{{"calls", calls},
                      {"failed", failed},
                      {"ratio", ratio},
                      {"window_ms", options_.failure_window_ms}};
  if (enough && ratio > options_.failure_ratio) {
    setCondition("failures", source, "", true, details, now_ms, out);
  } else if ((enough && ratio <= options_.failure_ratio) ||
             (failed == 0 && now_ms - started_ms_ >= options_.failure_window_ms)) {
    // Right after a restart the window is not yet filled: an open alert then waits for evidence.
    setCondition("failures", source, "", false, details, now_ms, out);
  }
}

void AlertEngine::evaluateQuota(const std::string& source, const sdk::Record& record,
                                std::int64_t now_ms, std::vector<sdk::Record>& out) {
  const std::string service = record.get<std::string>(quota::kService).value_or(record.key);
  const std::string billing = record.get<std::string>(quota::kBillingType).value_or("amount");
  const bool count = billing == "count";
  const auto limit = record.get<double>(count ? quota::kCountLimit : quota::kAmountLimitUsd);
  auto used = record.get<double>(count ? quota::kCountUsed : quota::kAmountUsedUsd);
  auto remaining = record.get<double>(count ? quota::kCountRemaining : quota::kAmountRemainingUsd);
  if (!remaining && limit && used) remaining = *limit - *used;
  if (!used && limit && remaining) used = *limit - *remaining;
  const std::int64_t resets_ms = timeField(record, quota::kPeriodResetAt).value_or(0);
  const std::int64_t expires_ms = timeField(record, quota::kExpiresAt).value_or(0);
  const std::string key = source + "|" + service;

  // plan_expiry
  if (expires_ms > 0 && !record.get<bool>(quota::kIsLongTerm).value_or(false)) {
    setCondition("plan_expiry", source, service, expires_ms - now_ms < options_.expiry_warn_ms,
                 {{"service", service}, {"expires_at", json::formatIsoUtc(expires_ms)}}, now_ms,
                 out);
  }
  if (!remaining || !limit || *limit <= 0) return;

  sdk::Fields details{{"service", service},
                      {"unit", std::string(count ? "count" : "usd")},
                      {"remaining", *remaining},
                      {"limit", *limit}};
  if (resets_ms > 0) details["resets_at"] = json::formatIsoUtc(resets_ms);
  if (expires_ms > 0) details["expires_at"] = json::formatIsoUtc(expires_ms);
  setCondition("quota", source, service + ":low", *remaining / *limit < options_.quota_remaining,
               details, now_ms, out);

  // The spending rate over the forecast window, from the snapshots seen; a reset (used going
  // down) starts the history again.
  auto& samples = quota_samples_[key].used;
  if (used) {
    if (!samples.empty() && *used < samples.back().second) samples.clear();
    samples.emplace_back(now_ms, *used);
  }
  while (samples.size() > 2 && samples[1].first <= now_ms - options_.forecast_window_ms) {
    samples.pop_front();
  }
  // The plan card shows a rate after a minute of history; the alert waits for 1/24 of the
  // window (or the upstream's own 24 hours) so that a short burst does not page anyone.
  double rate_per_ms = -1;  // unknown
  bool evidence = false;
  const std::int64_t span_ms =
      samples.size() >= 2 ? samples.back().first - samples.front().first : 0;
  if (span_ms >= 60'000) {
    rate_per_ms = (samples.back().second - samples.front().second) / static_cast<double>(span_ms);
    evidence = span_ms >= options_.forecast_window_ms / 24;
  }
  if (!evidence && options_.forecast_window_ms == 24 * kHourMs) {
    // Until gatherd has watched long enough, the upstream's own rolling 24 hours.
    const auto day = record.get<double>(count ? quota::kUsage24hRequests : quota::kUsage24hCostUsd);
    if (day) {
      rate_per_ms = *day / static_cast<double>(24 * kHourMs);
      evidence = true;
    }
  }
  QuotaForecast forecast;
  forecast.source = source;
  forecast.service = service;
  forecast.unit = count ? "count" : "usd";
  forecast.remaining = *remaining;
  forecast.limit = *limit;
  forecast.resets_ms = resets_ms;
  forecast.expires_ms = expires_ms;
  forecast.updated_ms = now_ms;
  if (rate_per_ms < 0) {
    forecasts_[key] = forecast;
    return;  // no evidence yet: leave the forecast alert as it is
  }
  forecast.rate_known = true;
  forecast.rate_per_hour = rate_per_ms * kHourMs;
  if (rate_per_ms > 0) {
    forecast.runs_out_ms =
        now_ms + static_cast<std::int64_t>(std::max(0.0, *remaining) / rate_per_ms);
  }
  forecasts_[key] = forecast;
  std::int64_t deadline_ms = 0;
  if (resets_ms > now_ms) deadline_ms = resets_ms;
  if (expires_ms > 0 && (deadline_ms == 0 || expires_ms < deadline_ms)) deadline_ms = expires_ms;
  if (deadline_ms == 0 || !evidence) return;
  const bool runs_out = forecast.runs_out_ms > 0 && forecast.runs_out_ms < deadline_ms;
  details["rate_per_hour"] = forecast.rate_per_hour;
  details["runs_out_at"] = forecast.runs_out_ms > 0
                               ? sdk::FieldValue{json::formatIsoUtc(forecast.runs_out_ms)}
                               : sdk::FieldValue{};
  details["deadline_at"] = json::formatIsoUtc(deadline_ms);
  setCondition("quota", source, service + ":forecast", runs_out, details, now_ms, out);
}

std::vector<sdk::Record> AlertEngine::observe(const sdk::Batch& batch,
                                              std::int64_t consecutive_failures) {
  std::vector<sdk::Record> out;
  const sdk::WindowResult& window = batch.window;
  if (window.outcome == sdk::Outcome::kAborted) return out;
  const std::string& source = window.source;
  const std::int64_t now_ms = clock_.utcNowMs();
  std::lock_guard lock(mutex_);
  if (!options_.enabled) return out;
  SourceState& state = sources_[source];

  if (window.auth_state == sdk::AuthState::kExpired ||
      window.auth_state == sdk::AuthState::kMissing) {
    setCondition("auth", source, "", true,
                 {{"auth_state", std::string(sdk::authStateName(window.auth_state))},
                  {"message", window.message}},
                 now_ms, out);
  } else if (window.auth_state == sdk::AuthState::kOk) {
    setCondition("auth", source, "", false, {}, now_ms, out);
  }

  if (window.outcome == sdk::Outcome::kOk) {
    setCondition("source_down", source, "", false, {}, now_ms, out);
  } else if (windowFailed(window.outcome)) {
    if (consecutive_failures >= options_.source_down_windows) {
      setCondition("source_down", source, "", true,
                   {{"windows", consecutive_failures},
                    {"outcome", std::string(sdk::outcomeName(window.outcome))},
                    {"message", window.message},
                    {"http_status", window.http_status}},
                   now_ms, out);
    }
  }

  if (window.gap_suspected) {
    auto open = open_.find(slot("gap", source, ""));
    if (open != open_.end()) {
      open->second.details["gap_to"] = json::formatIsoUtc(window.gap_to_ms);
    } else {
      setCondition("gap", source, "", true,
                   {{"gap_from", json::formatIsoUtc(window.gap_from_ms)},
                    {"gap_to", json::formatIsoUtc(window.gap_to_ms)}},
                   now_ms, out);
    }
  } else if (window.outcome == sdk::Outcome::kOk) {
    setCondition("gap", source, "", false, {}, now_ms, out);
  }

  for (const auto& record : batch.records) {
    if (record.stream == sdk::streams::kInvocation) {
      const auto status = record.get<std::string>(inv::kStatus);
      if (!status) continue;
      state.calls[record.key] = {record.time_ms, *status != inv::kStatusSuccess};
    } else if (record.stream == sdk::streams::kQuota) {
      evaluateQuota(source, record, now_ms, out);
    }
  }
  evaluateFailures(source, state, now_ms, out);
  if (!out.empty()) last_save_error_ = saveLocked();
  return out;
}

std::vector<sdk::Record> AlertEngine::retireSources(const std::set<std::string>& configured) {
  std::vector<sdk::Record> out;
  std::lock_guard lock(mutex_);
  const std::int64_t now_ms = clock_.utcNowMs();
  std::vector<Alert> orphans;
  for (const auto& [key, alert] : open_) {
    if (configured.count(alert.source) == 0) orphans.push_back(alert);
  }
  for (const Alert& alert : orphans) {
    setCondition(alert.rule, alert.source, alert.subject, false,
                 {{"reason", std::string("the source is no longer configured")}}, now_ms, out);
  }
  const auto retired = [&configured](const std::string& key) {
    return configured.count(key.substr(0, key.find('|'))) == 0;
  };
  for (auto it = sources_.begin(); it != sources_.end();) {
    it = configured.count(it->first) == 0 ? sources_.erase(it) : std::next(it);
  }
  for (auto it = quota_samples_.begin(); it != quota_samples_.end();) {
    it = retired(it->first) ? quota_samples_.erase(it) : std::next(it);
  }
  for (auto it = forecasts_.begin(); it != forecasts_.end();) {
    it = retired(it->first) ? forecasts_.erase(it) : std::next(it);
  }
  if (!out.empty()) last_save_error_ = saveLocked();
  return out;
}

AlertOptions AlertEngine::options() const {
  std::lock_guard lock(mutex_);
  return options_;
}

void AlertEngine::setOptions(AlertOptions options) {
  std::lock_guard lock(mutex_);
  options.state_file = options_.state_file;
  options_ = std::move(options);
}

std::string AlertEngine::lastSaveError() const {
  std::lock_guard lock(mutex_);
  return last_save_error_;
}

std::vector<Alert> AlertEngine::openAlerts() const {
  std::lock_guard lock(mutex_);
  std::vector<Alert> alerts;
  for (const auto& [key, alert] : open_) alerts.push_back(alert);
  std::sort(alerts.begin(), alerts.end(),
            [](const Alert& a, const Alert& b) { return a.fired_ms > b.fired_ms; });
  return alerts;
}

std::vector<Alert> AlertEngine::recentAlerts() const {
  std::lock_guard lock(mutex_);
  return {recent_.begin(), recent_.end()};
}

std::vector<QuotaForecast> AlertEngine::forecasts() const {
  std::lock_guard lock(mutex_);
  std::vector<QuotaForecast> result;
  for (const auto& [key, forecast] : forecasts_) result.push_back(forecast);
  return result;
}

std::string AlertEngine::toJson(std::size_t recent_limit) const {
  const auto open = openAlerts();
  const auto recent = recentAlerts();
  const auto forecast_list = forecasts();
  std::string body;
  json::Writer writer(body);
  writer.beginObject();
  writer.key("enabled").boolean(options_.enabled);
  writer.key("open").beginArray();
  for (const auto& alert : open) writeAlert(writer, alert, true);
  writer.endArray();
  writer.key("recent").beginArray();
  for (std::size_t i = 0; i < recent.size() && i < recent_limit; ++i) {
    writeAlert(writer, recent[i], true);
  }
  writer.endArray();
  writer.key("forecasts").beginArray();
  for (const auto& forecast : forecast_list) {
    writer.beginObject();
    writer.key("source").string(forecast.source);
    writer.key("service").string(forecast.service);
    writer.key("unit").string(forecast.unit);
    writer.key("remaining").number(forecast.remaining);
    writer.key("limit").number(forecast.limit);
    writer.key("ratePerHour");
    if (forecast.rate_known)
      writer.number(forecast.rate_per_hour);
    else
      writer.null();
    auto time = [&](const char* name, std::int64_t ms) {
      writer.key(name);
      if (ms > 0)
        writer.string(json::formatIsoUtc(ms));
      else
        writer.null();
    };
    time("runsOutAt", forecast.runs_out_ms);
    time("resetsAt", forecast.resets_ms);
    time("expiresAt", forecast.expires_ms);
    time("updatedAt", forecast.updated_ms);
    writer.endObject();
  }
  writer.endArray();
  writer.endObject();
  return body;
}

}  // namespace gatherd::core
