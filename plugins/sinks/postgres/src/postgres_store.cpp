// Over 500 lines: every sdk::Store query (pages, stats, series, changes, LISTEN/NOTIFY wait) in
// one place, the same shape as sqlite_store.cpp.
#include "postgres_store.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "batch_writer.hpp"
#include "gatherd/lib/storage/aggregate_plan.hpp"
#include "gatherd/lib/storage/flat_fields.hpp"
#include "gatherd/sdk/streams.hpp"
#include <poll.h>

namespace gatherd::plugins::postgres {
namespace {

using storage::Accumulator;
using storage::floorDiv;
using storage::kDayMs;
using storage::kHourMs;
using storage::Level;

constexpr const char* kInvocationColumns =
    "id, source, invoke_id, occurred_at, occurred_ms, payload, raw_response, created_ms, "
    "updated_ms, model, status, error_message, input_tokens, output_tokens, cache_input_tokens, "
    "reasoning_tokens, total_tokens, cost, response_time_ms, first_byte_time_ms";
constexpr const char* kWindowColumns =
    "id, source, window_ms, started_ms, finished_ms, outcome, message, http_status, "
    "records_seen, records_emitted, records_rejected, gap_suspected, gap_from_ms, gap_to_ms, "
    "auth_state, clock_jump";
constexpr const char* kRollupSums =
    "sum(count), sum(CASE WHEN status = 'success' THEN count ELSE 0 END), sum(cost_nano), "
    "sum(input_tokens), sum(output_tokens), sum(cache_input_tokens), sum(reasoning_tokens), "
    "sum(total_tokens)";
constexpr const char* kSourceRollupSums =
    "sum(count), sum(success), sum(cost_nano), sum(input_tokens), sum(output_tokens), "
    "sum(cache_input_tokens), sum(reasoning_tokens), sum(total_tokens)";
constexpr const char* kRowSums =
    "count(*), sum(CASE WHEN status = 'success' THEN 1 ELSE 0 END), sum(cost_nano), "
    "sum(coalesce(input_tokens, 0)), sum(coalesce(output_tokens, 0)), "
    "sum(coalesce(cache_input_tokens, 0)), sum(coalesce(reasoning_tokens, 0)), "
    "sum(coalesce(total_tokens, 0))";

sdk::Fields decodeFields(std::string_view json) {
  if (json.empty()) return {};
  if (auto parsed = storage::parseFlatObject(json)) return std::move(*parsed);
  return {};
}

sdk::StoredInvocation readInvocation(const Result& row, int r) {
  sdk::StoredInvocation item;
  item.id = row.integer(r, 0);
  item.source = row.text(r, 1);
  item.record.stream = sdk::streams::kInvocation;
  item.record.key = row.text(r, 2) + "|" + row.text(r, 3);
  item.record.time_ms = row.integer(r, 4);
  item.record.fields = decodeFields(row.view(r, 5));
  item.record.raw_json = row.text(r, 6);
  item.created_ms = row.integer(r, 7);
  item.updated_ms = row.integer(r, 8);
  // Rows copied from an older store may lack well-known fields in their payload: the typed
  // columns fill them in.
  namespace field = sdk::streams::invocation;
  sdk::Fields& fields = item.record.fields;
  fields.try_emplace(field::kRequestId, row.text(r, 2));
  fields.try_emplace(field::kOccurredAt, row.text(r, 3));
  int column = 9;
  for (const char* name : {field::kModel, field::kStatus, field::kErrorMessage}) {
    if (!row.isNull(r, column)) fields.try_emplace(name, row.text(r, column));
    ++column;
  }
  for (const char* name : {field::kInputTokens, field::kOutputTokens, field::kCacheInputTokens,
                           field::kReasoningTokens, field::kTotalTokens}) {
    if (!row.isNull(r, column)) fields.try_emplace(name, row.integer(r, column));
    ++column;
  }
  if (!row.isNull(r, column)) fields.try_emplace(field::kCostUsd, row.real(r, column));
  ++column;
  for (const char* name : {field::kResponseTimeMs, field::kFirstByteTimeMs}) {
    if (!row.isNull(r, column)) fields.try_emplace(name, row.integer(r, column));
    ++column;
  }
  return item;
}

sdk::AuthState authStateFromName(std::string_view name) {
  for (auto state : {sdk::AuthState::kOk, sdk::AuthState::kExpired, sdk::AuthState::kMissing}) {
    if (name == sdk::authStateName(state)) return state;
  }
  return sdk::AuthState::kUnknown;
}

sdk::StoredWindow readWindow(const Result& row, int r) {
  sdk::StoredWindow item;
  item.id = row.integer(r, 0);
  sdk::WindowResult& window = item.window;
  window.source = row.text(r, 1);
  window.window_ms = row.integer(r, 2);
  window.started_ms = row.integer(r, 3);
  window.finished_ms = row.integer(r, 4);
  window.outcome = sdk::outcomeFromName(row.view(r, 5)).value_or(sdk::Outcome::kOk);
  window.message = row.text(r, 6);
  window.http_status = row.integer(r, 7);
  window.records_seen = row.integer(r, 8);
  window.records_emitted = row.integer(r, 9);
  window.records_rejected = row.integer(r, 10);
  window.gap_suspected = row.integer(r, 11) != 0;
  window.gap_from_ms = row.integer(r, 12);
  window.gap_to_ms = row.integer(r, 13);
  window.auth_state = authStateFromName(row.view(r, 14));
  window.clock_jump = row.integer(r, 15) != 0;
  return item;
}

// Columns: key, time_ms, fields, raw_response.
sdk::Record readRecord(const Result& row, int r, std::string stream) {
  sdk::Record record;
  record.stream = std::move(stream);
  record.key = row.text(r, 0);
  record.time_ms = row.integer(r, 1);
  record.fields = decodeFields(row.view(r, 2));
  record.raw_json = row.text(r, 3);
  return record;
}

Accumulator readAccumulator(const Result& row, int r, int first) {
  Accumulator sum;
  sum.count = row.integer(r, first);
  sum.success = row.integer(r, first + 1);
  sum.cost_nano = row.integer(r, first + 2);
  for (int i = 0; i < 5; ++i) {
    sum.tokens[static_cast<std::size_t>(i)] = row.integer(r, first + 3 + i);
  }
  return sum;
}

std::string makeCursor(std::int64_t time_ms, std::int64_t id) {
  return std::to_string(time_ms) + "." + std::to_string(id);
}

bool parseCursor(const std::string& cursor, std::int64_t& time_ms, std::int64_t& id) {
  const auto dot = cursor.find('.');
  if (dot == std::string::npos) return false;
  const char* begin = cursor.data();
  const char* end = begin + cursor.size();
  auto first = std::from_chars(begin, begin + dot, time_ms);
  auto second = std::from_chars(begin + dot + 1, end, id);
  return first.ec == std::errc() && first.ptr == begin + dot && second.ec == std::errc() &&
         second.ptr == end;
}

std::string likePattern(std::string_view text) {
  std::string pattern = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') pattern.push_back('\\');
    pattern.push_back(c);
  }
  pattern.push_back('%');
  return pattern;
}

std::optional<double> percentile(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return std::nullopt;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]);
}

