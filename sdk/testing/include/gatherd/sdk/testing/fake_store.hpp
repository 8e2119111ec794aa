#pragma once
// An in-memory Store for tests of the code that reads one (the core's API, sinks that read the
// store): no database, no plugin. It keeps what write() is given and answers every query by
// scanning it, with the Store contract's meaning (newest first, exact totals, the change
// sequence, waitForChange). Not for volume: every query is a scan.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/store.hpp"
#include "gatherd/sdk/streams.hpp"

namespace gatherd::sdk::testing {

/// Thread-safe. write() stores a batch as a store sink would: an invocation is new or, when its
/// fields changed, updated (by source and key); a quota record is appended; any other record is
/// kept by (source, stream, key); the window is appended; each new or changed fact is one change.
class FakeStore : public Store {
 public:
  void write(const Batch& batch, std::int64_t now_ms = 0) {
    std::lock_guard lock(mutex_);
    const std::string& source = batch.window.source;
    for (const Record& record : batch.records) {
      if (record.stream == streams::kInvocation) {
        writeInvocation(source, record, now_ms);
      } else if (record.stream == streams::kQuota) {
        quotas_.push_back({source, record});
        addChange(Change::Kind::kQuota, source, [&](Change& change) { change.record = record; });
      } else {
        auto& kept = others_[{source, record.stream, record.key}];
        if (kept.has_value() && kept->fields == record.fields) continue;
        kept = record;
        addChange(Change::Kind::kOther, source, [&](Change& change) { change.record = record; });
      }
    }
    windows_.push_back({static_cast<std::int64_t>(windows_.size()) + 1, batch.window});
    addChange(Change::Kind::kWindow, source, [&](Change& change) { change.window = batch.window; });
    changed_.notify_all();
  }

  std::size_t invocationCount() const {
    std::lock_guard lock(mutex_);
    return invocations_.size();
  }

  Status listInvocations(const InvocationQuery& query, InvocationPage& page) override {
    std::lock_guard lock(mutex_);
    std::vector<const StoredInvocation*> matching;
    for (const auto& stored : invocations_) {
      if (!inRange(stored, query.source, query.from_ms, query.to_ms)) continue;
      const Record& record = stored.record;
      const std::string status = text(record, streams::invocation::kStatus);
      if (query.model && text(record, streams::invocation::kModel) != *query.model) continue;
      if (query.status &&
          (*query.status == "failure" ? status == "success" : status != *query.status)) {
        continue;
      }
      if (query.text &&
          text(record, streams::invocation::kErrorMessage).find(*query.text) == std::string::npos &&
          text(record, streams::invocation::kRequestId).find(*query.text) == std::string::npos) {
        continue;
      }
      matching.push_back(&stored);
    }
    std::sort(matching.begin(), matching.end(), [](const auto* a, const auto* b) {
      return a->record.time_ms != b->record.time_ms ? a->record.time_ms > b->record.time_ms
                                                    : a->id > b->id;
    });
    // The cursor is the offset of the next page: opaque to callers, as the contract says.
    const std::size_t offset = query.cursor.empty() ? 0 : std::stoul(query.cursor);
    const std::size_t limit = static_cast<std::size_t>(std::clamp(query.limit, 1, 500));
    page = {};
    for (std::size_t i = offset; i < matching.size() && page.items.size() < limit; ++i) {
      page.items.push_back(*matching[i]);
    }
    if (offset + page.items.size() < matching.size()) {
      page.next_cursor = std::to_string(offset + page.items.size());
    }
    return Status::success();
  }

  Status totals(const RangeQuery& query, Totals& totals) override {
    std::lock_guard lock(mutex_);
    totals = {};
    for (const auto& stored : invocations_) {
      if (inRange(stored, query.source, query.from_ms, query.to_ms)) add(totals, stored.record);
    }
    return Status::success();
  }

