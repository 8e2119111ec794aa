#include "demo_source.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>

#include "gatherd/lib/json/json_writer.hpp"
#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/sdk/streams.hpp"

namespace gatherd::plugins::demo {
namespace {

namespace field = sdk::streams::invocation;
namespace quota = sdk::streams::quota;

constexpr std::int64_t kShanghaiOffsetMs = 8 * 3'600'000;
constexpr std::int64_t kQuotaRefreshMs = 5 * 60'000;
constexpr double kPlanLimitUsd = 90.0;
constexpr std::int64_t kFirstPollLookbackMs = 10'000;

const char* const kErrors[] = {
    R"({"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","resets_in_seconds":1830}})",
    "request failed: HTTP 502 Bad Gateway",
    "too many requests",
    "exception recovered: upstream stream closed after 31s",
    "request failed: HTTP 503 Service Unavailable",
};

// The upstream's naive Asia/Shanghai wall-clock form: "2026-02-25 10:09:41".
std::string shanghaiTime(std::int64_t utc_ms) {
  std::string text = json::formatIsoUtc(utc_ms + kShanghaiOffsetMs).substr(0, 19);
  text[10] = ' ';
  return text;
}

std::string uuid(std::mt19937_64& random) {
  const std::uint64_t a = random();
  const std::uint64_t b = random();
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%08x-%04x-4%03x-%04x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xFFFF),
                static_cast<unsigned>(a & 0xFFF),
                static_cast<unsigned>(0x8000 | (b >> 48 & 0x3FFF)),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buffer;
}

std::string rawJson(const sdk::Record& record) {
  std::string out;
  json::Writer writer(out);
  writer.beginObject();
  auto put = [&](const char* upstream_name, const char* field_name) {
    auto it = record.fields.find(field_name);
    if (it != record.fields.end()) writer.key(upstream_name).value(it->second);
  };
  put("requestId", field::kRequestId);
  put("requestTime", field::kRequestTime);
  put("model", field::kModel);
  put("inputTokens", field::kInputTokens);
  put("outputTokens", field::kOutputTokens);
  put("cacheInputTokens", field::kCacheInputTokens);
  put("reasoningTokens", field::kReasoningTokens);
  put("totalTokens", field::kTotalTokens);
  put("responseTime", field::kResponseTimeMs);
  put("firstByteTime", field::kFirstByteTimeMs);
  put("cost", field::kCostUsd);
  put("status", field::kStatus);
  put("errorMessage", field::kErrorMessage);
  writer.endObject();
  return out;
}

}  // namespace

sdk::Status DemoSource::init(const sdk::Config& config, sdk::Host& host) {
  host_ = &host;
  // The core prefixes "[source.<name>]".
  if (auto status = parseDemoSettings(config, settings_); !status) return status;
  random_.seed(settings_.seed != 0 ? settings_.seed
                                   : static_cast<std::uint64_t>(host.clock().utcNowMs()));
  return sdk::Status::success();
}