struct Range {
  std::int64_t from;
  std::int64_t to;
};

std::optional<std::string> checkRange(const sdk::RangeQuery& query, Range& range) {
  range.from = std::max(query.from_ms.value_or(storage::kMinTimeMs), storage::kMinTimeMs);
  range.to = std::min(query.to_ms.value_or(storage::kMaxTimeMs), storage::kMaxTimeMs);
  if (query.from_ms && query.to_ms && *query.from_ms > *query.to_ms) {
    return "the range's start is after its end";
  }
  return std::nullopt;
}

std::int64_t prunedBefore(Connection& connection) {
  return connection.queryInt("SELECT value FROM meta WHERE name = 'invocations_pruned_before_ms'");
}

std::string segmentSql(Level level, bool by_model) {
  std::string sql = "SELECT ";
  sql += by_model ? "model, " : "'', ";
  if (level == Level::kHourly && !by_model) {
    return sql + kSourceRollupSums +
           " FROM invocation_rollup_hourly_source WHERE bucket_ms >= $1 AND bucket_ms < $2"
           " AND ($3::text IS NULL OR source = $3) GROUP BY 1";
  }
  if (level == Level::kRows) {
    sql += kRowSums;
    sql += " FROM codex_invocations WHERE occurred_ms >= $1 AND occurred_ms < $2";
  } else {
    sql += kRollupSums;
    sql +=
        level == Level::kDaily ? " FROM invocation_rollup_daily" : " FROM invocation_rollup_hourly";
    sql += " WHERE bucket_ms >= $1 AND bucket_ms < $2";
  }
  sql += " AND ($3::text IS NULL OR source = $3) GROUP BY 1";
  return sql;
}

std::map<std::string, Accumulator> aggregate(Connection& connection,
                                             const std::optional<std::string>& source,
                                             std::int64_t from, std::int64_t to, bool by_model) {
  std::map<std::string, Accumulator> groups;
  for (const auto& segment : storage::planRange(from, to, prunedBefore(connection))) {
    Result rows = connection.exec(segmentSql(segment.level, by_model),
                                  Params().add(segment.from).add(segment.to).add(source));
    for (int r = 0; r < rows.rows(); ++r) {
      if (rows.isNull(r, 1)) continue;
      groups[rows.text(r, 0)].add(readAccumulator(rows, r, 1));
    }
  }
  return groups;
}

