#include "batch_writer.hpp"

#include <cmath>

#include "gatherd/sdk/streams.hpp"
#include "json/time_format.hpp"
#include "migrations.hpp"
#include "storage/aggregate_plan.hpp"
#include "storage/error_normalizer.hpp"
#include "storage/invocation_values.hpp"
#include "storage/flat_fields.hpp"
#include "write_sql.hpp"

namespace gatherd::plugins::postgres {
namespace {

namespace inv = sdk::streams::invocation;

constexpr std::size_t kCacheCapacity = 16'384;
using storage::intField;
using storage::textField;
constexpr const auto& kTokenFields = storage::kInvocationTokenFields;

std::optional<std::string> nonEmpty(std::string text) {
  if (text.empty()) return std::nullopt;
  return text;
}

std::optional<std::string> optDouble(std::optional<double> value) {
  if (!value || !std::isfinite(*value)) return std::nullopt;
  return formatDouble(*value);
}

std::optional<std::string> optInt(std::optional<std::int64_t> value) {
  if (!value) return std::nullopt;
  return std::to_string(*value);
}

std::string joinKey(const std::string& a, const std::string& b) {
  std::string key;
  key.reserve(a.size() + b.size() + 1);
  key.append(a).push_back('\x1f');
  key.append(b);
  return key;
}

}  // namespace

BatchWriter::Pending BatchWriter::pending(const sdk::Record& record) {
  Pending item;
  item.record = &record;
  storage::InvocationIdentity identity = storage::invocationIdentity(record);
  item.invoke_id = std::move(identity.invoke_id);
  item.occurred_at = std::move(identity.occurred_at);
  static_cast<storage::InvocationValues&>(item.values) = storage::invocationValues(record);
  item.key = joinKey(item.invoke_id, item.occurred_at);
  return item;
}

std::array<std::optional<std::string>, 18> BatchWriter::insertRow(const Pending& item) {
  const Known& values = item.values;
  const sdk::Record& record = *item.record;
  const auto error_message = nonEmpty(textField(record, inv::kErrorMessage));
  std::array<std::optional<std::string>, 18> row;
  row[0] = item.invoke_id;
  row[1] = item.occurred_at;
  row[2] = storage::encodeFields(record.fields);
  if (!record.raw_json.empty()) row[3] = record.raw_json;
  row[4] = std::to_string(values.occurred_ms);
  row[5] = values.model;
  row[6] = values.status;
  row[7] = error_message;
  if (error_message) row[8] = storage::normaliseErrorMessage(*error_message);
  for (std::size_t i = 0; i < kTokenFields.size(); ++i) row[9 + i] = optInt(values.tokens[i]);
  row[14] = optDouble(values.cost);
  row[15] = std::to_string(storage::costNano(values.cost));
  row[16] = optInt(intField(record, inv::kResponseTimeMs));
  row[17] = optInt(intField(record, inv::kFirstByteTimeMs));
  return row;
}

BatchWriter::BatchWriter(Connection& connection, std::string schema, std::string collector)
    : connection_(connection), schema_(std::move(schema)), collector_(std::move(collector)) {}

void BatchWriter::load() {
  quotas_.clear();
  Result latest = connection_.exec(
      "SELECT DISTINCT ON (source, quota_key) source, quota_key, fields, time_ms "
      "FROM quota_snapshots ORDER BY source, quota_key, id DESC");
  for (int row = 0; row < latest.rows(); ++row) {
    quotas_[joinKey(latest.text(row, 0), latest.text(row, 1))] = {latest.text(row, 2),
                                                                  latest.integer(row, 3)};
  }
  pruned_before_ms_ =
      connection_.queryInt("SELECT value FROM meta WHERE name = 'invocations_pruned_before_ms'");
  lock_key_ = static_cast<std::int32_t>(
      connection_.queryInt("SELECT hashtext($1) + 1", Params().add(schema_)));
}

const std::string& BatchWriter::storedSource(const std::string& instance) {
  if (auto it = stored_sources_.find(instance); it != stored_sources_.end()) return it->second;
  // The first collector to use a name keeps it; another one that uses it too stores its rows as
  // "<collector>/<name>", so two machines with [source.xychatai] never mix their histories.
  auto claim = [&](const std::string& name) {
    connection_.exec(
        "INSERT INTO source_owners (source, collector) VALUES ($1, $2) "
        "ON CONFLICT (source) DO NOTHING",
        Params().add(name).add(collector_));
    Result owner = connection_.exec("SELECT collector FROM source_owners WHERE source = $1",
                                    Params().add(name));
    return owner.rows() == 1 && owner.view(0, 0) == collector_;
  };
  std::string stored = instance;
  if (!claim(stored)) {
    stored = collector_ + "/" + instance;
    claim(stored);
  }
  return stored_sources_.emplace(instance, std::move(stored)).first->second;
}

WriteCounts BatchWriter::write(const sdk::Batch& batch, std::int64_t now_ms) {
  WriteCounts counts;
  pending_.clear();
  pending_quotas_.clear();
  deltas_.clear();
  changes_.clear();
  // Outside the transaction: a claim is idempotent and must not wait on the batch's locks.
  const std::string source = storedSource(batch.window.source);
  Transaction transaction(connection_);
  std::vector<const sdk::Record*> invocations;
  for (const sdk::Record& record : batch.records) {
    if (record.stream == sdk::streams::kInvocation) invocations.push_back(&record);
  }
  writeInvocations(source, invocations, now_ms, counts);
  for (const sdk::Record& record : batch.records) {
    if (record.stream == sdk::streams::kInvocation) continue;
    if (record.stream == sdk::streams::kQuota) {
      writeQuota(source, record, now_ms, counts);
    } else {
      writeOther(source, record, now_ms, counts);
    }
  }
  // One statement for the rollups, the ledger row and the sequence lock; one for the changes.
  changes_.push_back({ChangeKind::kWindow, flushRollupsAndWindow(source, batch.window)});
  counts.last_sequence = flushChanges(source, now_ms);
  transaction.commit();

  for (auto& [key, known] : pending_) remember(key, std::move(known));
  pending_.clear();
  for (auto& [key, state] : pending_quotas_) quotas_[key] = std::move(state);
  pending_quotas_.clear();
  return counts;
}

void BatchWriter::remember(const std::string& key, Known known) {
  auto [it, inserted] = cache_.insert_or_assign(key, std::move(known));
  if (!inserted) return;
  cache_order_.push_back(key);
  if (cache_order_.size() > kCacheCapacity) {
    cache_.erase(cache_order_.front());
    cache_order_.pop_front();
  }
}

void BatchWriter::writeInvocations(const std::string& source,
                                   const std::vector<const sdk::Record*>& records,
                                   std::int64_t now_ms, WriteCounts& counts) {
  if (records.empty()) return;
  std::vector<Pending> items;
  items.reserve(records.size());
  for (const sdk::Record* record : records) items.push_back(pending(*record));

  // What is stored already: the cache answers most of a poll (it repeats what it reported);
  // the rest is one query.
  std::unordered_map<std::string, Known> stored;
  std::vector<std::optional<std::string>> ask_ids;
  std::vector<std::optional<std::string>> ask_times;
  for (const Pending& item : items) {
    const std::string cache_key = joinKey(source, item.key);
    if (auto it = pending_.find(cache_key); it != pending_.end()) {
      stored[item.key] = it->second;
    } else if (auto hit = cache_.find(cache_key); hit != cache_.end()) {
      stored[item.key] = hit->second;
    } else {
      ask_ids.emplace_back(item.invoke_id);
      ask_times.emplace_back(item.occurred_at);
    }
  }
  if (!ask_ids.empty()) {
    Result found = connection_.exec(
        "SELECT c.id, c.invoke_id, c.occurred_at, c.occurred_ms, c.model, c.status, c.cost, "
        "c.input_tokens, c.output_tokens, c.cache_input_tokens, c.reasoning_tokens, "
        "c.total_tokens FROM codex_invocations c "
        "JOIN unnest($2::text[], $3::text[]) AS k(invoke_id, occurred_at) "
        "ON c.invoke_id = k.invoke_id AND c.occurred_at = k.occurred_at WHERE c.source = $1",
        Params().add(source).add(textArray(ask_ids)).add(textArray(ask_times)));
    for (int row = 0; row < found.rows(); ++row) {
      Known known;
      known.id = found.integer(row, 0);
      known.occurred_ms = found.integer(row, 3);
      known.model = found.text(row, 4);
      known.status = found.text(row, 5);
      known.cost = found.optReal(row, 6);
      for (std::size_t i = 0; i < kTokenFields.size(); ++i) {
        known.tokens[i] = found.optInteger(row, static_cast<int>(7 + i));
      }
      stored[joinKey(found.text(row, 1), found.text(row, 2))] = std::move(known);
    }
  }

  enum class Action { kSkip, kInsert, kUpdate };
  std::vector<Action> actions(items.size(), Action::kSkip);
  Columns insert(18);
  std::vector<std::size_t> inserted_items;
  for (std::size_t index = 0; index < items.size(); ++index) {
    Pending& item = items[index];
    const Known& values = item.values;
    auto known = stored.find(item.key);
    if (known != stored.end() && known->second.status == values.status &&
        known->second.cost == values.cost && known->second.tokens == values.tokens) {
      ++counts.unchanged;
      continue;
    }
    if (known == stored.end() && values.occurred_ms < pruned_before_ms_) {
      ++counts.too_old;
      continue;
    }
    actions[index] = known == stored.end() ? Action::kInsert : Action::kUpdate;
    if (actions[index] != Action::kInsert) continue;
    // A poll may repeat one invocation: the first copy inserts, later ones compare against it.
    stored[item.key] = values;
    auto row = insertRow(item);
    for (std::size_t column = 0; column < row.size(); ++column) {
      insert[column].push_back(std::move(row[column]));
    }
    inserted_items.push_back(index);
  }

  std::unordered_map<std::string, std::int64_t> new_ids;
  if (!inserted_items.empty()) {
    Params params;
    insert.addTo(params);
    params.add(source).add(collector_).add(now_ms);
    Result rows = connection_.exec(
        std::string(kInsertInvocations) + "SELECT u.*, $19, $20, $21, $21 FROM unnest(" +
            kInsertRowArrays +
            ") AS u ON CONFLICT (source, invoke_id, occurred_at) DO NOTHING RETURNING id, "
            "invoke_id, occurred_at",
        params);
    for (int row = 0; row < rows.rows(); ++row) {
      new_ids[joinKey(rows.text(row, 1), rows.text(row, 2))] = rows.integer(row, 0);
    }
  }

  for (std::size_t index = 0; index < items.size(); ++index) {
    Pending& item = items[index];
    Known& values = item.values;
    const std::string cache_key = joinKey(source, item.key);
    if (actions[index] == Action::kInsert) {
      auto id = new_ids.find(item.key);
      if (id == new_ids.end()) {
        // Another writer stored the same key meanwhile (or this batch repeats it): theirs stands.
        ++counts.unchanged;
        continue;
      }
      values.id = id->second;
      new_ids.erase(id);
      addRollup(values, +1);
      changes_.push_back({ChangeKind::kInvocationNew, values.id});
      ++counts.inserted;
      pending_[cache_key] = values;
    } else if (actions[index] == Action::kUpdate) {
      const Known& known = stored.at(item.key);
      values.id = known.id;
      const sdk::Record& record = *item.record;
      const auto error_message = nonEmpty(textField(record, inv::kErrorMessage));
      Params params;
      params.add(storage::encodeFields(record.fields))
          .add(record.raw_json.empty() ? std::nullopt : std::optional<std::string>(record.raw_json))
          .add(values.occurred_ms)
          .add(values.model)
          .add(values.status)
          .add(error_message)
          .add(error_message ? std::optional(storage::normaliseErrorMessage(*error_message))
                             : std::nullopt);
      for (std::size_t i = 0; i < kTokenFields.size(); ++i) params.add(values.tokens[i]);
      params.add(values.cost)
          .add(storage::costNano(values.cost))
          .add(intField(record, inv::kResponseTimeMs))
          .add(intField(record, inv::kFirstByteTimeMs))
          .add(now_ms)
          .add(values.id)
          .add(known.status)
          .add(known.cost)
          .add(known.tokens[4]);
      connection_.exec(
          "WITH changed AS (UPDATE codex_invocations SET payload = $1, raw_response = $2, "
          "occurred_ms = $3, model = $4, status = $5, error_message = $6, error_key = $7, "
          "input_tokens = $8, output_tokens = $9, cache_input_tokens = $10, "
          "reasoning_tokens = $11, total_tokens = $12, cost = $13, cost_nano = $14, "
          "response_time_ms = $15, first_byte_time_ms = $16, updated_ms = $17 WHERE id = $18 "
          "RETURNING id, status, cost, total_tokens) "
          "INSERT INTO invocation_updates (invocation_id, changed_ms, old_status, new_status, "
          "old_cost, new_cost, old_total_tokens, new_total_tokens) "
          "SELECT id, $17, $19, status, $20::float8, cost, $21::bigint, total_tokens FROM changed",
          params);
      addRollup(known, -1);
      addRollup(values, +1);
      changes_.push_back({ChangeKind::kInvocationUpdated, values.id});
      ++counts.updated;
      pending_[cache_key] = values;
      stored[item.key] = values;
    }
  }
}

void BatchWriter::addRollup(const Known& values, int sign) {
  Delta& delta =
      deltas_[{storage::floorDiv(values.occurred_ms, storage::kHourMs) * storage::kHourMs,
               values.model, values.status}];
  delta.count += sign;
  delta.cost_nano += sign * storage::costNano(values.cost);
  for (std::size_t i = 0; i < kTokenFields.size(); ++i) {
    delta.tokens[i] += sign * values.tokens[i].value_or(0);
  }
}

std::int64_t BatchWriter::flushRollupsAndWindow(const std::string& source,
                                                const sdk::WindowResult& window) {
  Columns columns(10);
  for (const auto& [key, delta] : deltas_) {
    columns[0].emplace_back(std::to_string(key.time_ms));
    columns[1].emplace_back(key.model);
    columns[2].emplace_back(key.status);
    columns[3].emplace_back(std::to_string(delta.count));
    columns[4].emplace_back(std::to_string(delta.cost_nano));
    for (std::size_t i = 0; i < delta.tokens.size(); ++i) {
      columns[5 + i].emplace_back(std::to_string(delta.tokens[i]));
    }
  }
  Params params;
  columns.addTo(params);                  // $1 .. $10
  params.add(source);                     // $11
  addWindowParams(params, window);        // $12 .. $26
  params.add(kLockClass).add(lock_key_);  // $27, $28
  // The transaction lock taken here numbers this batch's changes in the next statement (see
  // flushChanges()).
  Result result = connection_.exec(
      "WITH d AS (SELECT h, $11::text AS source, model, status, n, cost, i, o, c, r, t FROM "
      "unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], "
      "$7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[]) AS u(h, model, status, n, cost, "
      "i, o, c, r, t))" +
          rollupUpserts() +
          ", "
          "w AS (INSERT INTO window_ledger (source, window_ms, window_at, started_ms, "
          "finished_ms, outcome, message, http_status, records_seen, records_emitted, "
          "records_rejected, gap_suspected, gap_from_ms, gap_to_ms, auth_state, clock_jump) "
          "VALUES ($11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, "
          "$26) RETURNING id), "
          "l AS (SELECT pg_advisory_xact_lock($27::int, $28::int) AS locked) "
          "SELECT (SELECT id FROM w), (SELECT count(*) FROM l)",
      params);
  return result.integer(0, 0);
}

std::int64_t BatchWriter::flushChanges(const std::string& source, std::int64_t now_ms) {
  // Numbered under the transaction lock flushRollupsAndWindow() took, released only after the
  // commit is visible: a reader that saw sequence N has seen every smaller sequence that will
  // ever commit.
  std::vector<std::optional<std::int64_t>> kinds;
  std::vector<std::optional<std::int64_t>> refs;
  for (const ChangeRow& change : changes_) {
    kinds.emplace_back(static_cast<std::int64_t>(change.kind));
    refs.emplace_back(change.ref_id);
  }
  Result last = connection_.exec(
      "WITH added AS (INSERT INTO changes (kind, source, ref_id, created_ms) "
      "SELECT k, $3, r, $4 FROM unnest($1::int[], $2::bigint[]) WITH ORDINALITY AS u(k, r, o) "
      "ORDER BY o RETURNING seq) "
      "SELECT max(seq), pg_notify($5, max(seq)::text) FROM added",
      Params()
          .add(intArray(kinds))
          .add(intArray(refs))
          .add(source)
          .add(now_ms)
          .add(channel(schema_)));
  return last.integer(0, 0);
}

void BatchWriter::writeQuota(const std::string& source, const sdk::Record& record,
                             std::int64_t now_ms, WriteCounts& counts) {
  const std::string key = joinKey(source, record.key);
  std::string fields = storage::encodeFields(record.fields);
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
  Result id = connection_.exec(
      "INSERT INTO quota_snapshots (source, quota_key, time_ms, captured_at, fields, "
      "raw_response, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
      Params()
          .add(source)
          .add(record.key)
          .add(record.time_ms)
          .add(json::formatIsoUtc(record.time_ms))
          .add(fields)
          .add(record.raw_json.empty() ? std::nullopt : std::optional<std::string>(record.raw_json))
          .add(now_ms));
  changes_.push_back({ChangeKind::kQuota, id.integer(0, 0)});
  pending_quotas_[key] = {std::move(fields), record.time_ms};
  ++counts.quota_snapshots;
}

void BatchWriter::writeOther(const std::string& source, const sdk::Record& record,
                             std::int64_t now_ms, WriteCounts& counts) {
  const std::string fields = storage::encodeFields(record.fields);
  const std::optional<std::string> raw =
      record.raw_json.empty() ? std::nullopt : std::optional(record.raw_json);
  // Inserted, or updated when anything differs; unchanged rows return nothing.
  Result row = connection_.exec(
      "INSERT INTO records AS r (source, stream, record_key, time_ms, occurred_at, fields, "
      "raw_response, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) "
      "ON CONFLICT (source, stream, record_key) DO UPDATE SET time_ms = excluded.time_ms, "
      "occurred_at = excluded.occurred_at, fields = excluded.fields, raw_response = "
      "excluded.raw_response, updated_ms = excluded.updated_ms WHERE r.fields IS DISTINCT FROM "
      "excluded.fields OR coalesce(r.raw_response, '') IS DISTINCT FROM "
      "coalesce(excluded.raw_response, '') OR r.time_ms <> excluded.time_ms RETURNING id",
      Params()
          .add(source)
          .add(record.stream)
          .add(record.key)
          .add(record.time_ms)
          .add(json::formatIsoUtc(record.time_ms))
          .add(fields)
          .add(raw)
          .add(now_ms));
  if (row.rows() == 0) return;
  changes_.push_back({ChangeKind::kOther, row.integer(0, 0)});
  ++counts.other_records;
}

void BatchWriter::addWindowParams(Params& params, const sdk::WindowResult& window) {
  params.add(window.window_ms)
      .add(json::formatIsoUtc(window.window_ms))
      .add(window.started_ms)
      .add(window.finished_ms)
      .add(sdk::outcomeName(window.outcome))
      .add(window.message)
      .add(std::int64_t{window.http_status})
      .add(window.records_seen)
      .add(window.records_emitted)
      .add(window.records_rejected)
      .add(std::int64_t{window.gap_suspected ? 1 : 0})
      .add(window.gap_from_ms)
      .add(window.gap_to_ms)
      .add(sdk::authStateName(window.auth_state))
      .add(std::int64_t{window.clock_jump ? 1 : 0});
}

}  // namespace gatherd::plugins::postgres
