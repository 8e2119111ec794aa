// Over 500 lines: every sdk::Store query (pages, stats, series, changes) in one place, the same
// shape as postgres_store.cpp.
#include "sqlite_store.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <Poco/Exception.h>

#include "aggregates.hpp"
#include "batch_writer.hpp"
#include "field_codec.hpp"
#include "gatherd/sdk/streams.hpp"
#include "invocation_columns.hpp"

namespace gatherd::plugins::sqlite {
namespace {

// readInvocation's columns: these, then kInvocationColumnList.
const std::string& invocationColumns() {
  static const std::string columns =
      std::string("id, source, occurred_ms, extra, raw_response, created_ms, updated_ms, ") +
      kInvocationColumnList;
  return columns;
}
constexpr const char* kWindowColumns =
    "id, source, window_ms, started_ms, finished_ms, outcome, message, http_status, "
    "records_seen, records_emitted, records_rejected, gap_suspected, gap_from_ms, gap_to_ms, "
    "auth_state, clock_jump";

// The hourly rollups minus the rows still kept, for hours at or before the pruning horizon ?1
// (later hours keep every row): what retention deleted. Cost per row as storage::costNano
// rounds it. Paged by position: ?2 rows (-1: all) after the first ?3.
constexpr const char* kPrunedTotalsSql =
    "WITH kept AS (SELECT (occurred_ms / 3600000) * 3600000 AS bucket_ms, source, model, status, "
    "count(*) AS n, sum(CASE WHEN cost IS NULL THEN 0 ELSE CAST(cost * 1e9 + (CASE WHEN cost < 0 "
    "THEN -0.5 ELSE 0.5 END) AS INTEGER) END) AS cost, sum(coalesce(input_tokens, 0)) AS i, "
    "sum(coalesce(output_tokens, 0)) AS o, sum(coalesce(cache_input_tokens, 0)) AS c, "
    "sum(coalesce(reasoning_tokens, 0)) AS r, sum(coalesce(total_tokens, 0)) AS t "
    "FROM codex_invocations WHERE occurred_ms < ?1 + 3600000 GROUP BY 1, 2, 3, 4), "
    "residue AS (SELECT h.bucket_ms, h.source, h.model, h.status, h.count - coalesce(k.n, 0) AS n, "
    "h.cost_nano - coalesce(k.cost, 0) AS cost, h.input_tokens - coalesce(k.i, 0) AS i, "
    "h.output_tokens - coalesce(k.o, 0) AS o, h.cache_input_tokens - coalesce(k.c, 0) AS c, "
    "h.reasoning_tokens - coalesce(k.r, 0) AS r, h.total_tokens - coalesce(k.t, 0) AS t "
    "FROM invocation_rollup_hourly h LEFT JOIN kept k ON k.bucket_ms = h.bucket_ms AND "
    "k.source = h.source AND k.model = h.model AND k.status = h.status WHERE h.bucket_ms < ?1) "
    "SELECT * FROM residue WHERE n <> 0 OR cost <> 0 OR i <> 0 OR o <> 0 OR c <> 0 OR r <> 0 OR "
    "t <> 0 ORDER BY bucket_ms, source, model, status LIMIT ?2 OFFSET ?3";

sdk::StoredInvocation readInvocation(Connection& connection, const Statement& row) {
  sdk::StoredInvocation item;
  item.id = row.getInt(0);
  item.source = row.getText(1);
  const InvocationColumns columns = readInvocationColumns(row, 7);
  item.record.stream = sdk::streams::kInvocation;
  item.record.key = columns.invoke_id + "|" + columns.occurred_at;
  item.record.time_ms = row.getInt(2);
  item.record.fields = decodeFields(connection, row.viewText(3));
  item.record.raw_json = row.getText(4);
  item.created_ms = row.getInt(5);
  item.updated_ms = row.getInt(6);
  addColumnFields(columns, item.record.fields);
  return item;
}

sdk::AuthState authStateFromName(std::string_view name) {
  for (auto state : {sdk::AuthState::kOk, sdk::AuthState::kExpired, sdk::AuthState::kMissing}) {
    if (name == sdk::authStateName(state)) return state;
  }
  return sdk::AuthState::kUnknown;
}

sdk::StoredWindow readWindow(const Statement& row) {
  sdk::StoredWindow item;
  item.id = row.getInt(0);
  sdk::WindowResult& window = item.window;
  window.source = row.getText(1);
  window.window_ms = row.getInt(2);
  window.started_ms = row.getInt(3);
  window.finished_ms = row.getInt(4);
  window.outcome = sdk::outcomeFromName(row.viewText(5)).value_or(sdk::Outcome::kOk);
  window.message = row.getText(6);
  window.http_status = row.getInt(7);
  window.records_seen = row.getInt(8);
  window.records_emitted = row.getInt(9);
  window.records_rejected = row.getInt(10);
  window.gap_suspected = row.getInt(11) != 0;
  window.gap_from_ms = row.getInt(12);
  window.gap_to_ms = row.getInt(13);
  window.auth_state = authStateFromName(row.viewText(14));
  window.clock_jump = row.getInt(15) != 0;
  return item;
}

sdk::Record readRecord(Connection& connection, const Statement& row, std::string stream) {
  // Columns: key, time_ms, fields, raw_response.
  sdk::Record record;
  record.stream = std::move(stream);
  record.key = row.getText(0);
  record.time_ms = row.getInt(1);
  record.fields = decodeFields(connection, row.viewText(2));
  record.raw_json = row.getText(3);
  return record;
}

/// Keyset cursor "<time_ms>.<id>" of the last item of a page.
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
  // Nearest rank: the smallest value with at least p% of the samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]);
}

struct Range {
  std::int64_t from;
  std::int64_t to;
};

std::optional<std::string> checkRange(const sdk::RangeQuery& query, Range& range) {
  range.from = std::max(query.from_ms.value_or(kMinTimeMs), kMinTimeMs);
  range.to = std::min(query.to_ms.value_or(kMaxTimeMs), kMaxTimeMs);
  if (query.from_ms && query.to_ms && *query.from_ms > *query.to_ms) {
    return "the range's start is after its end";
  }
  return std::nullopt;
}

}  // namespace