std::vector<Accumulator> series(Connection& connection, const std::optional<std::string>& source,
                                std::int64_t from, std::int64_t to, std::int64_t first,
                                std::int64_t bucket_ms) {
  const std::int64_t buckets = floorDiv(to - first + bucket_ms - 1, bucket_ms);
  std::vector<Accumulator> points(static_cast<std::size_t>(std::max<std::int64_t>(buckets, 0)));
  if (points.empty()) return points;
  auto bucketOf = [&](std::int64_t time) {
    const std::int64_t index = floorDiv(time - first, bucket_ms);
    return static_cast<std::size_t>(
        std::clamp<std::int64_t>(index, 0, static_cast<std::int64_t>(points.size()) - 1));
  };
  const std::int64_t pruned_before = prunedBefore(connection);
  // Every hour with data from the hourly rollup: an hour inside the range and inside one bucket
  // is taken whole; any other hour comes from its rows, unless retention pruned them.
  struct Split {
    std::int64_t from;
    std::int64_t to;
  };
  std::vector<Split> splits;
  Result hours = connection.exec(
      std::string("SELECT bucket_ms, ") + kSourceRollupSums +
          " FROM invocation_rollup_hourly_source WHERE bucket_ms >= $1 AND bucket_ms < $2 "
          "AND ($3::text IS NULL OR source = $3) GROUP BY bucket_ms ORDER BY bucket_ms",
      Params().add(floorDiv(from, kHourMs) * kHourMs).add(to).add(source));
  for (int r = 0; r < hours.rows(); ++r) {
    const std::int64_t hour = hours.integer(r, 0);
    const Accumulator sum = readAccumulator(hours, r, 1);
    const std::int64_t hour_end = hour + kHourMs;
    const bool whole = hour >= from && hour_end <= to && bucketOf(hour) == bucketOf(hour_end - 1);
    if (whole || hour < pruned_before) {
      points[bucketOf(std::max(hour, from))].add(sum);
    } else {
      splits.push_back({std::max(hour, from), std::min(hour_end, to)});
    }
  }
  if (splits.empty()) return points;
  // All split pieces in one query: each row is counted in the piece that contains it. Adjacent
  // pieces (minute buckets split every hour) merge into one range. The ranges are spelled out
  // as parameters of their own, not joined from an array: the planner then knows how few rows
  // each covers and reads them from the time index (from an array it guessed a ninth of the
  // table per range and scanned all of it: 270 ms at 100k rows instead of 0.7 ms).
  std::vector<Split> ranges;
  for (const Split& split : splits) {
    if (!ranges.empty() && ranges.back().to == split.from) {
      ranges.back().to = split.to;
    } else {
      ranges.push_back(split);
    }
  }
  Params params;
  params.add(source).add(first).add(bucket_ms);
  std::string sql = std::string("SELECT (occurred_ms - $2) / $3, ") + kRowSums +
                    " FROM codex_invocations WHERE ($1::text IS NULL OR source = $1) AND (";
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    params.add(ranges[i].from).add(ranges[i].to);
    sql += (i == 0 ? "" : " OR ") + std::string("(occurred_ms >= $") +
           std::to_string(params.size() - 1) + "::bigint AND occurred_ms < $" +
           std::to_string(params.size()) + "::bigint)";
  }
  sql += ") GROUP BY 1";
  Result rows = connection.exec(sql, params);
  for (int r = 0; r < rows.rows(); ++r) {
    const std::int64_t index = rows.integer(r, 0);
    if (index < 0 || index >= static_cast<std::int64_t>(points.size())) continue;
    points[static_cast<std::size_t>(index)].add(readAccumulator(rows, r, 1));
  }
  return points;
}

}  // namespace

PostgresStore::PostgresStore(std::string conninfo, std::string schema, int readers,
                             sdk::Clock& clock, sdk::Logger& logger)
    : conninfo_(std::move(conninfo)),
      schema_(std::move(schema)),
      session_sql_("SET search_path = " + quoteIdentifier(schema_) +
                   "; SET default_transaction_read_only = on"),
      readers_(readers),
      clock_(clock),
      logger_(logger) {}

PostgresStore::~PostgresStore() {
  close();
}

std::int64_t PostgresStore::committedHorizon(Connection& connection) {
  // Sequence order is commit order (see BatchWriter::flushChanges): the largest committed
  // sequence is a safe horizon. After pruning everything, the pruned mark stands in.
  return connection.queryInt(
      "SELECT greatest((SELECT max(seq) FROM changes), "
      "(SELECT value FROM meta WHERE name = 'changes_pruned_through'), 0)");
}

void PostgresStore::open() {
  {
    auto connection = acquire();
    publish(committedHorizon(*connection));
    release(std::move(connection));
  }
  listener_ = std::thread([this] { listen(); });
}

