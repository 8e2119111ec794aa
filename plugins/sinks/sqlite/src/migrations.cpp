#include "migrations.hpp"

#include <sstream>
#include <stdexcept>
#include <vector>

#include <Poco/Data/Session.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <sqlite3.h>

#include "gatherd/lib/storage/error_normalizer.hpp"
#include "gatherd/sdk/support/redaction.hpp"

namespace gatherd::plugins::sqlite {
namespace {

using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

void errorKeyFunction(sqlite3_context* context, int, sqlite3_value** arguments) {
  if (sqlite3_value_type(arguments[0]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  const auto* text = sqlite3_value_text(arguments[0]);
  const int size = sqlite3_value_bytes(arguments[0]);
  const std::string key = storage::normaliseErrorMessage(
      std::string_view(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)));
  sqlite3_result_text(context, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
}

// Replaces the value of every secret-named member (apiKey, cookie, ...) at any depth; true when
// one was found.
bool maskSecretMembers(const Poco::Dynamic::Var& value) {
  bool masked = false;
  if (value.type() == typeid(Poco::JSON::Object::Ptr)) {
    Poco::JSON::Object::Ptr object = value.extract<Poco::JSON::Object::Ptr>();
    if (object.isNull()) return false;
    std::vector<std::string> names;
    object->getNames(names);
    for (const auto& name : names) {
      if (gatherd::sdk::isSecretKeyName(name) && !object->get(name).isEmpty()) {
        object->set(name, std::string("[redacted]"));
        masked = true;
      } else {
        masked = maskSecretMembers(object->get(name)) || masked;
      }
    }
  } else if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
    Poco::JSON::Array::Ptr array = value.extract<Poco::JSON::Array::Ptr>();
    if (array.isNull()) return false;
    for (std::size_t i = 0; i < array->size(); ++i) {
      masked = maskSecretMembers(array->get(static_cast<unsigned>(i))) || masked;
    }
  }
  return masked;
}

// gatherd_redact_json(text): a seed-era payload or raw response as gatherd keeps one: NULL when
// it is not a JSON object or array, secret-named members masked, else the text unchanged.
void redactJsonFunction(sqlite3_context* context, int, sqlite3_value** arguments) {
  if (sqlite3_value_type(arguments[0]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  const auto* text = sqlite3_value_text(arguments[0]);
  const std::string json(reinterpret_cast<const char*>(text),
                         static_cast<std::size_t>(sqlite3_value_bytes(arguments[0])));
  try {
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));  // keep the member order
    const Poco::Dynamic::Var root = parser.parse(json);
    if (root.type() != typeid(Poco::JSON::Object::Ptr) &&
        root.type() != typeid(Poco::JSON::Array::Ptr)) {
      sqlite3_result_null(context);
      return;
    }
    if (!maskSecretMembers(root)) {
      sqlite3_result_text(context, json.data(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
      return;
    }
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(root, out);
    const std::string masked = out.str();
    sqlite3_result_text(context, masked.data(), static_cast<int>(masked.size()), SQLITE_TRANSIENT);
  } catch (...) {
    sqlite3_result_null(context);  // not JSON: nothing of it is kept
  }
}

void run(Poco::Data::Session& session, const std::vector<std::string>& statements) {
  for (const std::string& sql : statements) {
    session << sql, now;
  }
}

void migrateToSeed(Poco::Data::Session& session) {
  // Kept byte for byte from the seed design, so a database made by that tool upgrades in place.
  run(session, {R"(CREATE TABLE IF NOT EXISTS codex_invocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invoke_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    payload JSON,
    raw_response JSON,
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    UNIQUE(invoke_id, occurred_at)
))"});
}

// UTC ms of an ISO-8601 / SQLite datetime text, or NULL.
std::string epochMs(const std::string& column) {
  return "CAST(round((julianday(" + column + ") - 2440587.5) * 86400000.0) AS INTEGER)";
}

std::string payloadValue(const std::string& snake, const std::string& camel) {
  return "coalesce(json_extract(p, '$." + snake + "'), json_extract(p, '$." + camel + "'))";
}

std::string rollupTable(const std::string& name) {
  return "CREATE TABLE " + name + R"( (
    bucket_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    count INTEGER NOT NULL,
    cost_nano INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_input_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    PRIMARY KEY (bucket_ms, source, model, status)
) WITHOUT ROWID)";
}

std::string rollupBackfill(const std::string& name, const std::string& unit_ms) {
  return "INSERT INTO " + name + " SELECT (occurred_ms / " + unit_ms + ") * " + unit_ms +
         R"(, source, model, status, count(*),
    sum(coalesce(CAST(round(cost * 1e9) AS INTEGER), 0)), sum(coalesce(input_tokens, 0)),
    sum(coalesce(output_tokens, 0)), sum(coalesce(cache_input_tokens, 0)),
    sum(coalesce(reasoning_tokens, 0)), sum(coalesce(total_tokens, 0))
  FROM codex_invocations GROUP BY 1, 2, 3, 4)";
}

void migrateToGatherd(Poco::Data::Session& session, const std::string& legacy_source,
                      std::int64_t now_ms) {
  // The seed's table is dropped below: zero its pages, so no raw secret stays in the file.
  run(session, {"PRAGMA secure_delete = ON",
                "ALTER TABLE codex_invocations RENAME TO codex_invocations_seed",
                R"(CREATE TABLE codex_invocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invoke_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    payload JSON,
    raw_response JSON,
    created_at TEXT NOT NULL DEFAULT (datetime('now')),
    source TEXT NOT NULL,
    occurred_ms INTEGER NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT '',
    error_message TEXT,
    error_key TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cache_input_tokens INTEGER,
    reasoning_tokens INTEGER,
    total_tokens INTEGER,
    cost REAL,
    response_time_ms INTEGER,
    first_byte_time_ms INTEGER,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    UNIQUE (source, invoke_id, occurred_at)
))"});

  std::string source = legacy_source;
  std::int64_t stamp = now_ms;
  std::string copy =
      "INSERT INTO codex_invocations (id, invoke_id, occurred_at, payload, raw_response, "
      "created_at, source, occurred_ms, model, status, error_message, error_key, input_tokens, "
      "output_tokens, cache_input_tokens, reasoning_tokens, total_tokens, cost, "
      "response_time_ms, first_byte_time_ms, created_ms, updated_ms) "
      // The seed kept the upstream's raw response as it came (apiKey and all): only valid JSON
      // with its secret members masked is kept (gatherd_redact_json).
      "SELECT id, invoke_id, occurred_at, payload, gatherd_redact_json(raw_response), "
      "created_at, ?, "
      "max(coalesce(" +
      epochMs("occurred_at") +
      ", 0), 0), "
      "coalesce(json_extract(p, '$.model'), ''), lower(coalesce(json_extract(p, '$.status'), "
      "'')), " +
      payloadValue("error_message", "errorMessage") + ", gatherd_error_key(" +
      payloadValue("error_message", "errorMessage") + "), " +
      payloadValue("input_tokens", "inputTokens") + ", " +
      payloadValue("output_tokens", "outputTokens") + ", " +
      payloadValue("cache_input_tokens", "cacheInputTokens") + ", " +
      payloadValue("reasoning_tokens", "reasoningTokens") + ", " +
      payloadValue("total_tokens", "totalTokens") + ", " + payloadValue("cost_usd", "cost") + ", " +
      payloadValue("response_time_ms", "responseTime") + ", " +
      payloadValue("first_byte_time_ms", "firstByteTime") + ", coalesce(" + epochMs("created_at") +
      ", ?), coalesce(" + epochMs("created_at") +
      ", ?) FROM (SELECT *, CASE WHEN json_valid(payload) THEN payload ELSE '{}' END AS p "
      "FROM codex_invocations_seed)";
  session << copy, use(source), use(stamp), use(stamp), now;

  run(session,
      {
          "DROP TABLE codex_invocations_seed",
          "PRAGMA secure_delete = OFF",
          "CREATE INDEX codex_invocations_time ON codex_invocations (occurred_ms)",
          // Pages filtered by model (and status) read newest first along this index.
          "CREATE INDEX codex_invocations_model_time ON codex_invocations (model, occurred_ms)",
          std::string(
              "CREATE INDEX codex_invocations_failures ON codex_invocations (occurred_ms) ") +
              "WHERE status <> 'success'",
          rollupTable("invocation_rollup_hourly"),
          rollupTable("invocation_rollup_daily"),
          rollupBackfill("invocation_rollup_hourly", "3600000"),
          rollupBackfill("invocation_rollup_daily", "86400000"),
          R"(CREATE TABLE invocation_updates (
    id INTEGER PRIMARY KEY,
    invocation_id INTEGER NOT NULL,
    changed_ms INTEGER NOT NULL,
    old_status TEXT,
    new_status TEXT,
    old_cost REAL,
    new_cost REAL,
    old_total_tokens INTEGER,
    new_total_tokens INTEGER
))",
          "CREATE INDEX invocation_updates_invocation ON invocation_updates (invocation_id)",
          R"(CREATE TABLE quota_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    quota_key TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    captured_at TEXT NOT NULL,
    fields JSON NOT NULL,
    raw_response JSON,
    created_ms INTEGER NOT NULL
))",
          "CREATE INDEX quota_snapshots_key ON quota_snapshots (source, quota_key, id)",
          "CREATE INDEX quota_snapshots_time ON quota_snapshots (time_ms)",
          R"(CREATE TABLE window_ledger (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    window_ms INTEGER NOT NULL,
    window_at TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    records_seen INTEGER NOT NULL,
    records_emitted INTEGER NOT NULL,
    records_rejected INTEGER NOT NULL,
    gap_suspected INTEGER NOT NULL,
    gap_from_ms INTEGER NOT NULL,
    gap_to_ms INTEGER NOT NULL,
    auth_state TEXT NOT NULL,
    clock_jump INTEGER NOT NULL
))",
          // Few sources: a source filter is checked along the time index. Every index costs a page
          // write per batch, so the ledger and the change sequence keep one each at most.
          "CREATE INDEX window_ledger_time ON window_ledger (window_ms)",
          R"(CREATE TABLE records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    stream TEXT NOT NULL,
    record_key TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    fields JSON NOT NULL,
    raw_response JSON,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    UNIQUE (source, stream, record_key)
))",
          "CREATE INDEX records_stream_time ON records (stream, time_ms)",
          R"(CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind INTEGER NOT NULL,
    source TEXT NOT NULL,
    ref_id INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
))",
          R"(CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID)",
          R"(INSERT INTO meta (name, value)
    VALUES ('invocations_pruned_before_ms', 0), ('changes_pruned_through', 0))",
      });
}

