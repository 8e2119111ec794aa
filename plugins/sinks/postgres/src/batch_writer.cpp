#include "batch_writer.hpp"

#include <cmath>

#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/lib/storage/aggregate_plan.hpp"
#include "gatherd/lib/storage/error_normalizer.hpp"
#include "gatherd/lib/storage/flat_fields.hpp"
#include "gatherd/lib/storage/invocation_values.hpp"
#include "gatherd/sdk/streams.hpp"
#include "migrations.hpp"
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

void addWindowParams(Params& params, const sdk::WindowResult& window) {
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

// "t.a, t.b, ...": every column named, as two tables of a statement share the names.
std::string prefixed(const char* table, std::initializer_list<const char*> columns) {
  std::string list;
  for (const char* column : columns) {
    list += std::string(list.empty() ? "" : ", ") + table + "." + column;
  }
  return list;
}

// What an insert or update hands on to the rollups.
std::string returned(const char* table) {
  return prefixed(table,
                  {"occurred_ms", "model", "status", "cost", "cost_nano", "input_tokens",
                   "output_tokens", "cache_input_tokens", "reasoning_tokens", "total_tokens"});
}

// The rows of `table` as rollup terms (h, source, model, status, n, cost, i, o, c, r, t),
// negated with sign "-" (an update takes the old values out).
std::string sums(const char* table, const char* sign) {
  return std::string("SELECT ") + table + ".occurred_ms / 3600000 * 3600000 AS h, $19::text AS " +
         "source, " + table + ".model, " + table + ".status, " + sign + "1::bigint AS n, " + sign +
         table + ".cost_nano AS cost, " + sign + "coalesce(" + table + ".input_tokens, 0) AS i, " +
         sign + "coalesce(" + table + ".output_tokens, 0) AS o, " + sign + "coalesce(" + table +
         ".cache_input_tokens, 0) AS c, " + sign + "coalesce(" + table +
         ".reasoning_tokens, 0) AS r, " + sign + "coalesce(" + table + ".total_tokens, 0) AS t";
}

// $1 .. $18 (insertRow()'s columns as arrays) as the rows u, numbered o.
std::string unnestedRows() {
  return std::string("u AS (SELECT * FROM unnest(") + kInsertRowArrays +
         ") WITH ORDINALITY AS u(invoke_id, occurred_at, payload, raw_response, occurred_ms, "
         "model, status, error_message, error_key, input_tokens, output_tokens, "
         "cache_input_tokens, reasoning_tokens, total_tokens, cost, cost_nano, response_time_ms, "
         "first_byte_time_ms, o))";
}

// The insert of u: the invocations table's columns from u, $19 source, $20 collector, $21 now.
std::string insertFromRows() {
  return std::string(kInsertInvocations) +
         "SELECT invoke_id, occurred_at, payload, raw_response, occurred_ms, model, status, "
         "error_message, error_key, input_tokens, output_tokens, cache_input_tokens, "
         "reasoning_tokens, total_tokens, cost, cost_nano, response_time_ms, first_byte_time_ms, "
         "$19::text, $20::text, $21::bigint, $21::bigint FROM u";
}

// The text that invocationInsert()'s guard fails with.
constexpr const char* kStoredAlready = "gatherd: an invocation of the batch is stored already";

// The insert of one round of invocations that the writer has not seen (the parameters of
// invocationUpsert()): inserted, added to the rollups, each given its change. Nothing is looked
// up first, which halves the statement's server time (bench/store): a poll's new calls are
// almost always new to the database too. When one is not (after a restart, whose writer
// remembers nothing, or a row another writer stored), the guard fails the statement with
// kStoredAlready, so the transaction rolls back whole and the batch is written again with
// invocationUpsert(), which compares. (A failing cast is plain SQL's way to raise: it is not
// constant, so the planner cannot fold it.) Answers (inserted, 0).
std::string invocationInsert() {
  return "WITH " + unnestedRows() + ", ins AS (" + insertFromRows() +
         " ORDER BY u.o ON CONFLICT (source, invoke_id, occurred_at) DO NOTHING RETURNING id, " +
         returned("codex_invocations") + "), d AS (" + sums("ins", "") + " FROM ins)" +
         rollupUpserts() +
         ", ch AS (INSERT INTO changes (kind, source, ref_id, created_ms) SELECT " +
         std::to_string(static_cast<int>(ChangeKind::kInvocationNew)) +
         ", $19::text, id, $21::bigint FROM ins ORDER BY id) SELECT CASE WHEN (SELECT count(*) "
         "FROM ins) = (SELECT count(*) FROM u) THEN (SELECT count(*) FROM ins) ELSE ('" +
         kStoredAlready + " (' || (SELECT count(*) FROM ins) || ')')::bigint END, 0";
}

bool storedAlready(const PgError& error) {
  return std::string_view(error.what()).find(kStoredAlready) != std::string_view::npos;
}

// The upsert of one round of invocations ($1 .. $18: insertRow()'s columns as arrays; $19
// source, $20 collector, $21 now). Rows not stored yet are inserted (ON CONFLICT DO NOTHING: a
// row another writer stored meanwhile stands); stored rows whose status, cost or tokens differ
// are updated, the change kept in invocation_updates. The rollups take the new rows and, for an
// update, the new values minus the old ones; every inserted or updated row gets its change, in
// the batch's order. Answers (inserted, updated).
std::string invocationUpsert() {
  auto compared = [](const char* table) {
    return prefixed(table, {"status", "cost", "input_tokens", "output_tokens", "cache_input_tokens",
                            "reasoning_tokens", "total_tokens"});
  };
  return "WITH " + unnestedRows() +
         ", "
         // One index lookup per row sent, whatever the statistics: OFFSET 0 keeps the planner
         // from turning it into a join, which a plan cached while the table was small did as a
         // scan of every row of the source.
         "old AS (SELECT c.id, u.o, " +
         returned("c") +
         " FROM u CROSS JOIN LATERAL (SELECT * FROM codex_invocations k WHERE k.source = "
         "$19::text AND k.invoke_id = u.invoke_id AND k.occurred_at = u.occurred_at OFFSET 0) c), "
         "ins AS (" +
         insertFromRows() +
         " WHERE u.o NOT IN (SELECT o FROM old) ORDER BY u.o ON CONFLICT (source, invoke_id, "
         "occurred_at) DO NOTHING RETURNING id, "
         "invoke_id, occurred_at, " +
         returned("codex_invocations") +
         "), "
         "upd AS (UPDATE codex_invocations c SET payload = u.payload, raw_response = "
         "u.raw_response, occurred_ms = u.occurred_ms, model = u.model, status = u.status, "
         "error_message = u.error_message, error_key = u.error_key, input_tokens = "
         "u.input_tokens, output_tokens = u.output_tokens, cache_input_tokens = "
         "u.cache_input_tokens, reasoning_tokens = u.reasoning_tokens, total_tokens = "
         "u.total_tokens, cost = u.cost, cost_nano = u.cost_nano, response_time_ms = "
         "u.response_time_ms, first_byte_time_ms = u.first_byte_time_ms, updated_ms = $21::bigint "
         "FROM u JOIN old ON old.o = u.o WHERE c.id = old.id AND (" +
         compared("c") + ") IS DISTINCT FROM (" + compared("u") + ") RETURNING c.id, u.o, " +
         returned("c") +
         "), "
         "log AS (INSERT INTO invocation_updates (invocation_id, changed_ms, old_status, "
         "new_status, old_cost, new_cost, old_total_tokens, new_total_tokens) SELECT upd.id, "
         "$21::bigint, old.status, upd.status, old.cost, upd.cost, old.total_tokens, "
         "upd.total_tokens FROM upd JOIN old ON old.id = upd.id), "
         "d AS (" +
         sums("ins", "") + " FROM ins UNION ALL " + sums("upd", "") + " FROM upd UNION ALL " +
         sums("old", "-") + " FROM old JOIN upd ON upd.id = old.id)" + rollupUpserts() +
         ", ch AS (INSERT INTO changes (kind, source, ref_id, created_ms) SELECT kind, $19::text, "
         "id, $21::bigint FROM (SELECT " +
         std::to_string(static_cast<int>(ChangeKind::kInvocationNew)) +
         " AS kind, ins.id, u.o FROM ins JOIN u ON u.invoke_id = ins.invoke_id AND "
         "u.occurred_at = ins.occurred_at UNION ALL SELECT " +
         std::to_string(static_cast<int>(ChangeKind::kInvocationUpdated)) +
         ", upd.id, upd.o FROM upd) x ORDER BY o) "
         "SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM upd)";
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

WriteCounts BatchWriter::write(const sdk::Batch& batch, std::int64_t now_ms, bool announce) {
  try {
    return writeOnce(batch, now_ms, announce, false);
  } catch (const PgError& error) {
    if (!storedAlready(error)) throw;
  }
  // A row this writer took for new was stored already: the batch rolled back; again, comparing.
  return writeOnce(batch, now_ms, announce, true);
}

WriteCounts BatchWriter::writeOnce(const sdk::Batch& batch, std::int64_t now_ms, bool announce,
                                   bool compare_all) {
  WriteCounts counts;
  pending_.clear();
  pending_quotas_.clear();
  statements_.clear();
  readers_.clear();
  round_sizes_.clear();
  // Outside the transaction: a claim is idempotent and must not wait on the batch's locks.
  const std::string source = storedSource(batch.window.source);
  // The whole batch is one pipeline: nothing below waits for an answer before the commit.
  add({"BEGIN", {}, {}}, Reader::kNone);
  // The change-sequence lock first (a transaction lock, released only after the commit is
  // visible): sequence order is then commit order, so a reader that saw sequence N has seen
  // every smaller sequence that will ever commit. Taken before any rollup row is, so two writers
  // never wait for each other both ways.
  add({"SELECT pg_advisory_xact_lock($1::int, $2::int)", Params().add(kLockClass).add(lock_key_),
       "gatherd_lock"},
      Reader::kNone);
  std::vector<const sdk::Record*> invocations;
  for (const sdk::Record& record : batch.records) {
    if (record.stream == sdk::streams::kInvocation) invocations.push_back(&record);
  }
  planInvocations(source, invocations, now_ms, compare_all, counts);
  for (const sdk::Record& record : batch.records) {
    if (record.stream == sdk::streams::kInvocation) continue;
    if (record.stream == sdk::streams::kQuota) {
      planQuota(source, record, now_ms);
    } else {
      planOther(source, record, now_ms);
    }
  }
  planWindow(source, batch.window, now_ms, announce);
  add({"COMMIT", {}, {}}, Reader::kNone);

  const std::vector<Result> results = connection_.pipeline(statements_);
  std::size_t round = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Result& result = results[i];
    switch (readers_[i]) {
      case Reader::kNone: break;
      case Reader::kInvocations: {
        const std::int64_t inserted = result.integer(0, 0);
        const std::int64_t updated = result.integer(0, 1);
        counts.inserted += inserted;
        counts.updated += updated;
        // The rest were stored already with the same values (or by another writer meanwhile).
        counts.unchanged += static_cast<std::int64_t>(round_sizes_[round++]) - inserted - updated;
        break;
      }
      case Reader::kQuota: ++counts.quota_snapshots; break;
      case Reader::kOther: counts.other_records += result.rows(); break;
      case Reader::kWindow: counts.last_sequence = result.integer(0, 0); break;
    }
  }
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

void BatchWriter::planInvocations(const std::string& source,
                                  const std::vector<const sdk::Record*>& records,
                                  std::int64_t now_ms, bool compare_all, WriteCounts& counts) {
  // What is stored already, as far as this writer knows: most of a poll repeats what it
  // reported and is skipped here. Everything else goes to the server, which inserts it or,
  // when stored with other values, updates it. A poll that repeats one invocation sends the
  // second copy in a second round (one statement cannot touch a row twice), compared with the
  // first.
  std::vector<Columns> rounds;
  std::vector<bool> round_unseen;  // no row of the round is known to this writer
  std::unordered_map<std::string, std::size_t> rounds_taken;
  for (const sdk::Record* record : records) {
    Pending item = pending(*record);
    const Known& values = item.values;
    const std::string cache_key = joinKey(source, item.key);
    const Known* known = nullptr;
    if (auto it = pending_.find(cache_key); it != pending_.end()) {
      known = &it->second;
    } else if (auto hit = cache_.find(cache_key); hit != cache_.end()) {
      known = &hit->second;
    }
    if (known != nullptr && known->status == values.status && known->cost == values.cost &&
        known->tokens == values.tokens) {
      ++counts.unchanged;
      continue;
    }
    if (known == nullptr && values.occurred_ms < pruned_before_ms_) {
      // Older than retention keeps: deleted already (or never kept), not stored again.
      ++counts.too_old;
      continue;
    }
    const std::size_t round = rounds_taken[cache_key]++;
    if (round == rounds.size()) {
      rounds.emplace_back(18);
      round_unseen.push_back(true);
    }
    if (known != nullptr) round_unseen[round] = false;
    auto row = insertRow(item);
    for (std::size_t column = 0; column < row.size(); ++column) {
      rounds[round][column].push_back(std::move(row[column]));
    }
    pending_[cache_key] = values;
  }
  if (rounds.empty()) return;
  static const std::string upsert = invocationUpsert();
  static const std::string insert = invocationInsert();
  for (std::size_t round = 0; round < rounds.size(); ++round) {
    Params params;
    rounds[round].addTo(params);
    params.add(source).add(collector_).add(now_ms);
    round_sizes_.push_back(rounds[round].rows());
    if (round_unseen[round] && !compare_all) {
      add({insert, std::move(params), "gatherd_invocations_new"}, Reader::kInvocations);
    } else {
      add({upsert, std::move(params), "gatherd_invocations"}, Reader::kInvocations);
    }
  }
}

void BatchWriter::planQuota(const std::string& source, const sdk::Record& record,
                            std::int64_t now_ms) {
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
  add({"WITH q AS (INSERT INTO quota_snapshots (source, quota_key, time_ms, captured_at, fields, "
       "raw_response, created_ms) VALUES ($1::text, $2, $3, $4, $5, $6, $7::bigint) RETURNING "
       "id) INSERT INTO changes (kind, source, ref_id, created_ms) SELECT " +
           std::to_string(static_cast<int>(ChangeKind::kQuota)) +
           ", $1::text, id, $7::bigint FROM q",
       Params()
           .add(source)
           .add(record.key)
           .add(record.time_ms)
           .add(json::formatIsoUtc(record.time_ms))
           .add(fields)
           .add(record.raw_json.empty() ? std::nullopt
                                        : std::optional<std::string>(record.raw_json))
           .add(now_ms),
       "gatherd_quota"},
      Reader::kQuota);
  pending_quotas_[key] = {std::move(fields), record.time_ms};
}

void BatchWriter::planOther(const std::string& source, const sdk::Record& record,
                            std::int64_t now_ms) {
  const std::string fields = storage::encodeFields(record.fields);
  const std::optional<std::string> raw =
      record.raw_json.empty() ? std::nullopt : std::optional(record.raw_json);
  // Inserted, or updated when anything differs (with its change); unchanged rows return nothing.
  add({"WITH changed AS (INSERT INTO records AS r (source, stream, record_key, time_ms, "
       "occurred_at, fields, raw_response, created_ms, updated_ms) VALUES ($1::text, $2, $3, $4, "
       "$5, $6, $7, $8::bigint, $8::bigint) ON CONFLICT (source, stream, record_key) DO UPDATE "
       "SET time_ms = excluded.time_ms, occurred_at = excluded.occurred_at, fields = "
       "excluded.fields, raw_response = excluded.raw_response, updated_ms = excluded.updated_ms "
       "WHERE r.fields IS DISTINCT FROM excluded.fields OR coalesce(r.raw_response, '') IS "
       "DISTINCT FROM coalesce(excluded.raw_response, '') OR r.time_ms <> excluded.time_ms "
       "RETURNING id) INSERT INTO changes (kind, source, ref_id, created_ms) SELECT " +
           std::to_string(static_cast<int>(ChangeKind::kOther)) +
           ", $1::text, id, $8::bigint FROM changed RETURNING ref_id",
       Params()
           .add(source)
           .add(record.stream)
           .add(record.key)
           .add(record.time_ms)
           .add(json::formatIsoUtc(record.time_ms))
           .add(fields)
           .add(raw)
           .add(now_ms),
       "gatherd_other"},
      Reader::kOther);
}

void BatchWriter::planWindow(const std::string& source, const sdk::WindowResult& window,
                             std::int64_t now_ms, bool announce) {
  // The window's change is the batch's last: its sequence is the batch's newest, announced (when
  // `announce`) to every listening gatherd at the commit.
  static const std::string insert =
      "WITH w AS (INSERT INTO window_ledger (source, window_ms, window_at, started_ms, "
      "finished_ms, outcome, message, http_status, records_seen, records_emitted, "
      "records_rejected, gap_suspected, gap_from_ms, gap_to_ms, auth_state, clock_jump) VALUES "
      "($1::text, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING "
      "id), ch AS (INSERT INTO changes (kind, source, ref_id, created_ms) SELECT " +
      std::to_string(static_cast<int>(ChangeKind::kWindow)) +
      ", $1::text, id, $17::bigint FROM w RETURNING seq) SELECT seq";
  Params params;
  params.add(source);               // $1
  addWindowParams(params, window);  // $2 .. $16
  params.add(now_ms);
  if (announce) {
    params.add(channel(schema_));
    add({insert + ", pg_notify($18, seq::text) FROM ch", std::move(params), "gatherd_window"},
        Reader::kWindow);
  } else {
    add({insert + " FROM ch", std::move(params), "gatherd_window_quiet"}, Reader::kWindow);
  }
}

}  // namespace gatherd::plugins::postgres