SqliteStore::SqliteStore(const std::string& path, int readers, sdk::Clock& clock,
                         const std::string& reader_pragmas)
    : readers_(path, readers, reader_pragmas), clock_(clock) {}

void SqliteStore::publish(std::int64_t sequence) {
  {
    std::lock_guard lock(sequence_mutex_);
    if (sequence > latest_sequence_.load()) latest_sequence_.store(sequence);
  }
  sequence_changed_.notify_all();
}

void SqliteStore::close() {
  {
    std::lock_guard lock(sequence_mutex_);
    closed_.store(true);
  }
  sequence_changed_.notify_all();
  readers_.close();
}

template <class Body>
sdk::Status SqliteStore::read(const char* what, Body&& body) {
  if (closed_.load()) return sdk::Status::failure(std::string(what) + ": the store is stopped");
  try {
    ReaderPool::Lease lease = readers_.acquire();
    // One read transaction per call: every query of it sees the same snapshot.
    Transaction transaction(*lease, Transaction::Mode::kDeferred);
    std::optional<std::string> problem = body(*lease);
    transaction.commit();
    if (problem) return sdk::Status::failure(std::string(what) + ": " + *problem);
    return sdk::Status::success();
  } catch (const SqliteError& error) {
    return sdk::Status::failure(std::string(what) + ": " + error.what());
  } catch (const Poco::Exception& error) {
    return sdk::Status::failure(std::string(what) + ": " + error.displayText());
  } catch (const std::exception& error) {
    return sdk::Status::failure(std::string(what) + ": " + error.what());
  }
}

