// Over 500 lines: one handler per /api route of docs/api.md, sharing the parameter parsing and
// JSON writing at the top.
#include "core/http/api_routes.hpp"

#include <chrono>
#include <set>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "core/http/query_params.hpp"
#include "gatherd/lib/api_json/api_json.hpp"
#include "gatherd/lib/json/json_writer.hpp"
#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/sdk/abi.hpp"
#include "gatherd/sdk/config.hpp"

namespace gatherd::core {
namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kHourMs = 60 * kMinuteMs;
constexpr std::int64_t kDayMs = 24 * kHourMs;
constexpr std::int64_t kMaxTimeSeriesPoints = 2'000;
constexpr std::int64_t kStatsCacheMs = 1'000;
// While one request computes a newer /api/stats, the others take the previous body up to this
// old; an older one (a computation stuck behind a long lock) is not served, they compute too.
constexpr std::int64_t kStatsStaleMs = 10'000;
const char* const kWindowNames[] = {"30m", "1h", "1d", "today", "7d", "30d", "month"};

/// A store call failed: the client did nothing wrong, so 503 rather than 400 or 500.
class StoreFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void check(const sdk::Status& status, const char* what) {
  if (!status.ok()) {
    spdlog::warn("http api: store {} failed: {}", what, status.message());
    throw StoreFailure(std::string("the store could not answer (") + what + ")");
  }
}

sdk::HttpResponse jsonOk(std::string body) {
  sdk::HttpResponse response;
  response.body = std::move(body);
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::optional<std::string> optionalText(const QueryParams& params, const std::string& name) {
  return params.text(name);
}

sdk::RangeQuery rangeQuery(const QueryParams& params, const std::string& range_name,
                           std::int64_t now_ms, std::string& range) {
  sdk::RangeQuery query;
  query.source = optionalText(params, "source");
  int offset = params.utcOffset("tz");
  range = params.text(range_name).value_or("1d");
  std::int64_t from_ms = 0;
  if (!resolveRange(range, now_ms, offset, from_ms)) {
    throw ParameterError(range_name,
                         range_name + " must be one of 30m, 1h, 1d, today, 7d, 30d, month");
  }
  query.from_ms = from_ms;
  query.to_ms = now_ms + 1;
  return query;
}

}  // namespace

bool resolveRange(const std::string& name, std::int64_t now_ms, int utc_offset_minutes,
                  std::int64_t& from_ms) {
  const std::int64_t offset_ms = static_cast<std::int64_t>(utc_offset_minutes) * kMinuteMs;
  if (name == "30m")
    from_ms = now_ms - 30 * kMinuteMs;
  else if (name == "1h")
    from_ms = now_ms - kHourMs;
  else if (name == "1d")
    from_ms = now_ms - kDayMs;
  else if (name == "7d")
    from_ms = now_ms - 7 * kDayMs;
  else if (name == "30d")
    from_ms = now_ms - 30 * kDayMs;
  else if (name == "today")
    from_ms = floorDiv(now_ms + offset_ms, kDayMs) * kDayMs - offset_ms;
  else if (name == "month") {
    const json::CivilDate local = json::civilFromDays(floorDiv(now_ms + offset_ms, kDayMs));
    from_ms = json::daysFromCivil(local.year, local.month, 1) * kDayMs - offset_ms;
  } else {
    return false;
  }
  return true;
}

sdk::HttpResponse jsonError(int status, const std::string& message, const std::string& parameter) {
  sdk::HttpResponse response;
  response.status = status;
  json::Writer writer(response.body);
  writer.beginObject();
  writer.key("error").string(message);
  if (!parameter.empty()) writer.key("parameter").string(parameter);
  writer.endObject();
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

ApiRoutes::ApiRoutes(SourceStatusRegistry& sources, StoreProvider store_provider, NowMs now_ms)
    : sources_(sources), store_provider_(std::move(store_provider)), now_ms_(std::move(now_ms)) {
  if (!now_ms_) {
    now_ms_ = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  started_ms_ = now_ms_();
}

bool ApiRoutes::isCoreRoute(const std::string& path) {
  static const std::set<std::string, std::less<>> kRoutes = {"/health",
                                                             "/ready",
                                                             "/api/version",
                                                             "/api/sources",
                                                             "/api/windows",
                                                             "/api/invocations",
                                                             "/api/stats",
                                                             "/api/stats/summary",
                                                             "/api/stats/timeseries",
                                                             "/api/stats/errors",
                                                             "/api/stats/models",
                                                             "/api/stats/latency",
                                                             "/api/quota/latest",
                                                             "/api/alerts"};
  return kRoutes.count(path) != 0;
}

sdk::HttpResponse ApiRoutes::handle(const sdk::HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    auto response = jsonError(405, "method not allowed; use GET");
    response.headers.emplace_back("Allow", "GET, HEAD");
    return response;
  }
  try {
    return dispatch(request);
  } catch (const ParameterError& error) {
    return jsonError(400, error.what(), error.parameter());
  } catch (const StoreFailure& error) {
    return jsonError(503, error.what());
  } catch (const std::exception& error) {
    spdlog::error("http api: {} failed: {}", request.path, error.what());
    return jsonError(500, "internal error");
  } catch (...) {
    spdlog::error("http api: {} failed with an unknown exception", request.path);
    return jsonError(500, "internal error");
  }
}

sdk::HttpResponse ApiRoutes::dispatch(const sdk::HttpRequest& request) {
  const std::string& path = request.path;
  const std::string& query = request.query;
  if (path == "/health") return jsonOk(R"({"status":"ok"})");
  if (path == "/ready") return ready();
  if (path == "/api/version") return version();
  if (path == "/api/sources") return sourcesList();
  if (path == "/api/windows") return windows(query);
  if (path == "/api/invocations") return invocations(query);
  if (path == "/api/stats") return stats(query);
  if (path == "/api/stats/summary") return summary(query);
  if (path == "/api/stats/timeseries") return timeseries(query);
  if (path == "/api/stats/errors") return errors(query);
  if (path == "/api/stats/models") return models(query);
  if (path == "/api/stats/latency") return latency(query);
  if (path == "/api/quota/latest") return quotaLatest(query);
  if (path == "/api/alerts") return alerts(query);
  return jsonError(404, "no such route: " + path);
}

sdk::HttpResponse ApiRoutes::alerts(const std::string& query) {
  QueryParams params(query);
  params.allowOnly({"limit"});
  const auto limit = params.integer("limit", 0, 1000).value_or(50);
  if (!alerts_provider_) {
    return jsonOk(R"({"enabled":false,"open":[],"recent":[],"forecasts":[]})");
  }
  return jsonOk(alerts_provider_(static_cast<std::size_t>(limit)));
}

sdk::Store& ApiRoutes::requireStore() {
  sdk::Store* store = store_provider_ ? store_provider_() : nullptr;
  if (store == nullptr)
    throw StoreFailure("no store is configured (add a store sink such as sqlite)");
  return *store;
}

sdk::HttpResponse ApiRoutes::ready() {
  std::string reason;
  if ((store_provider_ ? store_provider_() : nullptr) == nullptr) {
    reason = "the store is not open";
  }
  for (const auto& status : sources_.snapshot()) {
    if (status.state != InstanceState::kRunning) {
      if (!reason.empty()) reason += "; ";
      reason += "source " + status.name + " is " + instanceStateName(status.state);
      if (!status.state_reason.empty()) reason += ": " + status.state_reason;
    }
  }
  for (const auto& sink : sources_.sinkSnapshot()) {
    if (sink.health() == "ok") continue;
    if (!reason.empty()) reason += "; ";
    reason += "sink " + sink.name + " is " + sink.health() + ": " + sink.reason();
  }
  if (reason.empty()) return jsonOk(R"({"ready":true})");
  sdk::HttpResponse response = jsonOk({});
  response.status = 503;
  json::Writer writer(response.body);
  writer.beginObject().key("ready").boolean(false).key("reason").string(reason).endObject();
  return response;
}

sdk::HttpResponse ApiRoutes::version() {
  std::string body;
  json::Writer writer(body);
  writer.beginObject();
  writer.key("version").string(GATHERD_VERSION);
  writer.key("abi").string(std::to_string(sdk::kAbiMajor) + "." + std::to_string(sdk::kAbiMinor));
  writer.key("startedAt").string(json::formatIsoUtc(started_ms_));
  writer.endObject();
  return jsonOk(std::move(body));
}

sdk::HttpResponse ApiRoutes::sourcesList() {
  std::string body;
  json::Writer writer(body);
  writer.beginObject().key("sources").beginArray();
  for (const auto& status : sources_.snapshot()) {
    writer.beginObject();
    writer.key("name").string(status.name);
    writer.key("plugin").string(status.plugin);
    writer.key("state").string(instanceStateName(status.state));
    writer.key("stateReason").string(status.state_reason);
    writer.key("authState").string(sdk::authStateName(status.auth_state));
    writer.key("authHint").string(status.auth_hint);
    writer.key("intervalMs").integer(status.interval_ms);
    writer.key("lastWindow");
    if (status.last_window)
      writer.raw(api_json::window(*status.last_window));
    else
      writer.null();
    writer.key("lastSuccessAt");
    if (status.last_success_ms > 0)
      writer.string(json::formatIsoUtc(status.last_success_ms));
    else
      writer.null();
    writer.key("consecutiveFailures").integer(status.consecutive_failures);
    writer.endObject();
  }
  writer.endArray();
  // Beside the sources: each sink's health and its pipeline and spool counters.
  writer.key("sinks").beginArray();
  for (const auto& sink : sources_.sinkSnapshot()) {
    writer.beginObject();
    writer.key("name").string(sink.name);
    writer.key("plugin").string(sink.plugin);
    writer.key("health").string(sink.health());
    writer.key("healthReason").string(sink.reason());
    writer.key("delivered").integer(sink.delivered);
    writer.key("retries").integer(sink.retries);
    writer.key("dropped").integer(sink.dropped);
    writer.key("overflowed").integer(sink.overflowed);
    writer.key("queuedBatches").integer(sink.queued);
    writer.key("queuedBytes").integer(sink.queued_bytes);
    writer.key("memoryBytes").integer(sink.memory_bytes);
    writer.key("oldestAgeMs").integer(sink.oldest_age_ms);
    writer.key("spool");
    if (sink.spooled) {
      writer.beginObject();
      writer.key("bytes").integer(sink.spool_bytes);
      writer.key("records").integer(sink.spool_records);
      writer.key("dropped").integer(sink.spool_dropped);
      writer.key("badRecords").integer(sink.spool_bad_records);
      writer.key("writeErrors").integer(sink.spool_write_errors);
      writer.key("writeError");
      if (sink.spool_error.empty())
        writer.null();
      else
        writer.string(sink.spool_error);
      writer.endObject();
    } else {
      writer.null();
    }
    writer.endObject();
  }
  writer.endArray().endObject();
  return jsonOk(std::move(body));
}

namespace {

void nextCursor(json::Writer& writer, const std::string& cursor) {
  writer.key("nextCursor");
  if (cursor.empty())
    writer.null();
  else
    writer.string(cursor);
}

// Store cursors are opaque; a store reports a cursor it cannot read by naming it.
void checkPage(const sdk::Status& status, const std::string& cursor, const char* what) {
  if (!status.ok() && !cursor.empty() && status.message().find("cursor") != std::string::npos) {
    throw ParameterError("cursor", "cursor is not valid (use nextCursor from the last page)");
  }
  check(status, what);
}

void checkTimeOrder(const std::optional<std::int64_t>& from,
                    const std::optional<std::int64_t>& to) {
  if (from && to && *from > *to) throw ParameterError("from", "from must not be after to");
}

}  // namespace

sdk::HttpResponse ApiRoutes::windows(const std::string& query) {
  QueryParams params(query);
  params.allowOnly({"source", "outcome", "from", "to", "limit", "cursor"});
  sdk::WindowQuery window_query;
  window_query.source = params.text("source");
  if (auto outcome = params.text("outcome")) {
    window_query.outcome = sdk::outcomeFromName(*outcome);
    if (!window_query.outcome) {
      throw ParameterError("outcome",
                           "outcome must be one of ok, auth_error, http_error, transport_error, "
                           "timeout, parse_error, skipped, aborted");
    }
  }
  window_query.from_ms = params.time("from");
  window_query.to_ms = params.time("to");
  checkTimeOrder(window_query.from_ms, window_query.to_ms);
  window_query.limit = static_cast<int>(params.integer("limit", 1, 1000).value_or(100));
  window_query.cursor = params.text("cursor").value_or("");
  sdk::WindowPage page;
  checkPage(requireStore().listWindows(window_query, page), window_query.cursor, "listWindows");
  std::string body;
  json::Writer writer(body);
  writer.beginObject().key("items").beginArray();
  for (const auto& item : page.items) writer.raw(api_json::window(item.id, item.window));
  writer.endArray();
  nextCursor(writer, page.next_cursor);
  writer.endObject();
  return jsonOk(std::move(body));
}

sdk::HttpResponse ApiRoutes::invocations(const std::string& query) {
  QueryParams params(query);
  params.allowOnly({"source", "model", "status", "from", "to", "q", "limit", "cursor"});
  sdk::InvocationQuery invocation_query;
  invocation_query.source = params.text("source");
  invocation_query.model = params.text("model");
  invocation_query.status = params.text("status");
  invocation_query.from_ms = params.time("from");
  invocation_query.to_ms = params.time("to");
  checkTimeOrder(invocation_query.from_ms, invocation_query.to_ms);
  invocation_query.text = params.text("q");
  if (invocation_query.text && invocation_query.text->size() > 200) {
    throw ParameterError("q", "q must be at most 200 characters");
  }
  invocation_query.limit = static_cast<int>(params.integer("limit", 1, 500).value_or(50));
  invocation_query.cursor = params.text("cursor").value_or("");
  sdk::InvocationPage page;
  checkPage(requireStore().listInvocations(invocation_query, page), invocation_query.cursor,
            "listInvocations");
  std::string body;
  body.reserve(page.items.size() * 1024 + 64);
  json::Writer writer(body);
  writer.beginObject().key("items").beginArray();
  for (const auto& item : page.items) writer.raw(api_json::invocation(item));
  writer.endArray();
  nextCursor(writer, page.next_cursor);
  writer.endObject();
  return jsonOk(std::move(body));
}

ApiRoutes::StatsKey ApiRoutes::statsKey(const std::string& query) {
  QueryParams params(query);
  params.allowOnly({"source", "tz"});
  StatsKey key;
  key.source = params.text("source");
  key.utc_offset_minutes = params.utcOffset("tz");
  key.cache_key = key.source.value_or("") + "\n" + std::to_string(key.utc_offset_minutes);
  return key;
}

std::optional<std::string> ApiRoutes::usableStatsLocked(const std::string& cache_key,
                                                        std::int64_t now_ms,
                                                        std::int64_t sequence) const {
  auto it = stats_cache_.find(cache_key);
  if (it == stats_cache_.end() || it->second.body.empty()) return std::nullopt;
  const CachedBody& cached = it->second;
  const std::int64_t age_ms = now_ms - cached.computed_ms;
  if (age_ms < 0) return std::nullopt;  // the clock went back: compute it again
  if (cached.sequence == sequence && age_ms < kStatsCacheMs) return cached.body;
  if (cached.refreshing && age_ms < kStatsStaleMs) return cached.body;
  return std::nullopt;
}

std::optional<std::string> ApiRoutes::freshStats(const std::string& cache_key, std::int64_t now_ms,
                                                 std::int64_t sequence) {
  std::lock_guard lock(cache_mutex_);
  return usableStatsLocked(cache_key, now_ms, sequence);
}

std::optional<std::string> ApiRoutes::freshStatsOrClaim(const std::string& cache_key,
                                                        std::int64_t now_ms,
                                                        std::int64_t sequence) {
  std::lock_guard lock(cache_mutex_);
  if (auto body = usableStatsLocked(cache_key, now_ms, sequence)) return body;
  if (stats_cache_.size() > 256 && stats_cache_.count(cache_key) == 0) stats_cache_.clear();
  stats_cache_[cache_key].refreshing = true;
  return std::nullopt;
}

void ApiRoutes::storeStats(const std::string& cache_key, std::int64_t now_ms, std::int64_t sequence,
                           const std::string& body) {
  std::lock_guard lock(cache_mutex_);
  stats_cache_[cache_key] = CachedBody{sequence, now_ms, body, false};
}

void ApiRoutes::abandonStats(const std::string& cache_key) {
  std::lock_guard lock(cache_mutex_);
  auto it = stats_cache_.find(cache_key);
  if (it != stats_cache_.end()) it->second.refreshing = false;
}

std::optional<sdk::HttpResponse> ApiRoutes::cachedAnswer(const sdk::HttpRequest& request) {
  if (request.path != "/api/stats" || (request.method != "GET" && request.method != "HEAD")) {
    return std::nullopt;
  }
  sdk::Store* store = store_provider_ ? store_provider_() : nullptr;
  if (store == nullptr) return std::nullopt;
  try {
    auto body = freshStats(statsKey(request.query).cache_key, now_ms_(), store->latestSequence());
    if (body) return jsonOk(std::move(*body));
  } catch (...) {
    // A bad parameter: handle() answers it with the 400.
  }
  return std::nullopt;
}

sdk::HttpResponse ApiRoutes::stats(const std::string& query) {
  const StatsKey key = statsKey(query);
  const auto& source = key.source;
  const int offset = key.utc_offset_minutes;
  const std::string& cache_key = key.cache_key;
  sdk::Store& store = requireStore();
  const std::int64_t now_ms = now_ms_();
  const std::int64_t sequence = store.latestSequence();
  // The dashboard polls this on every change; one computation per second and change is enough,
  // and one at a time.
  if (auto cached = freshStatsOrClaim(cache_key, now_ms, sequence)) {
    return jsonOk(std::move(*cached));
  }
  std::string body;
  try {
    json::Writer writer(body);
    writer.beginObject();
    sdk::RangeQuery range;
    range.source = source;
    sdk::Totals all_time;
    check(store.totals(range, all_time), "totals");
    writer.key("allTime").raw(api_json::totals(all_time));
    writer.key("windows").beginObject();
    for (const char* name : kWindowNames) {
      std::int64_t from_ms = 0;
      resolveRange(name, now_ms, offset, from_ms);
      range.from_ms = from_ms;
      range.to_ms = now_ms + 1;
      sdk::Totals totals;
      check(store.totals(range, totals), "totals");
      writer.key(name).raw(api_json::totals(totals));
    }
    writer.endObject().endObject();
  } catch (...) {
    abandonStats(cache_key);  // a store failure: the next request computes it again
    throw;
  }
  storeStats(cache_key, now_ms, sequence, body);
  return jsonOk(std::move(body));
}

sdk::HttpResponse ApiRoutes::summary(const std::string& query) {
  QueryParams params(query);
  params.allowOnly({"window", "source", "tz"});
  const std::int64_t now_ms = now_ms_();
  std::string window;
  sdk::RangeQuery range = rangeQuery(params, "window", now_ms, window);
  sdk::Totals totals;
  check(requireStore().totals(range, totals), "totals");
  std::string body;
  json::Writer writer(body);
  writer.beginObject();
  writer.key("window").string(window);
  writer.key("from").string(json::formatIsoUtc(*range.from_ms));
  writer.key("to").string(json::formatIsoUtc(now_ms));
  writer.key("totals").raw(api_json::totals(totals));
  writer.endObject();
  return jsonOk(std::move(body));
}

sdk::HttpResponse ApiRoutes::timeseries(const std::string& query) {
  QueryParams params(query);
  params.allowOnly({"range", "bucket", "source", "tz"});
  const std::int64_t now_ms = now_ms_();
  std::string range_name;
  sdk::TimeSeriesQuery series;
  series.range = rangeQuery(params, "range", now_ms, range_name);
  series.utc_offset_minutes = params.utcOffset("tz");
  const std::string bucket =
      params.choice("bucket", {"1m", "5m", "15m", "1h", "6h", "1d"}).value_or("1h");
  series.bucket_ms = *sdk::parseDurationMs(bucket == "1d" ? "24h" : bucket);
  if ((now_ms - *series.range.from_ms) / series.bucket_ms > kMaxTimeSeriesPoints) {
    throw ParameterError("bucket", "bucket " + bucket + " is too small for range " + range_name +
                                       " (at most 2000 points)");
  }
  std::vector<sdk::TimeSeriesPoint> points;
  check(requireStore().timeSeries(series, points), "timeSeries");
  std::string body;
  body.reserve(points.size() * 260 + 64);
  json::Writer writer(body);
  writer.beginObject();
  writer.key("range").string(range_name);
  writer.key("bucket").string(bucket);
  writer.key("bucketMs").integer(series.bucket_ms);
  writer.key("points").beginArray();
  for (const auto& point : points) {
    std::string item = "{\"t\":";
    json::appendString(item, json::formatIsoUtc(point.bucket_start_ms));
    item += ",\"tMs\":" + std::to_string(point.bucket_start_ms) + "," +
            api_json::totalsMembers(point.totals) + "}";
    writer.raw(item);
  }
  writer.endArray().endObject();
  return jsonOk(std::move(body));
}

sdk::HttpResponse ApiRoutes::errors(const std::string& query) {
  QueryParams params(query);
  params.allowOnly({"range", "source", "limit", "tz"});
  std::string range_name;
  sdk::RangeQuery range = rangeQuery(params, "range", now_ms_(), range_name);
  const int limit = static_cast<int>(params.integer("limit", 1, 100).value_or(20));
  std::vector<sdk::ErrorBucket> buckets;
  check(requireStore().errors(range, limit, buckets), "errors");
  std::string body;
  json::Writer writer(body);
  writer.beginObject().key("range").string(range_name).key("items").beginArray();
  for (const auto& bucket : buckets) {
    writer.beginObject();
    writer.key("message").string(bucket.message);
    writer.key("example").string(bucket.example);
    writer.key("count").integer(bucket.count);
    writer.key("lastSeenAt").string(json::formatIsoUtc(bucket.last_seen_ms));
    writer.endObject();
  }
  writer.endArray().endObject();
  return jsonOk(std::move(body));
}

sdk::HttpResponse ApiRoutes::models(const std::string& query) {
  QueryParams params(query);
  params.allowOnly({"range", "source", "tz"});
  std::string range_name;
  sdk::RangeQuery range = rangeQuery(params, "range", now_ms_(), range_name);
  std::vector<sdk::ModelBreakdown> rows;
  check(requireStore().models(range, rows), "models");
  std::string body;
  json::Writer writer(body);
  writer.beginObject().key("range").string(range_name).key("items").beginArray();
  for (const auto& row : rows) {
    std::string item = "{\"model\":";
    json::appendString(item, row.model);
    item += "," + api_json::totalsMembers(row.totals) + "}";
    writer.raw(item);
  }
  writer.endArray().endObject();
  return jsonOk(std::move(body));
}

sdk::HttpResponse ApiRoutes::latency(const std::string& query) {
  QueryParams params(query);
  params.allowOnly({"range", "source", "tz"});
  std::string range_name;
  sdk::RangeQuery range = rangeQuery(params, "range", now_ms_(), range_name);
  sdk::LatencyStats stats;
  check(requireStore().latency(range, stats), "latency");
  auto percentile = [](json::Writer& writer, const char* name, const std::optional<double>& value) {
    writer.key(name);
    if (value)
      writer.number(*value);
    else
      writer.null();
  };
  std::string body;
  json::Writer writer(body);
  writer.beginObject();
  writer.key("range").string(range_name);
  writer.key("samples").integer(stats.samples);
  writer.key("responseMs").beginObject();
  percentile(writer, "p50", stats.response_p50_ms);
  percentile(writer, "p90", stats.response_p90_ms);
  percentile(writer, "p99", stats.response_p99_ms);
  writer.endObject();
  writer.key("firstByteMs").beginObject();
  percentile(writer, "p50", stats.first_byte_p50_ms);
  percentile(writer, "p90", stats.first_byte_p90_ms);
  percentile(writer, "p99", stats.first_byte_p99_ms);
  writer.endObject();
  writer.endObject();
  return jsonOk(std::move(body));
}

sdk::HttpResponse ApiRoutes::quotaLatest(const std::string& query) {
  QueryParams params(query);
  params.allowOnly({"source"});
  const auto source = params.text("source");
  sdk::Store& store = requireStore();
  // Quota records do not carry their source: ask per instance so each item can name it.
  std::vector<std::string> names;
  if (source)
    names.push_back(*source);
  else
    for (const auto& status : sources_.snapshot()) names.push_back(status.name);
  std::string body;
  json::Writer writer(body);
  writer.beginObject().key("items").beginArray();
  for (const auto& name : names) {
    std::vector<sdk::Record> quotas;
    check(store.latestQuota(name, quotas), "latestQuota");
    for (const auto& quota : quotas) writer.raw(api_json::quota(name, quota));
  }
  writer.endArray().endObject();
  return jsonOk(std::move(body));
}

}  // namespace gatherd::core