void PostgresStore::publish(std::int64_t sequence) {
  {
    std::lock_guard lock(sequence_mutex_);
    if (sequence > latest_sequence_.load()) latest_sequence_.store(sequence);
  }
  sequence_changed_.notify_all();
}

// Announcements follow the machine's steady clock, not the host's: they pace server load, and
// a test's clock that stands still must not hold them back.
bool PostgresStore::announceNext() {
  std::lock_guard lock(announce_mutex_);
  return std::chrono::steady_clock::now() - last_announced_ >=
         std::chrono::milliseconds(kAnnounceEveryMs);
}

void PostgresStore::committed(std::int64_t sequence, bool announced) {
  publish(sequence);
  std::lock_guard lock(announce_mutex_);
  if (announced) {
    last_announced_ = std::chrono::steady_clock::now();
    if (owed_sequence_ <= sequence) owed_sequence_ = 0;
  } else {
    owed_sequence_ = std::max(owed_sequence_, sequence);
  }
}

int PostgresStore::msUntilAnnouncement(int otherwise) {
  std::lock_guard lock(announce_mutex_);
  if (owed_sequence_ == 0) return otherwise;
  const auto due = last_announced_ + std::chrono::milliseconds(kAnnounceEveryMs);
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(due - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, otherwise));
}

void PostgresStore::announceOwed(Connection& connection, bool now) {
  std::int64_t sequence = 0;
  {
    std::lock_guard lock(announce_mutex_);
    if (owed_sequence_ == 0) return;
    if (!now && std::chrono::steady_clock::now() - last_announced_ <
                    std::chrono::milliseconds(kAnnounceEveryMs)) {
      return;
    }
    sequence = owed_sequence_;
  }
  // Its own transaction, after the writer's commit: a gatherd woken by it sees the rows.
  connection.exec("SELECT pg_notify($1, $2)",
                  Params().add(BatchWriter::channel(schema_)).add(sequence));
  std::lock_guard lock(announce_mutex_);
  last_announced_ = std::chrono::steady_clock::now();
  if (owed_sequence_ <= sequence) owed_sequence_ = 0;
}

void PostgresStore::close() {
  {
    std::lock_guard lock(sequence_mutex_);
    if (closed_.exchange(true)) return;
  }
  sequence_changed_.notify_all();
  if (listener_.joinable()) listener_.join();
  std::unique_lock lock(pool_mutex_);
  pool_available_.notify_all();
  pool_available_.wait(lock, [&] { return leased_ == 0; });
  idle_.clear();
}

std::string PostgresStore::unavailableReason() const {
  std::lock_guard lock(reason_mutex_);
  return unavailable_;
}

