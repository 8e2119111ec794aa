#include "migrations.hpp"

#include <stdexcept>
#include <vector>

#include <Poco/Data/Session.h>

#include "field_codec.hpp"
#include "invocation_columns.hpp"

namespace gatherd::plugins::sqlite {
namespace {

using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

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

// codex_invocations as schema 2 made it (payload and created_at stored) or as schema 4 makes it
// (both generated, the other well-known fields typed, extra for the rest).
std::string invocationTable(int version) {
  const std::string stored_or_generated = version >= 4 ? "payload JSON GENERATED ALWAYS AS (" +
                                                             payloadColumnSql() +
                                                             R"() VIRTUAL,
    raw_response JSON,
    created_at TEXT GENERATED ALWAYS AS (datetime(created_ms / 1000, 'unixepoch')) VIRTUAL,)"
                                                       : R"(payload JSON,
    raw_response JSON,
    created_at TEXT NOT NULL DEFAULT (datetime('now')),)";
  const std::string schema4_columns = version >= 4 ? R"(
    request_time TEXT,
    service TEXT,
    service_tier TEXT,
    cache_creation_tokens INTEGER,
    cache_read_tokens INTEGER,
    extra JSON,)"
                                                   : "";
  return R"(CREATE TABLE codex_invocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    invoke_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    )" + stored_or_generated +
         R"(
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
    updated_ms INTEGER NOT NULL,)" +
         schema4_columns + R"(
    UNIQUE (source, invoke_id, occurred_at)
))";
}

std::vector<std::string> invocationIndexes() {
  return {"CREATE INDEX codex_invocations_time ON codex_invocations (occurred_ms)",
          // Pages filtered by model (and status) read newest first along this index.
          "CREATE INDEX codex_invocations_model_time ON codex_invocations (model, occurred_ms)",
          "CREATE INDEX codex_invocations_failures ON codex_invocations (occurred_ms) "
          "WHERE status <> 'success'"};
}

// The window ledger; from schema 4 on window_at is generated from window_ms (formatIsoUtc's
// spelling: milliseconds only when there are some).
std::string windowLedgerTable(bool generated_time) {
  const std::string window_at =
      generated_time
          ? "window_at TEXT GENERATED ALWAYS AS (strftime('%Y-%m-%dT%H:%M:%S', window_ms / 1000, "
            "'unixepoch') || CASE WHEN window_ms % 1000 = 0 THEN 'Z' ELSE printf('.%03dZ', "
            "window_ms % 1000) END) VIRTUAL"
          : "window_at TEXT NOT NULL";
  return R"(CREATE TABLE window_ledger (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    window_ms INTEGER NOT NULL,
    )" + window_at +
         R"(,
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
))";
}

// Few sources: a source filter is checked along the time index. Every index costs a page write
// per batch, so the ledger and the change sequence keep one each at most.
constexpr const char* kWindowLedgerIndex =
    "CREATE INDEX window_ledger_time ON window_ledger (window_ms)";