  Status timeSeries(const TimeSeriesQuery& query, std::vector<TimeSeriesPoint>& points) override {
    std::lock_guard lock(mutex_);
    points.clear();
    const std::int64_t bucket = std::max<std::int64_t>(query.bucket_ms, 60'000);
    const std::int64_t offset_ms =
        bucket >= 86'400'000 ? std::int64_t{query.utc_offset_minutes} * 60'000 : 0;
    std::map<std::int64_t, Totals> buckets;
    for (const auto& stored : invocations_) {
      if (!inRange(stored, query.range.source, query.range.from_ms, query.range.to_ms)) continue;
      const std::int64_t local = stored.record.time_ms + offset_ms;
      const std::int64_t start = local - ((local % bucket) + bucket) % bucket - offset_ms;
      add(buckets[start], stored.record);
    }
    if (buckets.empty()) return Status::success();
    for (std::int64_t start = buckets.begin()->first; start <= buckets.rbegin()->first;
         start += bucket) {
      points.push_back({start, buckets[start]});
    }
    return Status::success();
  }

  Status errors(const RangeQuery& query, int limit, std::vector<ErrorBucket>& buckets) override {
    std::lock_guard lock(mutex_);
    std::map<std::string, ErrorBucket> by_message;
    for (const auto& stored : invocations_) {
      if (!inRange(stored, query.source, query.from_ms, query.to_ms)) continue;
      if (text(stored.record, streams::invocation::kStatus) == "success") continue;
      const std::string message = text(stored.record, streams::invocation::kErrorMessage);
      ErrorBucket& bucket = by_message[message];
      bucket.message = bucket.example = message;
      ++bucket.count;
      bucket.last_seen_ms = std::max(bucket.last_seen_ms, stored.record.time_ms);
    }
    buckets.clear();
    for (auto& [message, bucket] : by_message) buckets.push_back(std::move(bucket));
    std::stable_sort(buckets.begin(), buckets.end(),
                     [](const auto& a, const auto& b) { return a.count > b.count; });
    if (buckets.size() > static_cast<std::size_t>(std::max(limit, 0))) {
      buckets.resize(static_cast<std::size_t>(std::max(limit, 0)));
    }
    return Status::success();
  }

  Status models(const RangeQuery& query, std::vector<ModelBreakdown>& models) override {
    std::lock_guard lock(mutex_);
    std::map<std::string, Totals> by_model;
    for (const auto& stored : invocations_) {
      if (!inRange(stored, query.source, query.from_ms, query.to_ms)) continue;
      add(by_model[text(stored.record, streams::invocation::kModel)], stored.record);
    }
    models.clear();
    for (auto& [model, totals] : by_model) models.push_back({model, totals});
    std::stable_sort(models.begin(), models.end(),
                     [](const auto& a, const auto& b) { return a.totals.count > b.totals.count; });
    return Status::success();
  }

  Status latency(const RangeQuery& query, LatencyStats& stats) override {
    std::lock_guard lock(mutex_);
    std::vector<double> response, first_byte;
    for (const auto& stored : invocations_) {
      if (!inRange(stored, query.source, query.from_ms, query.to_ms)) continue;
      const auto value = stored.record.get<double>(streams::invocation::kResponseTimeMs);
      if (!value) continue;
      response.push_back(*value);
      if (auto first = stored.record.get<double>(streams::invocation::kFirstByteTimeMs)) {
        first_byte.push_back(*first);
      }
    }
    stats = {};
    stats.samples = static_cast<std::int64_t>(response.size());
    stats.response_p50_ms = percentile(response, 0.50);
    stats.response_p90_ms = percentile(response, 0.90);
    stats.response_p99_ms = percentile(response, 0.99);
    stats.first_byte_p50_ms = percentile(first_byte, 0.50);
    stats.first_byte_p90_ms = percentile(first_byte, 0.90);
    stats.first_byte_p99_ms = percentile(first_byte, 0.99);
    return Status::success();
  }

  Status latestQuota(const std::optional<std::string>& source,
                     std::vector<Record>& quotas) override {
    std::lock_guard lock(mutex_);
    std::map<std::string, Record> newest;
    for (const auto& [quota_source, record] : quotas_) {
      if (!source || quota_source == *source) newest[quota_source] = record;
    }
    quotas.clear();
    for (auto& [name, record] : newest) quotas.push_back(std::move(record));
    return Status::success();
  }

  Status listWindows(const WindowQuery& query, WindowPage& page) override {
    std::lock_guard lock(mutex_);
    page = {};
    const std::size_t limit = static_cast<std::size_t>(std::clamp(query.limit, 1, 1000));
    for (auto it = windows_.rbegin(); it != windows_.rend() && page.items.size() < limit; ++it) {
      const WindowResult& window = it->window;
      if (query.source && window.source != *query.source) continue;
      if (query.outcome && window.outcome != *query.outcome) continue;
      if (query.from_ms && window.window_ms < *query.from_ms) continue;
      if (query.to_ms && window.window_ms >= *query.to_ms) continue;
      page.items.push_back(*it);
    }
    return Status::success();
  }

  Status changesSince(std::int64_t after, int limit, ChangeList& changes) override {
    std::lock_guard lock(mutex_);
    changes = {};
    for (const Change& change : changes_) {
      if (change.sequence <= after) continue;
      if (changes.changes.size() >= static_cast<std::size_t>(std::max(limit, 1))) break;
      changes.changes.push_back(change);
    }
    return Status::success();
  }

  std::int64_t latestSequence() override {
    std::lock_guard lock(mutex_);
    return sequence_;
  }

  std::int64_t waitForChange(std::int64_t after, std::chrono::milliseconds max_wait) override {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, max_wait, [&] { return sequence_ > after; });
    return sequence_;
  }

