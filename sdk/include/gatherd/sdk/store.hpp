#pragma once
// The Store capability: read access to what a store sink keeps, for the HTTP API and SSE replay.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/status.hpp"

namespace gatherd::sdk {

/// A stored invocation (stream "invocation").
struct StoredInvocation {
  std::int64_t id = 0;          ///< the store's row id
  std::string source;           ///< source instance
  Record record;                ///< stream, key, time_ms, typed fields, redacted raw JSON
  std::int64_t created_ms = 0;  ///< when first stored, UTC ms
  std::int64_t updated_ms = 0;  ///< when last changed, UTC ms (== created_ms if never)
};

/// Filters for listInvocations. Unset optionals do not filter. Results are newest first
/// (time_ms desc, id desc).
struct InvocationQuery {
  std::optional<std::string> source;
  std::optional<std::string> model;
  std::optional<std::string> status;    ///< exact status, or "failure" for every non-success
  std::optional<std::int64_t> from_ms;  ///< inclusive
  std::optional<std::int64_t> to_ms;    ///< exclusive
  std::optional<std::string> text;      ///< substring of the error message or request id
  int limit = 50;                       ///< 1..500
  std::string cursor;  ///< opaque; empty = first page; from InvocationPage::next_cursor
};

struct InvocationPage {
  std::vector<StoredInvocation> items;
  std::string next_cursor;  ///< empty when there is no further page
};

/// Aggregates over invocations.
struct Totals {
  std::int64_t count = 0;
  std::int64_t success = 0;
  std::int64_t failure = 0;  ///< every status other than "success"
  double cost_usd = 0;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cache_input_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::int64_t total_tokens = 0;
};

/// A time range and optional source filter for aggregate queries.
struct RangeQuery {
  std::optional<std::string> source;
  std::optional<std::int64_t> from_ms;  ///< inclusive; unset = since the beginning
  std::optional<std::int64_t> to_ms;    ///< exclusive; unset = until now
};

struct TimeSeriesQuery {
  RangeQuery range;
  std::int64_t bucket_ms = 3'600'000;  ///< 60'000 .. 86'400'000
  /// Buckets of a day or more start at midnight in this fixed UTC offset (minutes east).
  int utc_offset_minutes = 0;
};

struct TimeSeriesPoint {
  std::int64_t bucket_start_ms = 0;
  Totals totals;
};

struct ErrorBucket {
  std::string message;  ///< normalised (ids, numbers and durations masked)
  std::string example;  ///< one raw message of the bucket
  std::int64_t count = 0;
  std::int64_t last_seen_ms = 0;
};

struct ModelBreakdown {
  std::string model;
  Totals totals;
};

struct LatencyStats {
  std::int64_t samples = 0;
  std::optional<double> response_p50_ms, response_p90_ms, response_p99_ms;
  std::optional<double> first_byte_p50_ms, first_byte_p90_ms, first_byte_p99_ms;
};

/// Filters for the window ledger, newest first.
struct WindowQuery {
  std::optional<std::string> source;
  std::optional<Outcome> outcome;
  std::optional<std::int64_t> from_ms;
  std::optional<std::int64_t> to_ms;
  int limit = 100;     ///< 1..1000
  std::string cursor;  ///< opaque; from WindowPage::next_cursor
};

struct StoredWindow {
  std::int64_t id = 0;
  WindowResult window;
};

struct WindowPage {
  std::vector<StoredWindow> items;
  std::string next_cursor;
};

/// One entry of the change sequence, in commit order.
struct Change {
  enum class Kind { kInvocationNew, kInvocationUpdated, kQuota, kWindow, kOther };
  std::int64_t sequence = 0;  ///< strictly increasing, never reused
  Kind kind = Kind::kOther;
  std::string source;
  std::optional<StoredInvocation> invocation;  ///< for kInvocationNew / kInvocationUpdated
  std::optional<Record> record;                ///< for kQuota / kOther
  std::optional<WindowResult> window;          ///< for kWindow
};

struct ChangeList {
  std::vector<Change> changes;
  /// True when changes after the requested sequence were already pruned: the reader must
  /// refetch everything instead of replaying.
  bool too_old = false;
};

/// The tables a store's history is copied by (gatherd migrate), each in row-id order.
enum class HistoryTable { kInvocations, kQuotaSnapshots, kWindows, kRecords, kPrunedTotals };

/// What a store's rollups count for one hour, source, model and status beyond the invocation
/// rows it still keeps: the totals of rows its retention deleted.
struct PrunedTotals {
  std::int64_t bucket_ms = 0;  ///< the hour, UTC ms
  std::string source;
  std::string model;
  std::string status;
  std::int64_t count = 0;
  std::int64_t cost_nano = 0;  ///< USD * 1e9, rounded per invocation
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cache_input_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::int64_t total_tokens = 0;
};

/// A kept record of another stream than invocations: a quota snapshot or a generic record.
struct StoredRecord {
  std::int64_t id = 0;
  std::string source;
  Record record;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;  ///< == created_ms for quota snapshots (never updated)
};

/// One page of one HistoryTable, oldest row id first. Only the vector of the page's table is
/// filled (kQuotaSnapshots and kRecords both use `records`). kPrunedTotals has no row ids: its
/// ids are positions (1, 2, ...) in (bucket, source, model, status) order.
struct HistoryPage {
  HistoryTable table = HistoryTable::kInvocations;
  std::vector<StoredInvocation> invocations;
  std::vector<StoredRecord> records;
  std::vector<StoredWindow> windows;  ///< window.source is the stored source name
  std::vector<PrunedTotals> pruned;
  /// kPrunedTotals: the source's pruning horizon (HistoryCounts::invocations_pruned_before_ms).
  std::int64_t invocations_pruned_before_ms = 0;
  std::int64_t last_id = 0;  ///< the largest row id of the page; the next page starts after it
};

/// Rows per HistoryTable.
struct HistoryCounts {
  std::int64_t invocations = 0;
  std::int64_t quota_snapshots = 0;
  std::int64_t windows = 0;
  std::int64_t records = 0;
  std::int64_t pruned_totals = 0;
  /// Invocations older than this (UTC ms; 0: none) were deleted by retention: their totals live
  /// on in the rollups only (kPrunedTotals).
  std::int64_t invocations_pruned_before_ms = 0;
  std::int64_t total() const {
    return invocations + quota_snapshots + windows + records + pruned_totals;
  }
};

/// Read access to a store. Implemented by store sinks (sqlite). Every method is safe to call
/// from any thread at any time between the sink's start() and stop(); none throws. Results are
/// returned by value and owned by the caller.
class Store {
 public:
  virtual ~Store() = default;