std::unique_ptr<Connection> PostgresStore::acquire() {
  std::unique_ptr<Connection> connection;
  {
    std::unique_lock lock(pool_mutex_);
    pool_available_.wait(lock,
                         [&] { return closed_.load() || !idle_.empty() || leased_ < readers_; });
    if (closed_.load()) throw PgError("the store is stopped", "", false);
    ++leased_;
    if (!idle_.empty()) {
      connection = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  try {
    if (!connection) {
      connection = std::make_unique<Connection>(conninfo_, session_sql_);
    } else {
      connection->ensure();
    }
  } catch (...) {
    std::lock_guard lock(pool_mutex_);
    --leased_;
    pool_available_.notify_one();
    throw;
  }
  return connection;
}

void PostgresStore::release(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(pool_mutex_);
  --leased_;
  if (connection && connection->handle() != nullptr && !connection->inTransaction()) {
    idle_.push_back(std::move(connection));
  }
  pool_available_.notify_all();
}

template <class Body>
sdk::Status PostgresStore::read(const char* what, Body&& body) {
  if (closed_.load()) return sdk::Status::failure(std::string(what) + ": the store is stopped");
  std::unique_ptr<Connection> connection;
  try {
    connection = acquire();
    std::optional<std::string> problem;
    {
      // One snapshot per call: every query of it sees the same committed state.
      Transaction transaction(*connection, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      problem = body(*connection);
      transaction.commit();
    }
    release(std::move(connection));
    {
      std::lock_guard lock(reason_mutex_);
      unavailable_.clear();
    }
    if (problem) return sdk::Status::failure(std::string(what) + ": " + *problem);
    return sdk::Status::success();
  } catch (const PgError& error) {
    if (connection) {
      if (error.connectionLost()) connection.reset();
      release(std::move(connection));
    }
    if (error.transient()) {
      std::lock_guard lock(reason_mutex_);
      unavailable_ = error.what();
    }
    return sdk::Status::failure(std::string(what) + ": PostgreSQL unavailable: " + error.what());
  } catch (const std::exception& error) {
    if (connection) release(std::move(connection));
    return sdk::Status::failure(std::string(what) + ": " + error.what());
  }
}

sdk::Status PostgresStore::listInvocations(const sdk::InvocationQuery& query,
                                           sdk::InvocationPage& page) {
  page = {};
  if (query.limit < 1 || query.limit > 500) {
    return sdk::Status::failure("limit must be between 1 and 500");
  }
  std::int64_t cursor_time = 0;
  std::int64_t cursor_id = 0;
  if (!query.cursor.empty() && !parseCursor(query.cursor, cursor_time, cursor_id)) {
    return sdk::Status::failure("invalid cursor");
  }
  Params params;
  std::string sql =
      std::string("SELECT ") + kInvocationColumns + " FROM codex_invocations WHERE true";
  auto bind = [&](std::optional<std::string> value) {
    params.add(std::move(value));
    return "$" + std::to_string(params.size());
  };
  if (query.source) sql += " AND source = " + bind(*query.source);
  if (query.model) sql += " AND model = " + bind(*query.model);
  if (query.status) {
    sql += *query.status == "failure" ? " AND status <> 'success'"
                                      : " AND status = " + bind(*query.status);
  }
  if (query.from_ms)
    sql += " AND occurred_ms >= " + bind(std::to_string(*query.from_ms)) + "::bigint";
  if (query.to_ms) sql += " AND occurred_ms < " + bind(std::to_string(*query.to_ms)) + "::bigint";
  if (query.text && !query.text->empty()) {
    const std::string pattern = bind(likePattern(*query.text));
    sql += " AND (error_message LIKE " + pattern + " OR invoke_id LIKE " + pattern + ")";
  }
  if (!query.cursor.empty()) {
    sql += " AND (occurred_ms, id) < (" + bind(std::to_string(cursor_time)) + "::bigint, " +
           bind(std::to_string(cursor_id)) + "::bigint)";
  }
  sql += " ORDER BY occurred_ms DESC, id DESC LIMIT " + bind(std::to_string(query.limit + 1));

  return read("invocations", [&](Connection& connection) -> std::optional<std::string> {
    Result rows = connection.exec(sql, params);
    for (int r = 0; r < rows.rows(); ++r) {
      if (static_cast<int>(page.items.size()) == query.limit) {
        const auto& last = page.items.back();
        page.next_cursor = makeCursor(last.record.time_ms, last.id);
        break;
      }
      page.items.push_back(readInvocation(rows, r));
    }
    return std::nullopt;
  });
}

sdk::Status PostgresStore::totals(const sdk::RangeQuery& query, sdk::Totals& totals) {
  totals = {};
  Range range{};
  if (auto problem = checkRange(query, range)) return sdk::Status::failure(*problem);
  return read("totals", [&](Connection& connection) -> std::optional<std::string> {
    Accumulator sum;
    for (const auto& [key, group] :
         aggregate(connection, query.source, range.from, range.to, false)) {
      sum.add(group);
    }
    totals = sum.totals();
    return std::nullopt;
  });
}

sdk::Status PostgresStore::timeSeries(const sdk::TimeSeriesQuery& query,
                                      std::vector<sdk::TimeSeriesPoint>& points) {
  points.clear();
  const std::int64_t bucket = query.bucket_ms;
  if (bucket < 60'000 || bucket > kDayMs || bucket % 60'000 != 0) {
    return sdk::Status::failure("bucket must be whole minutes from 1 minute to 1 day");
  }
  if (query.utc_offset_minutes < -14 * 60 || query.utc_offset_minutes > 14 * 60) {
    return sdk::Status::failure("utc offset must be within -14:00 .. +14:00");
  }
  Range range{};
  if (auto problem = checkRange(query.range, range)) return sdk::Status::failure(*problem);
  return read("time series", [&](Connection& connection) -> std::optional<std::string> {
    std::int64_t from = range.from;
    const std::int64_t to = query.range.to_ms ? range.to : clock_.utcNowMs();
    if (!query.range.from_ms) {
      Result first = connection.exec(
          "SELECT min(bucket_ms) FROM invocation_rollup_hourly WHERE count <> 0 "
          "AND ($1::text IS NULL OR source = $1)",
          Params().add(query.range.source));
      if (first.rows() == 0 || first.isNull(0, 0)) return std::nullopt;
      from = first.integer(0, 0);
    }
    if (from >= to) return std::nullopt;
    const std::int64_t origin =
        bucket >= kDayMs ? -std::int64_t{query.utc_offset_minutes} * 60'000 : 0;
    const std::int64_t first = floorDiv(from - origin, bucket) * bucket + origin;
    if ((to - first) / bucket >= storage::kMaxBuckets) {
      return "too many buckets (at most " + std::to_string(storage::kMaxBuckets) +
             "): use a larger bucket or a shorter range";
    }
    std::vector<Accumulator> sums = series(connection, query.range.source, from, to, first, bucket);
    points.reserve(sums.size());
    for (std::size_t i = 0; i < sums.size(); ++i) {
      points.push_back({first + static_cast<std::int64_t>(i) * bucket, sums[i].totals()});
    }
    return std::nullopt;
  });
}

sdk::Status PostgresStore::errors(const sdk::RangeQuery& query, int limit,
                                  std::vector<sdk::ErrorBucket>& buckets) {
  buckets.clear();
  if (limit < 1 || limit > 1000) return sdk::Status::failure("limit must be between 1 and 1000");
  Range range{};
  if (auto problem = checkRange(query, range)) return sdk::Status::failure(*problem);
  return read("errors", [&](Connection& connection) -> std::optional<std::string> {
    Result rows = connection.exec(
        "SELECT coalesce(error_key, ''), count(*), max(occurred_ms), "
        "coalesce(max(error_message COLLATE \"C\"), '') FROM codex_invocations "
        "WHERE status <> 'success' AND occurred_ms >= $1 AND occurred_ms < $2 "
        "AND ($3::text IS NULL OR source = $3) GROUP BY 1 ORDER BY 2 DESC, coalesce(error_key, '') "
        "COLLATE \"C\" "
        "LIMIT $4",
        Params().add(range.from).add(range.to).add(query.source).add(limit));
    for (int r = 0; r < rows.rows(); ++r) {
      buckets.push_back({rows.text(r, 0), rows.text(r, 3), rows.integer(r, 1), rows.integer(r, 2)});
    }
    return std::nullopt;
  });
}

sdk::Status PostgresStore::models(const sdk::RangeQuery& query,
                                  std::vector<sdk::ModelBreakdown>& models) {
  models.clear();
  Range range{};
  if (auto problem = checkRange(query, range)) return sdk::Status::failure(*problem);
  return read("models", [&](Connection& connection) -> std::optional<std::string> {
    for (const auto& [model, sum] :
         aggregate(connection, query.source, range.from, range.to, true)) {
      if (sum.count != 0) models.push_back({model, sum.totals()});
    }
    std::stable_sort(models.begin(), models.end(),
                     [](const auto& a, const auto& b) { return a.totals.count > b.totals.count; });
    return std::nullopt;
  });
}

sdk::Status PostgresStore::latency(const sdk::RangeQuery& query, sdk::LatencyStats& stats) {
  stats = {};
  Range range{};
  if (auto problem = checkRange(query, range)) return sdk::Status::failure(*problem);
  return read("latency", [&](Connection& connection) -> std::optional<std::string> {
    Result rows = connection.exec(
        "SELECT response_time_ms, first_byte_time_ms FROM codex_invocations "
        "WHERE occurred_ms >= $1 AND occurred_ms < $2 AND ($3::text IS NULL OR source = $3) "
        "AND (response_time_ms IS NOT NULL OR first_byte_time_ms IS NOT NULL)",
        Params().add(range.from).add(range.to).add(query.source));
    std::vector<std::int64_t> response;
    std::vector<std::int64_t> first_byte;
    for (int r = 0; r < rows.rows(); ++r) {
      ++stats.samples;
      if (!rows.isNull(r, 0)) response.push_back(rows.integer(r, 0));
      if (!rows.isNull(r, 1)) first_byte.push_back(rows.integer(r, 1));
    }
    std::sort(response.begin(), response.end());
    std::sort(first_byte.begin(), first_byte.end());
    stats.response_p50_ms = percentile(response, 50);
    stats.response_p90_ms = percentile(response, 90);
    stats.response_p99_ms = percentile(response, 99);
    stats.first_byte_p50_ms = percentile(first_byte, 50);
    stats.first_byte_p90_ms = percentile(first_byte, 90);
    stats.first_byte_p99_ms = percentile(first_byte, 99);
    return std::nullopt;
  });
}

sdk::Status PostgresStore::latestQuota(const std::optional<std::string>& source,
                                       std::vector<sdk::Record>& quotas) {
  quotas.clear();
  return read("latest quota", [&](Connection& connection) -> std::optional<std::string> {
    Result rows = connection.exec(
        "SELECT quota_key, time_ms, fields, coalesce(raw_response, ''), source FROM ("
        "SELECT DISTINCT ON (source, quota_key) * FROM quota_snapshots "
        "WHERE $1::text IS NULL OR source = $1 ORDER BY source, quota_key, id DESC) latest "
        "ORDER BY source COLLATE \"C\", quota_key COLLATE \"C\"",
        Params().add(source));
    for (int r = 0; r < rows.rows(); ++r) {
      quotas.push_back(readRecord(rows, r, sdk::streams::kQuota));
    }
    return std::nullopt;
  });
}

sdk::Status PostgresStore::listWindows(const sdk::WindowQuery& query, sdk::WindowPage& page) {
  page = {};
  if (query.limit < 1 || query.limit > 1000) {
    return sdk::Status::failure("limit must be between 1 and 1000");
  }
  std::int64_t cursor_time = 0;
  std::int64_t cursor_id = 0;
  if (!query.cursor.empty() && !parseCursor(query.cursor, cursor_time, cursor_id)) {
    return sdk::Status::failure("invalid cursor");
  }
  Params params;
  auto bind = [&](std::optional<std::string> value) {
    params.add(std::move(value));
    return "$" + std::to_string(params.size());
  };
  std::string sql = std::string("SELECT ") + kWindowColumns + " FROM window_ledger WHERE true";
  if (query.source) sql += " AND source = " + bind(*query.source);
  if (query.outcome) sql += " AND outcome = " + bind(std::string(sdk::outcomeName(*query.outcome)));
  if (query.from_ms)
    sql += " AND window_ms >= " + bind(std::to_string(*query.from_ms)) + "::bigint";
  if (query.to_ms) sql += " AND window_ms < " + bind(std::to_string(*query.to_ms)) + "::bigint";
  if (!query.cursor.empty()) {
    sql += " AND (window_ms, id) < (" + bind(std::to_string(cursor_time)) + "::bigint, " +
           bind(std::to_string(cursor_id)) + "::bigint)";
  }
  sql += " ORDER BY window_ms DESC, id DESC LIMIT " + bind(std::to_string(query.limit + 1));
  return read("windows", [&](Connection& connection) -> std::optional<std::string> {
    Result rows = connection.exec(sql, params);
    for (int r = 0; r < rows.rows(); ++r) {
      if (static_cast<int>(page.items.size()) == query.limit) {
        const auto& last = page.items.back();
        page.next_cursor = makeCursor(last.window.window_ms, last.id);
        break;
      }
      page.items.push_back(readWindow(rows, r));
    }
    return std::nullopt;
  });
}

sdk::Status PostgresStore::changesSince(std::int64_t after, int limit, sdk::ChangeList& changes) {
  changes = {};
  if (limit < 1 || limit > 10'000) return sdk::Status::failure("limit must be between 1 and 10000");
  return read("changes", [&](Connection& connection) -> std::optional<std::string> {
    const std::int64_t pruned_through =
        connection.queryInt("SELECT value FROM meta WHERE name = 'changes_pruned_through'");
    if (after < pruned_through) {
      changes.too_old = true;
      return std::nullopt;
    }
    Result list = connection.exec(
        "SELECT seq, kind, source, ref_id FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        Params().add(after).add(limit));
    // The referenced rows, one query per kind.
    std::map<int, std::vector<std::optional<std::int64_t>>> refs;
    for (int r = 0; r < list.rows(); ++r) {
      refs[static_cast<int>(list.integer(r, 1))].emplace_back(list.integer(r, 3));
    }
    std::map<std::int64_t, sdk::StoredInvocation> invocations;
    std::map<std::int64_t, sdk::Record> quotas;
    std::map<std::int64_t, sdk::WindowResult> windows;
    std::map<std::int64_t, sdk::Record> others;
    std::vector<std::optional<std::int64_t>> invocation_ids;
    for (int kind : {static_cast<int>(ChangeKind::kInvocationNew),
                     static_cast<int>(ChangeKind::kInvocationUpdated)}) {
      for (const auto& id : refs[kind]) invocation_ids.push_back(id);
    }
    if (!invocation_ids.empty()) {
      Result rows = connection.exec(std::string("SELECT ") + kInvocationColumns +
                                        " FROM codex_invocations WHERE id = ANY($1::bigint[])",
                                    Params().add(intArray(invocation_ids)));
      for (int r = 0; r < rows.rows(); ++r)
        invocations[rows.integer(r, 0)] = readInvocation(rows, r);
    }
    if (auto& ids = refs[static_cast<int>(ChangeKind::kQuota)]; !ids.empty()) {
      Result rows = connection.exec(
          "SELECT quota_key, time_ms, fields, coalesce(raw_response, ''), id FROM "
          "quota_snapshots WHERE id = ANY($1::bigint[])",
          Params().add(intArray(ids)));
      for (int r = 0; r < rows.rows(); ++r) {
        quotas[rows.integer(r, 4)] = readRecord(rows, r, sdk::streams::kQuota);
      }
    }
    if (auto& ids = refs[static_cast<int>(ChangeKind::kWindow)]; !ids.empty()) {
      Result rows = connection.exec(std::string("SELECT ") + kWindowColumns +
                                        " FROM window_ledger WHERE id = ANY($1::bigint[])",
                                    Params().add(intArray(ids)));
      for (int r = 0; r < rows.rows(); ++r)
        windows[rows.integer(r, 0)] = readWindow(rows, r).window;
    }
    if (auto& ids = refs[static_cast<int>(ChangeKind::kOther)]; !ids.empty()) {
      Result rows = connection.exec(
          "SELECT record_key, time_ms, fields, coalesce(raw_response, ''), id, stream FROM "
          "records WHERE id = ANY($1::bigint[])",
          Params().add(intArray(ids)));
      for (int r = 0; r < rows.rows(); ++r) {
        others[rows.integer(r, 4)] = readRecord(rows, r, rows.text(r, 5));
      }
    }
    for (int r = 0; r < list.rows(); ++r) {
      sdk::Change change;
      change.sequence = list.integer(r, 0);
      change.source = list.text(r, 2);
      const std::int64_t ref = list.integer(r, 3);
      bool found = false;
      switch (static_cast<ChangeKind>(list.integer(r, 1))) {
        case ChangeKind::kInvocationNew:
        case ChangeKind::kInvocationUpdated:
          change.kind = static_cast<ChangeKind>(list.integer(r, 1)) == ChangeKind::kInvocationNew
                            ? sdk::Change::Kind::kInvocationNew
                            : sdk::Change::Kind::kInvocationUpdated;
          if (auto it = invocations.find(ref); (found = it != invocations.end())) {
            change.invocation = it->second;
          }
          break;
        case ChangeKind::kQuota:
          change.kind = sdk::Change::Kind::kQuota;
          if (auto it = quotas.find(ref); (found = it != quotas.end())) change.record = it->second;
          break;
        case ChangeKind::kWindow:
          change.kind = sdk::Change::Kind::kWindow;
          if (auto it = windows.find(ref); (found = it != windows.end()))
            change.window = it->second;
          break;
        case ChangeKind::kOther:
          change.kind = sdk::Change::Kind::kOther;
          if (auto it = others.find(ref); (found = it != others.end())) change.record = it->second;
          break;
      }
      // A row removed by retention since its change was recorded has nothing left to replay.
      if (found) changes.changes.push_back(std::move(change));
    }
    return std::nullopt;
  });
}

std::int64_t PostgresStore::latestSequence() {
  return latest_sequence_.load();
}

std::int64_t PostgresStore::waitForChange(std::int64_t after, std::chrono::milliseconds max_wait) {
  std::unique_lock lock(sequence_mutex_);
  sequence_changed_.wait_for(lock, max_wait,
                             [&] { return closed_.load() || latest_sequence_.load() > after; });
  return latest_sequence_.load();
}

void PostgresStore::listen() {
  // Commits of every gatherd writing to this schema arrive as NOTIFY with their last sequence.
  // After a reconnect the committed horizon is read again, so nothing missed while the
  // connection was down stays unseen.
  std::unique_ptr<Connection> connection;
  int backoff_ms = 200;
  bool warned = false;
  while (!closed_.load()) {
    try {
      if (!connection || connection->handle() == nullptr ||
          PQstatus(connection->handle()) != CONNECTION_OK) {
        connection = std::make_unique<Connection>(conninfo_, session_sql_);
        connection->run("LISTEN " + quoteIdentifier(BatchWriter::channel(schema_)));
        publish(committedHorizon(*connection));
        if (warned) logger_.info("PostgreSQL change notifications are back");
        warned = false;
        backoff_ms = 200;
      }
      pollfd descriptor{PQsocket(connection->handle()), POLLIN, 0};
      const int ready = ::poll(&descriptor, 1, msUntilAnnouncement(250));
      announceOwed(*connection, false);
      if (ready < 0) continue;
      if (PQconsumeInput(connection->handle()) == 0) {
        throw PgError(
            std::string("notification connection lost: ") + PQerrorMessage(connection->handle()),
            "", true);
      }
      std::int64_t newest = 0;
      while (PGnotify* notice = PQnotifies(connection->handle())) {
        std::int64_t sequence = 0;
        const std::string_view payload(notice->extra);
        std::from_chars(payload.data(), payload.data() + payload.size(), sequence);
        newest = std::max(newest, sequence);
        PQfreemem(notice);
      }
      if (newest > 0) publish(newest);
    } catch (const std::exception& error) {
      connection.reset();
      if (!warned) {
        logger_.warn(std::string("PostgreSQL change notifications interrupted (retrying): ") +
                     error.what());
        warned = true;
      }
      std::unique_lock lock(sequence_mutex_);
      sequence_changed_.wait_for(lock, std::chrono::milliseconds(backoff_ms),
                                 [&] { return closed_.load(); });
      backoff_ms = std::min(backoff_ms * 2, 5'000);
    }
  }
  // A commit of the last moments before the stop is announced still.
  try {
    if (connection && PQstatus(connection->handle()) == CONNECTION_OK) {
      announceOwed(*connection, true);
    }
  } catch (const std::exception& error) {
    logger_.warn(std::string("PostgreSQL: the last commit was not announced: ") + error.what());
  }
}

}  // namespace gatherd::plugins::postgres