 private:
  struct OtherKey {
    std::string source, stream, key;
    bool operator<(const OtherKey& other) const {
      return std::tie(source, stream, key) < std::tie(other.source, other.stream, other.key);
    }
  };

  static std::string text(const Record& record, const char* name) {
    return record.get<std::string>(name).value_or("");
  }
  static std::int64_t integer(const Record& record, const char* name) {
    return record.get<std::int64_t>(name).value_or(0);
  }
  static void add(Totals& totals, const Record& record) {
    namespace f = streams::invocation;
    ++totals.count;
    if (text(record, f::kStatus) == f::kStatusSuccess)
      ++totals.success;
    else
      ++totals.failure;
    totals.cost_usd += record.get<double>(f::kCostUsd).value_or(0);
    totals.input_tokens += integer(record, f::kInputTokens);
    totals.output_tokens += integer(record, f::kOutputTokens);
    totals.cache_input_tokens += integer(record, f::kCacheInputTokens);
    totals.reasoning_tokens += integer(record, f::kReasoningTokens);
    totals.total_tokens += integer(record, f::kTotalTokens);
  }
  static bool inRange(const StoredInvocation& stored, const std::optional<std::string>& source,
                      const std::optional<std::int64_t>& from_ms,
                      const std::optional<std::int64_t>& to_ms) {
    if (source && stored.source != *source) return false;
    if (from_ms && stored.record.time_ms < *from_ms) return false;
    return !(to_ms && stored.record.time_ms >= *to_ms);
  }
  /// Nearest-rank percentile; nullopt without samples.
  static std::optional<double> percentile(std::vector<double> values, double rank) {
    if (values.empty()) return std::nullopt;
    std::sort(values.begin(), values.end());
    const auto index = static_cast<std::size_t>(rank * static_cast<double>(values.size() - 1));
    return values[index];
  }

  void writeInvocation(const std::string& source, const Record& record, std::int64_t now_ms) {
    for (auto& stored : invocations_) {
      if (stored.source != source || stored.record.key != record.key) continue;
      if (stored.record.fields == record.fields) return;
      stored.record = record;
      stored.updated_ms = now_ms;
      const StoredInvocation copy = stored;
      addChange(Change::Kind::kInvocationUpdated, source,
                [&](Change& change) { change.invocation = copy; });
      return;
    }
    invocations_.push_back(
        {static_cast<std::int64_t>(invocations_.size()) + 1, source, record, now_ms, now_ms});
    const StoredInvocation copy = invocations_.back();
    addChange(Change::Kind::kInvocationNew, source,
              [&](Change& change) { change.invocation = copy; });
  }

  template <class Fill>
  void addChange(Change::Kind kind, const std::string& source, Fill fill) {
    Change change;
    change.sequence = ++sequence_;
    change.kind = kind;
    change.source = source;
    fill(change);
    changes_.push_back(std::move(change));
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<StoredInvocation> invocations_;
  std::vector<std::pair<std::string, Record>> quotas_;
  std::map<OtherKey, std::optional<Record>> others_;
  std::vector<StoredWindow> windows_;
  std::vector<Change> changes_;
  std::int64_t sequence_ = 0;
};

}  // namespace gatherd::sdk::testing