sdk::Status SqliteStore::listInvocations(const sdk::InvocationQuery& query,
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
  // Only the filters in use appear in the SQL, so the planner can pick the matching index
  // (model+status+time for the dashboard's filtered pages).
  std::string sql = "SELECT " + invocationColumns() + " FROM codex_invocations WHERE 1";
  if (query.source) sql += " AND source = ?1";
  if (query.model) sql += " AND model = ?2";
  if (query.status)
    sql += *query.status == "failure" ? " AND status <> 'success'" : " AND status = ?3";
  if (query.from_ms) sql += " AND occurred_ms >= ?4";
  if (query.to_ms) sql += " AND occurred_ms < ?5";
  if (query.text && !query.text->empty()) {
    sql += " AND (error_message LIKE ?6 ESCAPE '\\' OR invoke_id LIKE ?6 ESCAPE '\\')";
  }
  if (!query.cursor.empty()) sql += " AND (occurred_ms, id) < (?7, ?8)";
  sql += " ORDER BY occurred_ms DESC, id DESC LIMIT ?9";

  return read("invocations", [&](Connection& connection) -> std::optional<std::string> {
    Statement& statement = connection.cached(sql);
    if (query.source) statement.bind(1, *query.source);
    if (query.model) statement.bind(2, *query.model);
    if (query.status && *query.status != "failure") statement.bind(3, *query.status);
    if (query.from_ms) statement.bind(4, *query.from_ms);
    if (query.to_ms) statement.bind(5, *query.to_ms);
    if (query.text && !query.text->empty()) statement.bind(6, likePattern(*query.text));
    if (!query.cursor.empty()) statement.bind(7, cursor_time).bind(8, cursor_id);
    statement.bind(9, std::int64_t{query.limit} + 1);
    while (statement.step()) {
      if (static_cast<int>(page.items.size()) == query.limit) {
        const auto& last = page.items.back();
        page.next_cursor = makeCursor(last.record.time_ms, last.id);
        break;
      }
      page.items.push_back(readInvocation(connection, statement));
    }
    statement.start();
    return std::nullopt;
  });
}

sdk::Status SqliteStore::totals(const sdk::RangeQuery& query, sdk::Totals& totals) {
  totals = {};
  Range range{};
  if (auto problem = checkRange(query, range)) return sdk::Status::failure(*problem);
  return read("totals", [&](Connection& connection) -> std::optional<std::string> {
    auto groups = aggregate(connection, query.source, range.from, range.to, false);
    Accumulator sum;
    for (const auto& [key, group] : groups) sum.add(group);
    totals = sum.totals();
    return std::nullopt;
  });
}