void migrateToSourceRollup(Poco::Data::Session& session) {
  run(session, {R"(CREATE TABLE invocation_rollup_hourly_source (
    bucket_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    count INTEGER NOT NULL,
    success INTEGER NOT NULL,
    cost_nano INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_input_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    PRIMARY KEY (bucket_ms, source)
) WITHOUT ROWID)",
                // From the finer rollup, not the rows: it still holds what retention pruned.
                R"(INSERT INTO invocation_rollup_hourly_source
  SELECT bucket_ms, source, sum(count), sum(CASE WHEN status = 'success' THEN count ELSE 0 END),
         sum(cost_nano), sum(input_tokens), sum(output_tokens), sum(cache_input_tokens),
         sum(reasoning_tokens), sum(total_tokens)
  FROM invocation_rollup_hourly GROUP BY bucket_ms, source)"});
}

}  // namespace

void registerFunctions(Connection& connection) {
  const int rc = sqlite3_create_function_v2(connection.handle(), "gatherd_error_key", 1,
                                            SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                            &errorKeyFunction, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw SqliteError(rc, "cannot register gatherd_error_key");
  const int redact_rc = sqlite3_create_function_v2(connection.handle(), "gatherd_redact_json", 1,
                                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                                   &redactJsonFunction, nullptr, nullptr, nullptr);
  if (redact_rc != SQLITE_OK) throw SqliteError(redact_rc, "cannot register gatherd_redact_json");
}

int schemaVersion(Connection& connection) {
  return static_cast<int>(connection.queryInt("PRAGMA user_version", 0));
}

void migrate(Connection& connection, const std::string& legacy_source, std::int64_t now_ms,
             int target) {
  const int current = schemaVersion(connection);
  if (current > kSchemaVersion) {
    throw std::runtime_error("the database was written by a newer gatherd (schema version " +
                             std::to_string(current) + ", this build knows up to " +
                             std::to_string(kSchemaVersion) +
                             "); upgrade gatherd or point 'path' at another file");
  }
  for (int version = current + 1; version <= target; ++version) {
    Transaction transaction(connection, Transaction::Mode::kImmediate);
    // Re-read inside the write lock: another gatherd may have migrated meanwhile.
    if (schemaVersion(connection) >= version) continue;
    if (version == 1) migrateToSeed(connection.session());
    if (version == 2) migrateToGatherd(connection.session(), legacy_source, now_ms);
    if (version == 3) migrateToSourceRollup(connection.session());
    connection.exec("PRAGMA user_version = " + std::to_string(version));
    transaction.commit();
  }
}

}  // namespace gatherd::plugins::sqlite
