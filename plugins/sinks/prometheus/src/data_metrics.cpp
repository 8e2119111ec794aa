#include "data_metrics.hpp"

#include <algorithm>

#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/sdk/metric_family.hpp"
#include "gatherd/sdk/streams.hpp"

namespace gatherd::plugins::prometheus {
namespace {

namespace inv = sdk::streams::invocation;
namespace qf = sdk::streams::quota;

const char* const kKindNames[] = {"input", "output", "cache_input", "reasoning"};

using sdk::addMetricSample;
using sdk::makeMetricFamily;

std::optional<double> seconds(const sdk::Record& record, const char* field) {
  auto text = record.get<std::string>(field);
  if (!text || text->empty()) return std::nullopt;
  auto ms = json::parseTimestamp(*text, 0);
  if (!ms) return std::nullopt;
  return static_cast<double>(*ms) / 1000.0;
}

}  // namespace

bool DataMetrics::pendingStatus(const std::string& status) {
  return status == "running" || status == "pending";
}

DataMetrics::Amounts DataMetrics::amountsOf(const sdk::Record& record) {
  Amounts amounts;
  amounts.cost_usd = std::max(0.0, record.get<double>(inv::kCostUsd).value_or(0));
  const char* fields[] = {inv::kInputTokens, inv::kOutputTokens, inv::kCacheInputTokens,
                          inv::kReasoningTokens};
  for (int kind = 0; kind < kKinds; ++kind) {
    amounts.tokens[kind] = std::max(0.0, record.get<double>(fields[kind]).value_or(0));
  }
  return amounts;
}

DataMetrics::Quota DataMetrics::quotaOf(const sdk::Record& record) {
  Quota quota;
  quota.time_ms = record.time_ms;
  quota.amount_limit = record.get<double>(qf::kAmountLimitUsd);
  quota.amount_used = record.get<double>(qf::kAmountUsedUsd);
  quota.amount_remaining = record.get<double>(qf::kAmountRemainingUsd);
  quota.count_limit = record.get<double>(qf::kCountLimit);
  quota.count_used = record.get<double>(qf::kCountUsed);
  quota.count_remaining = record.get<double>(qf::kCountRemaining);
  quota.reset_s = seconds(record, qf::kPeriodResetAt);
  quota.expiry_s = seconds(record, qf::kExpiresAt);
  quota.usage_24h_cost = record.get<double>(qf::kUsage24hCostUsd);
  quota.active = record.get<bool>(qf::kIsActive);
  quota.plan = record.get<std::string>(qf::kPlanName).value_or("");
  quota.billing_type = record.get<std::string>(qf::kBillingType).value_or("");
  if (quota.plan.size() > kMaxModelBytes) quota.plan.resize(kMaxModelBytes);
  if (quota.billing_type.size() > 32) quota.billing_type.resize(32);
  return quota;
}

std::string DataMetrics::modelLabel(const std::string& model) {
  std::string label = model.empty() ? std::string("unknown") : model.substr(0, kMaxModelBytes);
  if (models_.count(label) != 0) return label;
  if (label == kOtherModel || models_.size() >= max_models_) return kOtherModel;
  models_.insert(label);
  return label;
}

void DataMetrics::remember(SourceKeys& keys, const std::string& key, Seen seen) {
  auto [it, inserted] = keys.seen.insert_or_assign(key, std::move(seen));
  if (!inserted) return;
  keys.order.push_back(key);
  if (keys.order.size() > kKeysPerSource) {
    keys.seen.erase(keys.order.front());
    keys.order.pop_front();
  }
}

void DataMetrics::applyInvocation(const std::string& source, const sdk::Record& record) {
  const std::string status = record.get<std::string>(inv::kStatus).value_or("unknown");
  const bool pending = pendingStatus(status);
  SourceKeys& keys = keys_[source];
  auto found = keys.seen.find(record.key);
  if (found != keys.seen.end() && found->second.counted) {
    // Seen and counted: only growth of cost and tokens is added (counters never go down; a
    // changed status is not counted again).
    Seen& seen = found->second;
    const Amounts now = amountsOf(record);
    Amounts& total = totals_[source][seen.model].amounts;
    if (now.cost_usd > seen.amounts.cost_usd) {
      total.cost_usd += now.cost_usd - seen.amounts.cost_usd;
      seen.amounts.cost_usd = now.cost_usd;
    }
    for (int kind = 0; kind < kKinds; ++kind) {
      if (now.tokens[kind] > seen.amounts.tokens[kind]) {
        total.tokens[kind] += now.tokens[kind] - seen.amounts.tokens[kind];
        seen.amounts.tokens[kind] = now.tokens[kind];
      }
    }
    return;
  }
  if (pending) {
    if (found == keys.seen.end()) remember(keys, record.key, Seen{});
    return;
  }
  Seen seen;
  seen.counted = true;
  seen.model = modelLabel(record.get<std::string>(inv::kModel).value_or(""));
  seen.amounts = amountsOf(record);
  ModelTotals& totals = totals_[source][seen.model];
  (status == inv::kStatusSuccess ? totals.success : totals.failure) += 1;
  totals.amounts.cost_usd += seen.amounts.cost_usd;
  for (int kind = 0; kind < kKinds; ++kind)
    totals.amounts.tokens[kind] += seen.amounts.tokens[kind];
  remember(keys, record.key, std::move(seen));
}

void DataMetrics::render(Format format, std::string& out) const {
  std::lock_guard render_lock(render_mutex_);
  Rendered& rendered = rendered_[format == Format::kOpenMetrics ? 1 : 0];
  // Read before collecting: a change that lands in between makes the next scrape render again.
  const std::uint64_t generation = generation_.load();
  if (rendered.generation != generation) {
    std::vector<sdk::MetricFamily> families;
    collect(families);
    rendered.text.clear();
    writeFamilies(families, format, rendered.text);
    rendered.generation = generation;
  }
  out.append(rendered.text);
}

void DataMetrics::apply(const sdk::Batch& batch) {
  if (batch.records.empty()) return;
  std::lock_guard lock(mutex_);
  ++generation_;
  const std::string& source = batch.window.source;
  for (const auto& record : batch.records) {
    if (record.stream == sdk::streams::kInvocation) {
      applyInvocation(source, record);
    } else if (record.stream == sdk::streams::kQuota) {
      auto it = quota_.find(source);
      if (it == quota_.end() || it->second.time_ms <= record.time_ms)
        quota_[source] = quotaOf(record);
    }
  }
}

sdk::Status DataMetrics::seed(sdk::Store& store, const std::vector<std::string>& sources) {
  for (const auto& source : sources) {
    bool consistent = false;
    for (int attempt = 0; attempt < 3 && !consistent; ++attempt) {
      const std::int64_t before = store.latestSequence();
      sdk::RangeQuery range;
      range.source = source;
      std::vector<sdk::ModelBreakdown> models;
      if (auto status = store.models(range, models); !status) return status;
      sdk::InvocationQuery query;
      query.source = source;
      query.limit = 500;
      std::vector<sdk::StoredInvocation> recent;
      while (recent.size() < kKeysPerSource) {
        sdk::InvocationPage page;
        if (auto status = store.listInvocations(query, page); !status) return status;
        for (auto& item : page.items) recent.push_back(std::move(item));
        if (page.next_cursor.empty()) break;
        query.cursor = page.next_cursor;
      }
      std::vector<sdk::Record> quotas;
      if (auto status = store.latestQuota(source, quotas); !status) return status;
      consistent = store.latestSequence() == before;
      if (!consistent && attempt < 2) continue;

      std::lock_guard lock(mutex_);
      ++generation_;
      auto& totals = totals_[source];
      totals.clear();
      keys_[source] = {};
      for (const auto& breakdown : models) {  // by count, most used first: they keep names
        ModelTotals& model = totals[modelLabel(breakdown.model)];
        model.success += static_cast<double>(breakdown.totals.success);
        model.failure += static_cast<double>(breakdown.totals.failure);
        model.amounts.cost_usd += breakdown.totals.cost_usd;
        model.amounts.tokens[0] += static_cast<double>(breakdown.totals.input_tokens);
        model.amounts.tokens[1] += static_cast<double>(breakdown.totals.output_tokens);
        model.amounts.tokens[2] += static_cast<double>(breakdown.totals.cache_input_tokens);
        model.amounts.tokens[3] += static_cast<double>(breakdown.totals.reasoning_tokens);
      }
      SourceKeys& keys = keys_[source];
      // Oldest first, so that the newest keys are the last to be forgotten.
      for (auto it = recent.rbegin(); it != recent.rend(); ++it) {
        const sdk::Record& record = it->record;
        const std::string status = record.get<std::string>(inv::kStatus).value_or("unknown");
        Seen seen;
        seen.model = modelLabel(record.get<std::string>(inv::kModel).value_or(""));
        if (pendingStatus(status)) {
          // The store counts a running call as a failure already; this sink counts it when it
          // is final, so it is taken back out of the totals here.
          ModelTotals& model = totals[seen.model];
          const Amounts amounts = amountsOf(record);
          model.failure = std::max(0.0, model.failure - 1);
          model.amounts.cost_usd = std::max(0.0, model.amounts.cost_usd - amounts.cost_usd);
          for (int kind = 0; kind < kKinds; ++kind) {
            model.amounts.tokens[kind] =
                std::max(0.0, model.amounts.tokens[kind] - amounts.tokens[kind]);
          }
        } else {
          seen.counted = true;
          seen.amounts = amountsOf(record);
        }
        remember(keys, record.key, std::move(seen));
      }
      if (!quotas.empty()) quota_[source] = quotaOf(quotas.front());
      consistent = true;
    }
  }
  return sdk::Status::success();
}

std::size_t DataMetrics::modelLabels() const {
  std::lock_guard lock(mutex_);
  std::set<std::string, std::less<>> labels;
  for (const auto& [source, models] : totals_) {
    for (const auto& [model, totals] : models) labels.insert(model);
  }
  return labels.size();
}

void DataMetrics::collect(std::vector<sdk::MetricFamily>& families) const {
  using sdk::MetricType;
  auto invocations =
      makeMetricFamily("gatherd_invocations", MetricType::kCounter,
                       "Finished invocations by source, model and status class (success, "
                       "failure); a running call counts once it is final");
  auto cost =
      makeMetricFamily("gatherd_cost_usd", MetricType::kCounter,
                       "Cost of the invocations in US dollars, as the upstream reports it", "usd");
  auto tokens = makeMetricFamily("gatherd_tokens", MetricType::kCounter,
                                 "Tokens of the invocations by kind (input, output, cache_input, "
                                 "reasoning)");
  auto limit_usd = makeMetricFamily("gatherd_quota_amount_limit_usd", MetricType::kGauge,
                                    "The plan's spending limit of the current period", "usd");
  auto used_usd = makeMetricFamily("gatherd_quota_amount_used_usd", MetricType::kGauge,
                                   "Spent in the current period", "usd");
  auto remaining_usd = makeMetricFamily("gatherd_quota_amount_remaining_usd", MetricType::kGauge,
                                        "Left to spend in the current period", "usd");
  auto count_limit = makeMetricFamily("gatherd_quota_count_limit", MetricType::kGauge,
                                      "The plan's call limit of the current period (count plans)");
  auto count_used = makeMetricFamily("gatherd_quota_count_used", MetricType::kGauge,
                                     "Calls made in the current period (count plans)");
  auto count_remaining = makeMetricFamily("gatherd_quota_count_remaining", MetricType::kGauge,
                                          "Calls left in the current period (count plans)");
  auto reset =
      makeMetricFamily("gatherd_quota_reset_timestamp_seconds", MetricType::kGauge,
                       "When the current period resets, seconds since the Unix epoch", "seconds");
  auto expiry = makeMetricFamily("gatherd_quota_expiry_timestamp_seconds", MetricType::kGauge,
                                 "When the plan expires, seconds since the Unix epoch", "seconds");
  auto usage_24h =
      makeMetricFamily("gatherd_quota_usage_24h_cost_usd", MetricType::kGauge,
                       "Spending of the last 24 hours as the upstream reports it", "usd");
  auto active = makeMetricFamily("gatherd_quota_active", MetricType::kGauge,
                                 "1 when the plan is active, else 0");
  auto updated = makeMetricFamily("gatherd_quota_updated_timestamp_seconds", MetricType::kGauge,
                                  "When the latest quota snapshot was taken", "seconds");
  auto info = makeMetricFamily("gatherd_quota_plan_info", MetricType::kGauge,
                               "Always 1; the labels name the current plan and its billing type");

  std::lock_guard lock(mutex_);
  for (const auto& [source, models] : totals_) {
    for (const auto& [model, totals] : models) {
      addMetricSample(invocations,
                      {{"source", source}, {"model", model}, {"status_class", "success"}},
                      totals.success);
      addMetricSample(invocations,
                      {{"source", source}, {"model", model}, {"status_class", "failure"}},
                      totals.failure);
      addMetricSample(cost, {{"source", source}, {"model", model}}, totals.amounts.cost_usd);
      for (int kind = 0; kind < kKinds; ++kind) {
        addMetricSample(tokens, {{"source", source}, {"model", model}, {"kind", kKindNames[kind]}},
                        totals.amounts.tokens[kind]);
      }
    }
  }
  for (const auto& [source, quota] : quota_) {
    const sdk::MetricLabels labels = {{"source", source}};
    auto put = [&](sdk::MetricFamily& target, const std::optional<double>& value) {
      if (value) addMetricSample(target, labels, *value);
    };
    put(limit_usd, quota.amount_limit);
    put(used_usd, quota.amount_used);
    put(remaining_usd, quota.amount_remaining);
    put(count_limit, quota.count_limit);
    put(count_used, quota.count_used);
    put(count_remaining, quota.count_remaining);
    put(reset, quota.reset_s);
    put(expiry, quota.expiry_s);
    put(usage_24h, quota.usage_24h_cost);
    if (quota.active) addMetricSample(active, labels, *quota.active ? 1 : 0);
    addMetricSample(updated, labels, static_cast<double>(quota.time_ms) / 1000.0);
    addMetricSample(
        info, {{"source", source}, {"plan", quota.plan}, {"billing_type", quota.billing_type}}, 1);
  }
  for (auto* built :
       {&invocations, &cost, &tokens, &limit_usd, &used_usd, &remaining_usd, &count_limit,
        &count_used, &count_remaining, &reset, &expiry, &usage_24h, &active, &updated, &info}) {
    if (!built->samples.empty()) families.push_back(std::move(*built));
  }
}

}  // namespace gatherd::plugins::prometheus
