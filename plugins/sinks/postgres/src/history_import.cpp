#include <iterator>

#include "batch_writer.hpp"
#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/lib/storage/flat_fields.hpp"
#include "write_sql.hpp"

namespace gatherd::plugins::postgres {

std::int64_t BatchWriter::importHistory(const sdk::HistoryPage& page) {
  // Claimed outside the transaction, as in write(): the names the sources' rows are kept under.
  for (const auto& item : page.invocations) storedSource(item.source);
  for (const auto& item : page.records) storedSource(item.source);
  for (const auto& item : page.windows) storedSource(item.window.source);
  auto stored = [&](const std::string& source) { return storedSource(source); };
  Transaction transaction(connection_);
  Result inserted(nullptr);
  switch (page.table) {
    case sdk::HistoryTable::kInvocations: {
      if (page.invocations.empty()) return 0;
      Columns columns(22);
      for (const sdk::StoredInvocation& item : page.invocations) {
        auto row = insertRow(pending(item.record));
        for (std::size_t column = 0; column < row.size(); ++column) {
          columns[column].push_back(std::move(row[column]));
        }
        columns[18].emplace_back(stored(item.source));
        columns[19].emplace_back(collector_);
        columns[20].emplace_back(std::to_string(item.created_ms));
        columns[21].emplace_back(std::to_string(item.updated_ms));
      }
      Params params;
      columns.addTo(params);
      // The rollups take exactly the rows this statement inserted.
      inserted = connection_.exec(
          std::string("WITH ins AS (") + kInsertInvocations +
              "SELECT a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, "
              "a17, a18, a19, a20, a21, a22 FROM unnest(" +
              kInsertRowArrays +
              ", $19::text[], $20::text[], $21::bigint[], $22::bigint[]) WITH ORDINALITY AS "
              "u(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, "
              "a19, a20, a21, a22, o) ORDER BY o "
              "ON CONFLICT (source, invoke_id, occurred_at) DO NOTHING RETURNING occurred_ms, "
              "source, model, status, cost_nano, input_tokens, output_tokens, "
              "cache_input_tokens, reasoning_tokens, total_tokens), "
              "d AS (SELECT occurred_ms / 3600000 * 3600000 AS h, source, model, status, "
              "1::bigint AS n, cost_nano AS cost, coalesce(input_tokens, 0) AS i, "
              "coalesce(output_tokens, 0) AS o, coalesce(cache_input_tokens, 0) AS c, "
              "coalesce(reasoning_tokens, 0) AS r, coalesce(total_tokens, 0) AS t FROM ins)" +
              rollupUpserts() + " SELECT count(*) FROM ins",
          params);
      break;
    }
    case sdk::HistoryTable::kQuotaSnapshots: {
      if (page.records.empty()) return 0;
      Columns columns(7);
      for (const sdk::StoredRecord& item : page.records) {
        columns[0].emplace_back(stored(item.source));
        columns[1].emplace_back(item.record.key);
        columns[2].emplace_back(std::to_string(item.record.time_ms));
        columns[3].emplace_back(json::formatIsoUtc(item.record.time_ms));
        columns[4].emplace_back(storage::encodeFields(item.record.fields));
        columns[5].push_back(item.record.raw_json.empty()
                                 ? std::nullopt
                                 : std::optional<std::string>(item.record.raw_json));
        columns[6].emplace_back(std::to_string(item.created_ms));
      }
      Params params;
      columns.addTo(params);
      // A snapshot has no key of its own: one with the same source, quota, time and fields is
      // the same snapshot (found along quota_snapshots_time).
      inserted = connection_.exec(
          "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], "
          "$5::text[], $6::text[], $7::bigint[]) WITH ORDINALITY AS u(source, quota_key, time_ms, "
          "captured_at, fields, raw_response, created_ms, o)), "
          "ins AS (INSERT INTO quota_snapshots (source, quota_key, time_ms, captured_at, fields, "
          "raw_response, created_ms) SELECT source, quota_key, time_ms, "
          "captured_at, fields, raw_response, created_ms FROM u WHERE NOT EXISTS (SELECT 1 FROM "
          "quota_snapshots q WHERE q.time_ms = u.time_ms AND q.source = u.source AND "
          "q.quota_key = u.quota_key AND q.fields = u.fields) ORDER BY o RETURNING 1) "
          "SELECT count(*) FROM ins",
          params);
      break;
    }
    case sdk::HistoryTable::kWindows: {
      if (page.windows.empty()) return 0;
      Columns columns(16);
      for (const sdk::StoredWindow& item : page.windows) {
        const sdk::WindowResult& window = item.window;
        columns[0].emplace_back(stored(window.source));
        columns[1].emplace_back(std::to_string(window.window_ms));
        columns[2].emplace_back(json::formatIsoUtc(window.window_ms));
        columns[3].emplace_back(std::to_string(window.started_ms));
        columns[4].emplace_back(std::to_string(window.finished_ms));
        columns[5].emplace_back(sdk::outcomeName(window.outcome));
        columns[6].emplace_back(window.message);
        columns[7].emplace_back(std::to_string(window.http_status));
        columns[8].emplace_back(std::to_string(window.records_seen));
        columns[9].emplace_back(std::to_string(window.records_emitted));
        columns[10].emplace_back(std::to_string(window.records_rejected));
        columns[11].emplace_back(window.gap_suspected ? "1" : "0");
        columns[12].emplace_back(std::to_string(window.gap_from_ms));
        columns[13].emplace_back(std::to_string(window.gap_to_ms));
        columns[14].emplace_back(sdk::authStateName(window.auth_state));
        columns[15].emplace_back(window.clock_jump ? "1" : "0");
      }
      Params params;
      columns.addTo(params);
      // The same source, window, start, end and outcome is the same ledger entry (found along
      // window_ledger_time).
      inserted = connection_.exec(
          "WITH u AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], "
          "$5::bigint[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], "
          "$11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::text[], "
          "$16::bigint[]) WITH ORDINALITY AS u(source, window_ms, window_at, started_ms, "
          "finished_ms, outcome, message, http_status, records_seen, records_emitted, "
          "records_rejected, gap_suspected, gap_from_ms, gap_to_ms, auth_state, clock_jump, o)), "
          "ins AS (INSERT INTO window_ledger (source, window_ms, window_at, started_ms, "
          "finished_ms, outcome, message, http_status, records_seen, records_emitted, "
          "records_rejected, gap_suspected, gap_from_ms, gap_to_ms, auth_state, clock_jump) "
          "SELECT source, window_ms, window_at, started_ms, finished_ms, outcome, message, "
          "http_status, records_seen, records_emitted, records_rejected, gap_suspected, "
          "gap_from_ms, gap_to_ms, auth_state, clock_jump FROM u WHERE NOT EXISTS (SELECT 1 FROM "
          "window_ledger w WHERE w.window_ms = u.window_ms AND w.source = u.source AND "
          "w.started_ms = u.started_ms AND w.finished_ms = u.finished_ms AND "
          "w.outcome = u.outcome) ORDER BY o RETURNING 1) "
          "SELECT count(*) FROM ins",
          params);
      break;
    }
    case sdk::HistoryTable::kPrunedTotals: {
      if (page.pruned.empty()) return 0;
      Columns columns(11);
      for (const sdk::PrunedTotals& item : page.pruned) {
        columns[0].emplace_back(std::to_string(item.bucket_ms));
        columns[1].emplace_back(stored(item.source));
        columns[2].emplace_back(item.model);
        columns[3].emplace_back(item.status);
        const std::int64_t sums[] = {
            item.count,         item.cost_nano,          item.input_tokens,
            item.output_tokens, item.cache_input_tokens, item.reasoning_tokens,
            item.total_tokens};
        for (std::size_t i = 0; i < std::size(sums); ++i) {
          columns[4 + i].emplace_back(std::to_string(sums[i]));
        }
      }
      Params params;
      columns.addTo(params);
      params.add(page.invocations_pruned_before_ms);
      // A key marked as imported is never added again; the horizon makes edge hours before it
      // answer from the rollups, as the source did.
      inserted = connection_.exec(
          "WITH u AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
          "$5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], "
          "$11::bigint[]) AS u(h, source, model, status, n, cost, i, o, c, r, t)), "
          "marked AS (INSERT INTO imported_pruned_totals SELECT h, source, model, status FROM u "
          "ON CONFLICT DO NOTHING RETURNING bucket_ms, source, model, status), "
          "d AS (SELECT u.* FROM u JOIN marked m ON m.bucket_ms = u.h AND m.source = u.source "
          "AND m.model = u.model AND m.status = u.status)" +
              rollupUpserts() +
              ", horizon AS (UPDATE meta SET value = greatest(value, $12) WHERE name = "
              "'invocations_pruned_before_ms') SELECT count(*) FROM d",
          params);
      break;
    }
    case sdk::HistoryTable::kRecords: {
      if (page.records.empty()) return 0;
      Columns columns(9);
      for (const sdk::StoredRecord& item : page.records) {
        columns[0].emplace_back(stored(item.source));
        columns[1].emplace_back(item.record.stream);
        columns[2].emplace_back(item.record.key);
        columns[3].emplace_back(std::to_string(item.record.time_ms));
        columns[4].emplace_back(json::formatIsoUtc(item.record.time_ms));
        columns[5].emplace_back(storage::encodeFields(item.record.fields));
        columns[6].push_back(item.record.raw_json.empty()
                                 ? std::nullopt
                                 : std::optional<std::string>(item.record.raw_json));
        columns[7].emplace_back(std::to_string(item.created_ms));
        columns[8].emplace_back(std::to_string(item.updated_ms));
      }
      Params params;
      columns.addTo(params);
      inserted = connection_.exec(
          "WITH ins AS (INSERT INTO records (source, stream, record_key, time_ms, occurred_at, "
          "fields, raw_response, created_ms, updated_ms) SELECT s, st, k, t, a, f, raw, c, u "
          "FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], "
          "$7::text[], $8::bigint[], $9::bigint[]) WITH ORDINALITY AS x(s, st, k, t, a, f, raw, "
          "c, u, o) ORDER BY o ON CONFLICT (source, stream, record_key) DO NOTHING RETURNING 1) "
          "SELECT count(*) FROM ins",
          params);
      break;
    }
  }
  transaction.commit();
  return inserted.integer(0, 0);
}

}  // namespace gatherd::plugins::postgres