  /// A page of invocations matching `query`.
  [[nodiscard]] virtual Status listInvocations(const InvocationQuery& query,
                                               InvocationPage& page) = 0;
  /// Exact totals over a range (from rollups; not a table scan).
  [[nodiscard]] virtual Status totals(const RangeQuery& query, Totals& totals) = 0;
  /// Totals per bucket, oldest first; empty buckets are included with zero totals.
  [[nodiscard]] virtual Status timeSeries(const TimeSeriesQuery& query,
                                          std::vector<TimeSeriesPoint>& points) = 0;
  /// Failures grouped by normalised error message, most frequent first (at most `limit`).
  [[nodiscard]] virtual Status errors(const RangeQuery& query, int limit,
                                      std::vector<ErrorBucket>& buckets) = 0;
  /// Totals per model, by count descending.
  [[nodiscard]] virtual Status models(const RangeQuery& query,
                                      std::vector<ModelBreakdown>& models) = 0;
  /// Latency percentiles over invocations that carry latency fields.
  [[nodiscard]] virtual Status latency(const RangeQuery& query, LatencyStats& stats) = 0;
  /// The newest quota record of each source (or of `source` only).
  [[nodiscard]] virtual Status latestQuota(const std::optional<std::string>& source,
                                           std::vector<Record>& quotas) = 0;
  /// A page of the window ledger.
  [[nodiscard]] virtual Status listWindows(const WindowQuery& query, WindowPage& page) = 0;
  /// Changes with a sequence greater than `after`, oldest first, at most `limit`.
  [[nodiscard]] virtual Status changesSince(std::int64_t after, int limit, ChangeList& changes) = 0;
  /// The newest sequence number (0 when empty).
  virtual std::int64_t latestSequence() = 0;
  /// Blocks until latestSequence() > after or `max_wait` passes; returns latestSequence().
  /// Used by the SSE broadcaster to learn about commits without polling.
  virtual std::int64_t waitForChange(std::int64_t after, std::chrono::milliseconds max_wait) = 0;

  // Since ABI 2.3 (the host calls these only on plugins built against 2.3 or later).

  /// How many rows each HistoryTable holds now.
  [[nodiscard]] virtual Status countHistory(HistoryCounts& counts) {
    counts = {};
    return Status::failure("this store cannot be copied (no history export)");
  }
  /// Up to `limit` (1..10000) rows of `table` with a row id greater than `after_id`, oldest id
  /// first, with every stored field (created/updated times included) so another store can keep
  /// the same history. An empty page means the table has no further rows.
  [[nodiscard]] virtual Status readHistory(HistoryTable table, std::int64_t after_id, int limit,
                                           HistoryPage& page) {
    (void)table;
    (void)after_id;
    (void)limit;
    page = {};
    return Status::failure("this store cannot be copied (no history export)");
  }
};

}  // namespace gatherd::sdk