sdk::Record DemoSource::makeCall(std::int64_t time_ms, bool running) {
  std::uniform_real_distribution<double> unit(0, 1);
  std::lognormal_distribution<double> input_size(std::log(45'000.0), 0.6);
  sdk::Record record;
  record.stream = sdk::streams::kInvocation;
  record.time_ms = time_ms / 1000 * 1000;  // the upstream reports whole seconds
  const std::string id = uuid(random_);
  const std::string occurred = json::formatIsoUtc(record.time_ms);
  record.key = id + "|" + occurred;
  auto& f = record.fields;
  f[field::kRequestId] = id;
  f[field::kRequestTime] = shanghaiTime(record.time_ms);
  f[field::kOccurredAt] = occurred;
  f[field::kService] = settings_.service;
  f[field::kModel] = settings_.models[random_() % settings_.models.size()];
  const bool failed = !running && unit(random_) < settings_.failure_ratio;
  if (running) {
    f[field::kStatus] = std::string("running");
  } else if (failed) {
    f[field::kStatus] = std::string("failed");
    f[field::kErrorMessage] = std::string(kErrors[random_() % std::size(kErrors)]);
  } else {
    f[field::kStatus] = std::string(field::kStatusSuccess);
    f[field::kErrorMessage] = std::string();
  }
  if (failed || running) {
    for (const char* name : {field::kInputTokens, field::kOutputTokens, field::kCacheInputTokens,
                             field::kReasoningTokens, field::kTotalTokens}) {
      f[name] = std::int64_t{0};
    }
    f[field::kCostUsd] = 0.0;
    f[field::kResponseTimeMs] = static_cast<std::int64_t>(300 + unit(random_) * 3'000);
    f[field::kFirstByteTimeMs] = std::int64_t{0};
  } else {
    const auto input = static_cast<std::int64_t>(std::min(400'000.0, input_size(random_)));
    const auto cached =
        static_cast<std::int64_t>(static_cast<double>(input) * (0.6 + 0.35 * unit(random_)));
    const auto output = static_cast<std::int64_t>(300 + unit(random_) * 3'000);
    const auto reasoning =
        static_cast<std::int64_t>(static_cast<double>(output) * 0.4 * unit(random_));
    f[field::kInputTokens] = input;
    f[field::kCacheInputTokens] = cached;
    f[field::kOutputTokens] = output;
    f[field::kReasoningTokens] = reasoning;
    f[field::kTotalTokens] = input + output;
    const double cost = (static_cast<double>(input - cached) * 1.25 +
                         static_cast<double>(cached) * 0.125 + static_cast<double>(output) * 10.0) /
                        1'000'000.0;
    f[field::kCostUsd] = std::round(cost * 1e6) / 1e6;
    f[field::kResponseTimeMs] = static_cast<std::int64_t>(2'000 + unit(random_) * 58'000);
    f[field::kFirstByteTimeMs] = static_cast<std::int64_t>(400 + unit(random_) * 4'600);
  }
  if (unit(random_) < 0.1) f[field::kServiceTier] = std::string("priority");
  record.raw_json = rawJson(record);
  return record;
}

void DemoSource::finishCall(sdk::Record& record) {
  // A running call finishes: same identity, new status, tokens and cost.
  sdk::Record finished = makeCall(record.time_ms, false);
  for (const char* keep :
       {field::kRequestId, field::kRequestTime, field::kOccurredAt, field::kModel}) {
    finished.fields[keep] = record.fields[keep];
  }
  finished.key = record.key;
  finished.raw_json = rawJson(finished);
  record = std::move(finished);
}

sdk::Record DemoSource::makeQuota(std::int64_t now_ms) {
  sdk::Record record;
  record.stream = sdk::streams::kQuota;
  record.key = settings_.service;
  record.time_ms = now_ms;
  auto& f = record.fields;
  f[quota::kService] = settings_.service;
  f[quota::kPlanName] = std::string("codex 月卡 90刀类型 (demo)");
  f[quota::kPlanId] = std::string("demo-plan");
  f[quota::kBillingType] = std::string("amount");
  const double used = std::min(kPlanLimitUsd, std::round(used_usd_ * 1e4) / 1e4);
  f[quota::kAmountLimitUsd] = kPlanLimitUsd;
  f[quota::kAmountUsedUsd] = used;
  f[quota::kAmountRemainingUsd] = std::round((kPlanLimitUsd - used) * 1e4) / 1e4;
  f[quota::kPeriod] = std::string("monthly");
  const std::int64_t day_ms = 86'400'000;
  f[quota::kPeriodResetAt] = json::formatIsoUtc((now_ms / day_ms + 1) * day_ms);
  f[quota::kExpiresAt] = json::formatIsoUtc((now_ms / day_ms + 24) * day_ms);
  f[quota::kIsActive] = true;
  f[quota::kIsLongTerm] = false;
  f[quota::kIsAuth] = true;
  f[quota::kUsage24hRequests] = used_count_;
  return record;
}

std::vector<sdk::Record> DemoSource::simulate(std::int64_t from_ms, std::int64_t to_ms) {
  std::vector<sdk::Record> records;
  for (auto& call : running_) {
    finishCall(call);
    records.push_back(std::move(call));
  }
  running_.clear();
  const double span = static_cast<double>(std::max<std::int64_t>(0, to_ms - from_ms));
  const double expected = settings_.calls_per_minute * span / 60'000.0 + carry_;
  auto count = static_cast<std::int64_t>(std::floor(expected));
  carry_ = expected - static_cast<double>(count);
  if (settings_.burst_every_ms > 0) {
    if (next_burst_ms_ == 0) next_burst_ms_ = from_ms + settings_.burst_every_ms;
    while (next_burst_ms_ <= to_ms) {
      count += settings_.burst_size;
      next_burst_ms_ += settings_.burst_every_ms;
    }
  }
  std::uniform_int_distribution<std::int64_t> when(from_ms + 1, std::max(from_ms + 1, to_ms));
  std::uniform_real_distribution<double> unit(0, 1);
  for (std::int64_t i = 0; i < count; ++i) {
    const bool running = unit(random_) < 0.03;
    sdk::Record call = makeCall(when(random_), running);
    if (running) running_.push_back(call);
    records.push_back(std::move(call));
  }
  for (const auto& record : records) {
    if (record.stream != sdk::streams::kInvocation) continue;
    if (record.get<std::string>(field::kStatus) == std::string("running")) continue;
    used_usd_ += record.get<double>(field::kCostUsd).value_or(0);
    ++used_count_;
  }
  if (!records.empty() || to_ms - last_quota_ms_ >= kQuotaRefreshMs) {
    records.push_back(makeQuota(to_ms));
    last_quota_ms_ = to_ms;
  }
  return records;
}

void DemoSource::poll(const sdk::PollContext& context, sdk::Batch& batch) {
  if (settings_.poll_latency_ms > 0) {
    // Like a slow upstream: answers after the latency, unless the core cancels the poll first.
    std::mutex wait_mutex;
    std::condition_variable woken;
    bool cancelled = false;
    context.cancel->onCancel([&] {
      std::lock_guard wait_lock(wait_mutex);
      cancelled = true;
      woken.notify_all();
    });
    {
      std::unique_lock wait_lock(wait_mutex);
      woken.wait_for(wait_lock, std::chrono::milliseconds(settings_.poll_latency_ms),
                     [&] { return cancelled; });
    }
    context.cancel->onCancel({});
    if (cancelled) {
      batch.window.outcome = sdk::Outcome::kTimeout;
      batch.window.message = "cancelled while waiting for the simulated upstream";
      return;
    }
  }
  std::lock_guard lock(mutex_);
  const std::int64_t now = host_->clock().utcNowMs();
  if (last_poll_ms_ == 0) last_poll_ms_ = now - kFirstPollLookbackMs;
  batch.records = simulate(last_poll_ms_, now);
  last_poll_ms_ = std::max(last_poll_ms_, now);
  std::int64_t invocations = 0;
  for (const auto& record : batch.records) {
    if (record.stream == sdk::streams::kInvocation) ++invocations;
  }
  batch.window.outcome = sdk::Outcome::kOk;
  batch.window.records_seen = invocations;
  batch.window.records_emitted = invocations;
  host_->metrics().increment("demo_calls", invocations);
}

}  // namespace gatherd::plugins::demo
