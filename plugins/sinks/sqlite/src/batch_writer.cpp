#include "batch_writer.hpp"

#include <cmath>

#include "field_codec.hpp"
#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/lib/storage/error_normalizer.hpp"
#include "gatherd/lib/storage/invocation_values.hpp"
#include "gatherd/sdk/streams.hpp"
#include "invocation_columns.hpp"

namespace gatherd::plugins::sqlite {
namespace {

namespace inv = sdk::streams::invocation;

// A source resends at most its newest 20 calls per poll, so 1,024 covers the repeats of 50
// sources; each entry costs about 350 bytes for good (16k of them were 5.6 MB of gatherd's RSS).
constexpr std::size_t kCacheCapacity = 1'024;
using storage::intField;
using storage::kDayMs;
using storage::kHourMs;
using storage::textField;
constexpr const auto& kTokenFields = storage::kInvocationTokenFields;

std::optional<std::string> nonEmpty(std::string text) {
  if (text.empty()) return std::nullopt;
  return text;
}

std::string cacheKey(const std::string& source, const std::string& invoke_id,
                     const std::string& occurred_at) {
  std::string key;
  key.reserve(source.size() + invoke_id.size() + occurred_at.size() + 2);
  key.append(source).push_back('\x1f');
  key.append(invoke_id).push_back('\x1f');
  key.append(occurred_at);
  return key;
}

}  // namespace

BatchWriter::BatchWriter(Connection& connection) : connection_(connection) {}

void BatchWriter::load() {
  quotas_.clear();
  Statement& latest = connection_.cached(
      "SELECT source, quota_key, fields, time_ms FROM quota_snapshots WHERE id IN "
      "(SELECT max(id) FROM quota_snapshots GROUP BY source, quota_key)");
  while (latest.step()) {
    quotas_[latest.getText(0) + '\x1f' + latest.getText(1)] = {latest.getText(2), latest.getInt(3)};
  }
  latest.start();
  pruned_before_ms_ =
      connection_.queryInt("SELECT value FROM meta WHERE name = 'invocations_pruned_before_ms'");
}

WriteCounts BatchWriter::write(const sdk::Batch& batch, std::int64_t now_ms) {
  WriteCounts counts;
  pending_.clear();
  pending_quotas_.clear();
  const std::string& source = batch.window.source;
  Transaction transaction(connection_, Transaction::Mode::kImmediate);
  for (const sdk::Record& record : batch.records) {
    if (record.stream == sdk::streams::kInvocation) {
      writeInvocation(source, record, now_ms, counts);
    } else if (record.stream == sdk::streams::kQuota) {
      writeQuota(source, record, now_ms, counts);
    } else {
      writeOther(source, record, now_ms, counts);
    }
  }
  writeWindow(batch.window, now_ms, counts);
  transaction.commit();

  for (auto& [key, known] : pending_) remember(key, std::move(known));
  pending_.clear();
  for (auto& [key, state] : pending_quotas_) quotas_[key] = std::move(state);
  pending_quotas_.clear();
  return counts;
}

std::optional<BatchWriter::Known> BatchWriter::lookup(const std::string& cache_key,
                                                      const std::string& source,
                                                      const std::string& invoke_id,
                                                      const std::string& occurred_at) {
  if (auto it = pending_.find(cache_key); it != pending_.end()) return it->second;
  if (auto it = cache_.find(cache_key); it != cache_.end()) return it->second;
  Statement& select = connection_.cached(
      "SELECT id, occurred_ms, model, status, cost, input_tokens, output_tokens, "
      "cache_input_tokens, reasoning_tokens, total_tokens FROM codex_invocations "
      "WHERE source = ?1 AND invoke_id = ?2 AND occurred_at = ?3");
  select.bind(1, source).bind(2, invoke_id).bind(3, occurred_at);
  if (!select.step()) return std::nullopt;
  Known known;
  known.id = select.getInt(0);
  known.occurred_ms = select.getInt(1);
  known.model = select.getText(2);
  known.status = select.getText(3);
  known.cost = select.optDouble(4);
  for (std::size_t i = 0; i < kTokenFields.size(); ++i) {
    known.tokens[i] = select.optInt(static_cast<int>(5 + i));
  }
  select.start();
  return known;
}

void BatchWriter::remember(const std::string& cache_key, Known known) {
  auto [it, inserted] = cache_.insert_or_assign(cache_key, std::move(known));
  if (!inserted) return;
  cache_order_.push_back(cache_key);
  if (cache_order_.size() > kCacheCapacity) {
    cache_.erase(cache_order_.front());
    cache_order_.pop_front();
  }
}

void BatchWriter::writeInvocation(const std::string& source, const sdk::Record& record,
                                  std::int64_t now_ms, WriteCounts& counts) {
  auto [invoke_id, occurred_at] = storage::invocationIdentity(record);
  Known values;
  static_cast<storage::InvocationValues&>(values) = storage::invocationValues(record);

  const std::string key = cacheKey(source, invoke_id, occurred_at);
  std::optional<Known> known = lookup(key, source, invoke_id, occurred_at);
  if (known && known->status == values.status && known->cost == values.cost &&
      known->tokens == values.tokens) {
    ++counts.unchanged;
    return;
  }
  if (!known && values.occurred_ms < pruned_before_ms_) {
    ++counts.too_old;
    return;
  }

  InvocationColumns columns;
  columns.invoke_id = invoke_id;
  columns.occurred_at = occurred_at;
  columns.model = values.model;
  columns.status = values.status;
  columns.error_message = nonEmpty(textField(record, inv::kErrorMessage));
  columns.tokens = values.tokens;
  columns.cost = values.cost;
  columns.response_time_ms = intField(record, inv::kResponseTimeMs);
  columns.first_byte_time_ms = intField(record, inv::kFirstByteTimeMs);
  setSchema4Columns(record.fields, columns);
  const std::optional<std::string> error_key =
      columns.error_message ? std::optional(storage::normaliseErrorMessage(*columns.error_message))
                            : std::nullopt;
  const std::optional<std::string> extra = extraFields(record.fields, columns);
  const std::optional<std::string> raw = rawResidue(connection_, record.raw_json, record.fields);

  if (!known) {
    Statement& insert = connection_.cached(
        "INSERT INTO codex_invocations (invoke_id, occurred_at, extra, raw_response, source, "
        "occurred_ms, model, status, error_message, error_key, input_tokens, output_tokens, "
        "cache_input_tokens, reasoning_tokens, total_tokens, cost, response_time_ms, "
        "first_byte_time_ms, created_ms, updated_ms, request_time, service, service_tier, "
        "cache_creation_tokens, cache_read_tokens) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
        "?18, ?19, ?19, ?20, ?21, ?22, ?23, ?24)");
    insert.bind(1, invoke_id).bind(2, occurred_at).bind(3, extra).bind(4, raw).bind(5, source);
    insert.bind(6, values.occurred_ms).bind(7, values.model).bind(8, values.status);
    insert.bind(9, columns.error_message).bind(10, error_key);
    for (std::size_t i = 0; i < kTokenFields.size(); ++i) {
      insert.bind(static_cast<int>(11 + i), values.tokens[i]);
    }
    insert.bind(16, values.cost).bind(17, columns.response_time_ms);
    insert.bind(18, columns.first_byte_time_ms).bind(19, now_ms);
    insert.bind(20, columns.request_time).bind(21, columns.service);
    insert.bind(22, columns.service_tier).bind(23, columns.cache_creation_tokens);
    insert.bind(24, columns.cache_read_tokens);
    insert.run();
    values.id = connection_.lastInsertId();
    addRollup(source, values, +1);
    addChange(ChangeKind::kInvocationNew, source, values.id, now_ms);
    ++counts.inserted;
  } else {
    values.id = known->id;
    Statement& update = connection_.cached(
        "UPDATE codex_invocations SET extra = ?1, raw_response = ?2, occurred_ms = ?3, "
        "model = ?4, status = ?5, error_message = ?6, error_key = ?7, input_tokens = ?8, "
        "output_tokens = ?9, cache_input_tokens = ?10, reasoning_tokens = ?11, "
        "total_tokens = ?12, cost = ?13, response_time_ms = ?14, first_byte_time_ms = ?15, "
        "updated_ms = ?16, request_time = ?18, service = ?19, service_tier = ?20, "
        "cache_creation_tokens = ?21, cache_read_tokens = ?22 WHERE id = ?17");
    update.bind(1, extra).bind(2, raw).bind(3, values.occurred_ms).bind(4, values.model);
    update.bind(5, values.status).bind(6, columns.error_message).bind(7, error_key);
    for (std::size_t i = 0; i < kTokenFields.size(); ++i) {
      update.bind(static_cast<int>(8 + i), values.tokens[i]);
    }
    update.bind(13, values.cost).bind(14, columns.response_time_ms);
    update.bind(15, columns.first_byte_time_ms);
    update.bind(16, now_ms).bind(17, values.id).bind(18, columns.request_time);
    update.bind(19, columns.service).bind(20, columns.service_tier);
    update.bind(21, columns.cache_creation_tokens).bind(22, columns.cache_read_tokens);
    update.run();
    addRollup(source, *known, -1);
    addRollup(source, values, +1);
    Statement& history = connection_.cached(
        "INSERT INTO invocation_updates (invocation_id, changed_ms, old_status, new_status, "
        "old_cost, new_cost, old_total_tokens, new_total_tokens) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    history.bind(1, values.id).bind(2, now_ms).bind(3, known->status).bind(4, values.status);
    history.bind(5, known->cost).bind(6, values.cost).bind(7, known->tokens[4]);
    history.bind(8, values.tokens[4]);
    history.run();
    addChange(ChangeKind::kInvocationUpdated, source, values.id, now_ms);
    ++counts.updated;
  }
  pending_[key] = std::move(values);
}

void BatchWriter::addRollup(const std::string& source, const Known& values, int sign) {
  static const char* const kSql[2] = {
      "INSERT INTO invocation_rollup_hourly VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
      "ON CONFLICT (bucket_ms, source, model, status) DO UPDATE SET "
      "count = count + excluded.count, cost_nano = cost_nano + excluded.cost_nano, "
      "input_tokens = input_tokens + excluded.input_tokens, "
      "output_tokens = output_tokens + excluded.output_tokens, "
      "cache_input_tokens = cache_input_tokens + excluded.cache_input_tokens, "
      "reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens, "
      "total_tokens = total_tokens + excluded.total_tokens",
      "INSERT INTO invocation_rollup_daily VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
      "ON CONFLICT (bucket_ms, source, model, status) DO UPDATE SET "
      "count = count + excluded.count, cost_nano = cost_nano + excluded.cost_nano, "
      "input_tokens = input_tokens + excluded.input_tokens, "
      "output_tokens = output_tokens + excluded.output_tokens, "
      "cache_input_tokens = cache_input_tokens + excluded.cache_input_tokens, "
      "reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens, "
      "total_tokens = total_tokens + excluded.total_tokens"};
  const std::int64_t units[2] = {kHourMs, kDayMs};
  const std::int64_t cost_nano = sign * costNano(values.cost);
  for (int level = 0; level < 2; ++level) {
    Statement& upsert = connection_.cached(kSql[level]);
    upsert.bind(1, values.occurred_ms / units[level] * units[level]).bind(2, source);
    upsert.bind(3, values.model).bind(4, values.status).bind(5, std::int64_t{sign});
    upsert.bind(6, cost_nano);
    for (std::size_t i = 0; i < kTokenFields.size(); ++i) {
      upsert.bind(static_cast<int>(7 + i), sign * values.tokens[i].value_or(0));
    }
    upsert.run();
  }
  Statement& per_source = connection_.cached(
      "INSERT INTO invocation_rollup_hourly_source VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
      "?10) "
      "ON CONFLICT (bucket_ms, source) DO UPDATE SET count = count + excluded.count, "
      "success = success + excluded.success, cost_nano = cost_nano + excluded.cost_nano, "
      "input_tokens = input_tokens + excluded.input_tokens, "
      "output_tokens = output_tokens + excluded.output_tokens, "
      "cache_input_tokens = cache_input_tokens + excluded.cache_input_tokens, "
      "reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens, "
      "total_tokens = total_tokens + excluded.total_tokens");
  per_source.bind(1, values.occurred_ms / kHourMs * kHourMs).bind(2, source);
  per_source.bind(3, std::int64_t{sign});
  per_source.bind(4, values.status == inv::kStatusSuccess ? std::int64_t{sign} : std::int64_t{0});
  per_source.bind(5, cost_nano);
  for (std::size_t i = 0; i < kTokenFields.size(); ++i) {
    per_source.bind(static_cast<int>(6 + i), sign * values.tokens[i].value_or(0));
  }
  per_source.run();
}

std::int64_t BatchWriter::addChange(ChangeKind kind, const std::string& source, std::int64_t ref_id,
                                    std::int64_t now_ms) {
  Statement& insert = connection_.cached(
      "INSERT INTO changes (kind, source, ref_id, created_ms) VALUES (?1, ?2, ?3, ?4)");
  insert.bind(1, static_cast<std::int64_t>(kind)).bind(2, source).bind(3, ref_id).bind(4, now_ms);
  insert.run();
  return connection_.lastInsertId();
}

void BatchWriter::writeQuota(const std::string& source, const sdk::Record& record,
                             std::int64_t now_ms, WriteCounts& counts) {
  const std::string key = source + '\x1f' + record.key;
  std::string fields = encodeFields(record.fields);
  const QuotaState* last = nullptr;
  if (auto it = pending_quotas_.find(key); it != pending_quotas_.end()) {
    last = &it->second;
  } else if (auto stored = quotas_.find(key); stored != quotas_.end()) {
    last = &stored->second;
  }
  if (last != nullptr && last->fields_json == fields &&
      record.time_ms - last->time_ms < kQuotaHeartbeatMs) {
    return;
  }
  Statement& insert = connection_.cached(
      "INSERT INTO quota_snapshots (source, quota_key, time_ms, captured_at, fields, "
      "raw_response, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  insert.bind(1, source).bind(2, record.key).bind(3, record.time_ms);
  insert.bind(4, json::formatIsoUtc(record.time_ms)).bind(5, fields);
  if (record.raw_json.empty()) {
    insert.bindNull(6);
  } else {
    insert.bind(6, record.raw_json);
  }
  insert.bind(7, now_ms);
  insert.run();
  addChange(ChangeKind::kQuota, source, connection_.lastInsertId(), now_ms);
  pending_quotas_[key] = {std::move(fields), record.time_ms};
  ++counts.quota_snapshots;
}

void BatchWriter::writeOther(const std::string& source, const sdk::Record& record,
                             std::int64_t now_ms, WriteCounts& counts) {
  const std::string fields = encodeFields(record.fields);
  Statement& select = connection_.cached(
      "SELECT id, fields, coalesce(raw_response, ''), time_ms FROM records "
      "WHERE source = ?1 AND stream = ?2 AND record_key = ?3");
  select.bind(1, source).bind(2, record.stream).bind(3, record.key);
  std::int64_t id = 0;
  if (select.step()) {
    if (select.viewText(1) == fields && select.viewText(2) == record.raw_json &&
        select.getInt(3) == record.time_ms) {
      select.start();
      return;
    }
    id = select.getInt(0);
  }
  select.start();
  const std::optional<std::string> raw =
      record.raw_json.empty() ? std::nullopt : std::optional(record.raw_json);
  if (id == 0) {
    Statement& insert = connection_.cached(
        "INSERT INTO records (source, stream, record_key, time_ms, occurred_at, fields, "
        "raw_response, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)");
    insert.bind(1, source).bind(2, record.stream).bind(3, record.key).bind(4, record.time_ms);
    insert.bind(5, json::formatIsoUtc(record.time_ms)).bind(6, fields).bind(7, raw);
    insert.bind(8, now_ms);
    insert.run();
    id = connection_.lastInsertId();
  } else {
    Statement& update = connection_.cached(
        "UPDATE records SET time_ms = ?1, occurred_at = ?2, fields = ?3, raw_response = ?4, "
        "updated_ms = ?5 WHERE id = ?6");
    update.bind(1, record.time_ms).bind(2, json::formatIsoUtc(record.time_ms)).bind(3, fields);
    update.bind(4, raw).bind(5, now_ms).bind(6, id);
    update.run();
  }
  addChange(ChangeKind::kOther, source, id, now_ms);
  ++counts.other_records;
}

void BatchWriter::writeWindow(const sdk::WindowResult& window, std::int64_t now_ms,
                              WriteCounts& counts) {
  Statement& insert = connection_.cached(
      "INSERT INTO window_ledger (source, window_ms, started_ms, finished_ms, outcome, message, "
      "http_status, records_seen, records_emitted, records_rejected, gap_suspected, "
      "gap_from_ms, gap_to_ms, auth_state, clock_jump) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
  insert.bind(1, window.source).bind(2, window.window_ms).bind(3, window.started_ms);
  insert.bind(4, window.finished_ms).bind(5, sdk::outcomeName(window.outcome));
  insert.bind(6, window.message).bind(7, window.http_status).bind(8, window.records_seen);
  insert.bind(9, window.records_emitted).bind(10, window.records_rejected);
  insert.bind(11, std::int64_t{window.gap_suspected ? 1 : 0}).bind(12, window.gap_from_ms);
  insert.bind(13, window.gap_to_ms).bind(14, sdk::authStateName(window.auth_state));
  insert.bind(15, std::int64_t{window.clock_jump ? 1 : 0});
  insert.run();
  counts.last_sequence =
      addChange(ChangeKind::kWindow, window.source, connection_.lastInsertId(), now_ms);
}

}  // namespace gatherd::plugins::sqlite