void migrateToGatherd(Poco::Data::Session& session, const std::string& legacy_source,
                      std::int64_t now_ms) {
  // The seed's table is dropped below: zero its pages, so no raw secret stays in the file.
  run(session,
      {"PRAGMA secure_delete = ON",
       "ALTER TABLE codex_invocations RENAME TO codex_invocations_seed", invocationTable(2)});

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

  run(session, invocationIndexes());
  run(session,
      {
          "DROP TABLE codex_invocations_seed",
          "PRAGMA secure_delete = OFF",
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
          windowLedgerTable(false),
          kWindowLedgerIndex,
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

// Schema 4 stores each invocation once: payload and created_at become generated columns, the
// fields the typed columns hold leave the JSON (extra keeps the rest), raw_response keeps only
// the upstream members no field holds, and the ledger's window_at is generated from window_ms.
// About 1,210 bytes per invocation became ~400 (bench/store).
void migrateToCompactRows(Connection& connection) {
  const std::int64_t sequence =
      connection.queryInt("SELECT seq FROM sqlite_sequence WHERE name = 'codex_invocations'", 0);
  connection.exec("ALTER TABLE codex_invocations RENAME TO codex_invocations_v3");
  connection.exec(invocationTable(4));
  // Empty, so that the copy reads kInvocationColumnList from both tables alike.
  for (const char* column : {"request_time TEXT", "service TEXT", "service_tier TEXT",
                             "cache_creation_tokens INTEGER", "cache_read_tokens INTEGER"}) {
    connection.exec(std::string("ALTER TABLE codex_invocations_v3 ADD COLUMN ") + column);
  }
  {
    // Not cached: they name a table dropped below.
    Statement rows(connection.handle(),
                   std::string("SELECT id, payload, raw_response, source, occurred_ms, error_key, "
                               "created_ms, updated_ms, ") +
                       kInvocationColumnList + " FROM codex_invocations_v3 ORDER BY id");
    Statement insert(
        connection.handle(),
        "INSERT INTO codex_invocations (id, invoke_id, occurred_at, raw_response, source, "
        "occurred_ms, model, status, error_message, error_key, input_tokens, output_tokens, "
        "cache_input_tokens, reasoning_tokens, total_tokens, cost, response_time_ms, "
        "first_byte_time_ms, created_ms, updated_ms, extra, request_time, service, service_tier, "
        "cache_creation_tokens, cache_read_tokens) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
        "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)");
    while (rows.step()) {
      InvocationColumns columns = readInvocationColumns(rows, 8);
      // As the store read these rows before: the payload first, the columns filling in.
      sdk::Fields fields = decodeFields(connection, rows.viewText(1));
      addColumnFields(columns, fields);
      setSchema4Columns(fields, columns);
      const std::optional<std::string> raw =
          rows.isNull(2) ? std::nullopt : rawResidue(connection, rows.viewText(2), fields);
      insert.start()
          .bind(1, rows.getInt(0))
          .bind(2, columns.invoke_id)
          .bind(3, columns.occurred_at);
      insert.bind(4, raw).bind(5, rows.viewText(3)).bind(6, rows.getInt(4));
      insert.bind(7, columns.model).bind(8, columns.status).bind(9, columns.error_message);
      if (rows.isNull(5)) {
        insert.bindNull(10);
      } else {
        insert.bind(10, rows.viewText(5));
      }
      for (std::size_t i = 0; i < columns.tokens.size(); ++i) {
        insert.bind(static_cast<int>(11 + i), columns.tokens[i]);
      }
      insert.bind(16, columns.cost).bind(17, columns.response_time_ms);
      insert.bind(18, columns.first_byte_time_ms).bind(19, rows.getInt(6));
      // A seed-era payload that is not a JSON object stays as it was (the fields are the same).
      const bool object_payload = rows.isNull(1) || isJsonObject(connection, rows.viewText(1));
      insert.bind(20, rows.getInt(7));
      if (object_payload) {
        insert.bind(21, extraFields(fields, columns));
      } else {
        insert.bind(21, rows.viewText(1));
      }
      insert.bind(22, columns.request_time).bind(23, columns.service);
      insert.bind(24, columns.service_tier).bind(25, columns.cache_creation_tokens);
      insert.bind(26, columns.cache_read_tokens);
      insert.run();
    }
  }
  connection.exec("DROP TABLE codex_invocations_v3");
  for (const std::string& sql : invocationIndexes()) connection.exec(sql);
  // Ids deleted at the top must not come back: changes and updates refer to them.
  connection
      .cached("UPDATE sqlite_sequence SET seq = max(seq, ?1) WHERE name = 'codex_invocations'")
      .bind(1, sequence)
      .run();

  connection.exec("ALTER TABLE window_ledger RENAME TO window_ledger_v3");
  connection.exec(windowLedgerTable(true));
  connection.exec(
      "INSERT INTO window_ledger (id, source, window_ms, started_ms, finished_ms, outcome, "
      "message, http_status, records_seen, records_emitted, records_rejected, gap_suspected, "
      "gap_from_ms, gap_to_ms, auth_state, clock_jump) SELECT id, source, window_ms, started_ms, "
      "finished_ms, outcome, message, http_status, records_seen, records_emitted, "
      "records_rejected, gap_suspected, gap_from_ms, gap_to_ms, auth_state, clock_jump FROM "
      "window_ledger_v3");
  connection.exec("DROP TABLE window_ledger_v3");
  connection.exec(kWindowLedgerIndex);
}

}  // namespace

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
    if (version == 4) migrateToCompactRows(connection);
    connection.exec("PRAGMA user_version = " + std::to_string(version));
    transaction.commit();
  }
}

bool applyIncrementalVacuum(Connection& connection) {
  if (connection.queryInt("PRAGMA auto_vacuum", 0) == kIncrementalVacuum) return false;
  // A file made before schema 4: retention can give pages back to the file system only after
  // this one rebuild, which also returns the space the schema 4 upgrade freed.
  connection.exec("PRAGMA auto_vacuum = INCREMENTAL");
  connection.exec("VACUUM");
  return true;
}

}  // namespace gatherd::plugins::sqlite