sdk::Status SqliteStore::timeSeries(const sdk::TimeSeriesQuery& query,
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
    std::int64_t to = query.range.to_ms ? range.to : clock_.utcNowMs();
    if (!query.range.from_ms) {
      // Open start: begin at the first hour with data.
      Statement& first = connection.cached(
          "SELECT min(bucket_ms) FROM invocation_rollup_hourly WHERE count <> 0 "
          "AND (?1 IS NULL OR source = ?1)");
      first.bind(1, query.range.source);
      const bool found = first.step() && !first.isNull(0);
      if (found) from = first.getInt(0);
      first.start();
      if (!found) return std::nullopt;
    }
    if (from >= to) return std::nullopt;
    // Buckets of a day or more start at midnight in the caller's offset; smaller ones at
    // multiples of their size in UTC.
    const std::int64_t origin =
        bucket >= kDayMs ? -std::int64_t{query.utc_offset_minutes} * 60'000 : 0;
    const std::int64_t first = floorDiv(from - origin, bucket) * bucket + origin;
    if ((to - first) / bucket >= kMaxBuckets) {
      return "too many buckets (at most " + std::to_string(kMaxBuckets) +
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

sdk::Status SqliteStore::errors(const sdk::RangeQuery& query, int limit,
                                std::vector<sdk::ErrorBucket>& buckets) {
  buckets.clear();
  if (limit < 1 || limit > 1000) return sdk::Status::failure("limit must be between 1 and 1000");
  Range range{};
  if (auto problem = checkRange(query, range)) return sdk::Status::failure(*problem);
  return read("errors", [&](Connection& connection) -> std::optional<std::string> {
    Statement& statement = connection.cached(
        "SELECT coalesce(error_key, ''), count(*), max(occurred_ms), "
        "coalesce(max(error_message), '') FROM codex_invocations "
        "WHERE status <> 'success' AND occurred_ms >= ?1 AND occurred_ms < ?2 "
        "AND (?3 IS NULL OR source = ?3) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?4");
    statement.bind(1, range.from).bind(2, range.to).bind(3, query.source).bind(4, limit);
    while (statement.step()) {
      buckets.push_back(
          {statement.getText(0), statement.getText(3), statement.getInt(1), statement.getInt(2)});
    }
    statement.start();
    return std::nullopt;
  });
}

sdk::Status SqliteStore::models(const sdk::RangeQuery& query,
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

sdk::Status SqliteStore::latency(const sdk::RangeQuery& query, sdk::LatencyStats& stats) {
  stats = {};
  Range range{};
  if (auto problem = checkRange(query, range)) return sdk::Status::failure(*problem);
  return read("latency", [&](Connection& connection) -> std::optional<std::string> {
    Statement& statement = connection.cached(
        "SELECT response_time_ms, first_byte_time_ms FROM codex_invocations "
        "WHERE occurred_ms >= ?1 AND occurred_ms < ?2 AND (?3 IS NULL OR source = ?3) "
        "AND (response_time_ms IS NOT NULL OR first_byte_time_ms IS NOT NULL)");
    statement.bind(1, range.from).bind(2, range.to).bind(3, query.source);
    std::vector<std::int64_t> response;
    std::vector<std::int64_t> first_byte;
    while (statement.step()) {
      ++stats.samples;
      if (!statement.isNull(0)) response.push_back(statement.getInt(0));
      if (!statement.isNull(1)) first_byte.push_back(statement.getInt(1));
    }
    statement.start();
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

sdk::Status SqliteStore::latestQuota(const std::optional<std::string>& source,
                                     std::vector<sdk::Record>& quotas) {
  quotas.clear();
  return read("latest quota", [&](Connection& connection) -> std::optional<std::string> {
    Statement& statement = connection.cached(
        "SELECT quota_key, time_ms, fields, coalesce(raw_response, ''), source "
        "FROM quota_snapshots WHERE id IN (SELECT max(id) FROM quota_snapshots "
        "WHERE ?1 IS NULL OR source = ?1 GROUP BY source, quota_key) ORDER BY source, quota_key");
    statement.bind(1, source);
    while (statement.step()) {
      quotas.push_back(readRecord(connection, statement, sdk::streams::kQuota));
    }
    statement.start();
    return std::nullopt;
  });
}

sdk::Status SqliteStore::listWindows(const sdk::WindowQuery& query, sdk::WindowPage& page) {
  page = {};
  if (query.limit < 1 || query.limit > 1000) {
    return sdk::Status::failure("limit must be between 1 and 1000");
  }
  std::int64_t cursor_time = 0;
  std::int64_t cursor_id = 0;
  if (!query.cursor.empty() && !parseCursor(query.cursor, cursor_time, cursor_id)) {
    return sdk::Status::failure("invalid cursor");
  }
  std::string sql = std::string("SELECT ") + kWindowColumns + " FROM window_ledger WHERE 1";
  if (query.source) sql += " AND source = ?1";
  if (query.outcome) sql += " AND outcome = ?2";
  if (query.from_ms) sql += " AND window_ms >= ?3";
  if (query.to_ms) sql += " AND window_ms < ?4";
  if (!query.cursor.empty()) sql += " AND (window_ms, id) < (?5, ?6)";
  sql += " ORDER BY window_ms DESC, id DESC LIMIT ?7";
  return read("windows", [&](Connection& connection) -> std::optional<std::string> {
    Statement& statement = connection.cached(sql);
    if (query.source) statement.bind(1, *query.source);
    if (query.outcome) statement.bind(2, sdk::outcomeName(*query.outcome));
    if (query.from_ms) statement.bind(3, *query.from_ms);
    if (query.to_ms) statement.bind(4, *query.to_ms);
    if (!query.cursor.empty()) statement.bind(5, cursor_time).bind(6, cursor_id);
    statement.bind(7, std::int64_t{query.limit} + 1);
    while (statement.step()) {
      if (static_cast<int>(page.items.size()) == query.limit) {
        const auto& last = page.items.back();
        page.next_cursor = makeCursor(last.window.window_ms, last.id);
        break;
      }
      page.items.push_back(readWindow(statement));
    }
    statement.start();
    return std::nullopt;
  });
}

sdk::Status SqliteStore::changesSince(std::int64_t after, int limit, sdk::ChangeList& changes) {
  changes = {};
  if (limit < 1 || limit > 10'000) return sdk::Status::failure("limit must be between 1 and 10000");
  return read("changes", [&](Connection& connection) -> std::optional<std::string> {
    Statement& pruned =
        connection.cached("SELECT value FROM meta WHERE name = 'changes_pruned_through'");
    const std::int64_t pruned_through = pruned.step() ? pruned.getInt(0) : 0;
    pruned.start();
    if (after < pruned_through) {
      changes.too_old = true;
      return std::nullopt;
    }
    struct Entry {
      std::int64_t sequence;
      int kind;
      std::string source;
      std::int64_t ref;
    };
    std::vector<Entry> entries;
    Statement& list = connection.cached(
        "SELECT seq, kind, source, ref_id FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    list.bind(1, after).bind(2, limit);
    while (list.step()) {
      entries.push_back(
          {list.getInt(0), static_cast<int>(list.getInt(1)), list.getText(2), list.getInt(3)});
    }
    list.start();

    for (Entry& entry : entries) {
      sdk::Change change;
      change.sequence = entry.sequence;
      change.source = std::move(entry.source);
      bool found = false;
      switch (static_cast<ChangeKind>(entry.kind)) {
        case ChangeKind::kInvocationNew:
        case ChangeKind::kInvocationUpdated: {
          change.kind = entry.kind == static_cast<int>(ChangeKind::kInvocationNew)
                            ? sdk::Change::Kind::kInvocationNew
                            : sdk::Change::Kind::kInvocationUpdated;
          Statement& row = connection.cached("SELECT " + invocationColumns() +
                                             " FROM codex_invocations WHERE id = ?1");
          row.bind(1, entry.ref);
          if ((found = row.step())) change.invocation = readInvocation(connection, row);
          row.start();
          break;
        }
        case ChangeKind::kQuota: {
          change.kind = sdk::Change::Kind::kQuota;
          Statement& row = connection.cached(
              "SELECT quota_key, time_ms, fields, coalesce(raw_response, '') FROM quota_snapshots "
              "WHERE id = ?1");
          row.bind(1, entry.ref);
          if ((found = row.step())) {
            change.record = readRecord(connection, row, sdk::streams::kQuota);
          }
          row.start();
          break;
        }
        case ChangeKind::kWindow: {
          change.kind = sdk::Change::Kind::kWindow;
          Statement& row = connection.cached(std::string("SELECT ") + kWindowColumns +
                                             " FROM window_ledger WHERE id = ?1");
          row.bind(1, entry.ref);
          if ((found = row.step())) change.window = readWindow(row).window;
          row.start();
          break;
        }
        case ChangeKind::kOther: {
          change.kind = sdk::Change::Kind::kOther;
          Statement& row = connection.cached(
              "SELECT record_key, time_ms, fields, coalesce(raw_response, ''), stream "
              "FROM records WHERE id = ?1");
          row.bind(1, entry.ref);
          if ((found = row.step())) change.record = readRecord(connection, row, row.getText(4));
          row.start();
          break;
        }
      }
      // A row removed by retention since its change was recorded has nothing left to replay.
      if (found) changes.changes.push_back(std::move(change));
    }
    return std::nullopt;
  });
}

sdk::Status SqliteStore::countHistory(sdk::HistoryCounts& counts) {
  counts = {};
  return read("history counts", [&](Connection& connection) -> std::optional<std::string> {
    // max(id) - min(id) would be cheaper, but ids have holes once retention ran.
    counts.invocations = connection.queryInt("SELECT count(*) FROM codex_invocations", 0);
    counts.quota_snapshots = connection.queryInt("SELECT count(*) FROM quota_snapshots", 0);
    counts.windows = connection.queryInt("SELECT count(*) FROM window_ledger", 0);
    counts.records = connection.queryInt("SELECT count(*) FROM records", 0);
    counts.invocations_pruned_before_ms = prunedBefore(connection);
    if (counts.invocations_pruned_before_ms > 0) {
      Statement& pruned =
          connection.cached(std::string("SELECT count(*) FROM (") + kPrunedTotalsSql + ")");
      pruned.bind(1, counts.invocations_pruned_before_ms).bind(2, std::int64_t{-1}).bind(3, 0);
      counts.pruned_totals = pruned.step() ? pruned.getInt(0) : 0;
      pruned.start();
    }
    return std::nullopt;
  });
}

sdk::Status SqliteStore::readHistory(sdk::HistoryTable table, std::int64_t after_id, int limit,
                                     sdk::HistoryPage& page) {
  page = {};
  page.table = table;
  if (limit < 1 || limit > 10'000) return sdk::Status::failure("limit must be between 1 and 10000");
  return read("history", [&](Connection& connection) -> std::optional<std::string> {
    switch (table) {
      case sdk::HistoryTable::kInvocations: {
        Statement& rows = connection.cached("SELECT " + invocationColumns() +
                                            " FROM codex_invocations WHERE id > ?1 ORDER BY id "
                                            "LIMIT ?2");
        rows.bind(1, after_id).bind(2, std::int64_t{limit});
        while (rows.step()) page.invocations.push_back(readInvocation(connection, rows));
        rows.start();
        if (!page.invocations.empty()) page.last_id = page.invocations.back().id;
        break;
      }
      case sdk::HistoryTable::kWindows: {
        Statement& rows =
            connection.cached(std::string("SELECT ") + kWindowColumns +
                              " FROM window_ledger WHERE id > ?1 ORDER BY id LIMIT ?2");
        rows.bind(1, after_id).bind(2, std::int64_t{limit});
        while (rows.step()) page.windows.push_back(readWindow(rows));
        rows.start();
        if (!page.windows.empty()) page.last_id = page.windows.back().id;
        break;
      }
      case sdk::HistoryTable::kPrunedTotals: {
        page.invocations_pruned_before_ms = prunedBefore(connection);
        if (page.invocations_pruned_before_ms == 0) break;
        Statement& rows = connection.cached(kPrunedTotalsSql);
        rows.bind(1, page.invocations_pruned_before_ms)
            .bind(2, std::int64_t{limit})
            .bind(3, after_id);
        while (rows.step()) {
          sdk::PrunedTotals item;
          item.bucket_ms = rows.getInt(0);
          item.source = rows.getText(1);
          item.model = rows.getText(2);
          item.status = rows.getText(3);
          item.count = rows.getInt(4);
          item.cost_nano = rows.getInt(5);
          item.input_tokens = rows.getInt(6);
          item.output_tokens = rows.getInt(7);
          item.cache_input_tokens = rows.getInt(8);
          item.reasoning_tokens = rows.getInt(9);
          item.total_tokens = rows.getInt(10);
          page.pruned.push_back(std::move(item));
        }
        rows.start();
        if (!page.pruned.empty()) {
          page.last_id = after_id + static_cast<std::int64_t>(page.pruned.size());
        }
        break;
      }
      case sdk::HistoryTable::kQuotaSnapshots:
      case sdk::HistoryTable::kRecords: {
        const bool quota = table == sdk::HistoryTable::kQuotaSnapshots;
        // Columns as readRecord() reads them, then id, source, stream, created and updated.
        Statement& rows = connection.cached(
            quota ? "SELECT quota_key, time_ms, fields, coalesce(raw_response, ''), id, source, "
                    "'quota', created_ms, created_ms FROM quota_snapshots WHERE id > ?1 "
                    "ORDER BY id LIMIT ?2"
                  : "SELECT record_key, time_ms, fields, coalesce(raw_response, ''), id, source, "
                    "stream, created_ms, updated_ms FROM records WHERE id > ?1 ORDER BY id "
                    "LIMIT ?2");
        rows.bind(1, after_id).bind(2, std::int64_t{limit});
        while (rows.step()) {
          sdk::StoredRecord item;
          item.id = rows.getInt(4);
          item.source = rows.getText(5);
          item.record =
              readRecord(connection, rows, quota ? sdk::streams::kQuota : rows.getText(6));
          item.created_ms = rows.getInt(7);
          item.updated_ms = rows.getInt(8);
          page.records.push_back(std::move(item));
        }
        rows.start();
        if (!page.records.empty()) page.last_id = page.records.back().id;
        break;
      }
    }
    return std::nullopt;
  });
}

std::int64_t SqliteStore::latestSequence() {
  return latest_sequence_.load();
}

std::int64_t SqliteStore::waitForChange(std::int64_t after, std::chrono::milliseconds max_wait) {
  std::unique_lock lock(sequence_mutex_);
  sequence_changed_.wait_for(lock, max_wait,
                             [&] { return closed_.load() || latest_sequence_.load() > after; });
  return latest_sequence_.load();
}

}  // namespace gatherd::plugins::sqlite
