#include "write_sql.hpp"

namespace gatherd::plugins::postgres {

const char* const kInsertInvocations =
    "INSERT INTO codex_invocations (invoke_id, occurred_at, payload, raw_response, "
    "occurred_ms, model, status, error_message, error_key, input_tokens, output_tokens, "
    "cache_input_tokens, reasoning_tokens, total_tokens, cost, cost_nano, response_time_ms, "
    "first_byte_time_ms, source, collector, created_ms, updated_ms) ";
const char* const kInsertRowArrays =
    "$1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], "
    "$8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], "
    "$14::bigint[], $15::float8[], $16::bigint[], $17::bigint[], $18::bigint[]";

std::string rollupUpserts() {
  const char* const kUpdate =
      " DO UPDATE SET count = r.count + excluded.count, cost_nano = r.cost_nano + "
      "excluded.cost_nano, input_tokens = r.input_tokens + excluded.input_tokens, "
      "output_tokens = r.output_tokens + excluded.output_tokens, cache_input_tokens = "
      "r.cache_input_tokens + excluded.cache_input_tokens, reasoning_tokens = "
      "r.reasoning_tokens + excluded.reasoning_tokens, total_tokens = r.total_tokens + "
      "excluded.total_tokens";
  const std::string sums =
      "sum(n), sum(cost), sum(i), sum(o), sum(c), sum(r), sum(t) FROM d GROUP BY 1, 2, 3, 4 "
      "ORDER BY 1, 2, 3, 4 ON CONFLICT (bucket_ms, source, model, status)";
  return std::string(
             ", hourly AS (INSERT INTO invocation_rollup_hourly AS r SELECT h, source, "
             "model, status, ") +
         sums + kUpdate +
         "), daily AS (INSERT INTO invocation_rollup_daily AS r SELECT h / 86400000 * "
         "86400000, source, model, status, " +
         sums + kUpdate +
         "), per_source AS (INSERT INTO invocation_rollup_hourly_source AS r SELECT h, source, "
         "sum(n), sum(CASE WHEN status = 'success' THEN n ELSE 0 END), sum(cost), sum(i), "
         "sum(o), sum(c), sum(r), sum(t) FROM d GROUP BY 1, 2 ORDER BY 1, 2 ON CONFLICT "
         "(bucket_ms, source) DO UPDATE SET count = r.count + excluded.count, success = "
         "r.success + excluded.success, cost_nano = r.cost_nano + excluded.cost_nano, "
         "input_tokens = r.input_tokens + excluded.input_tokens, output_tokens = "
         "r.output_tokens + excluded.output_tokens, cache_input_tokens = r.cache_input_tokens + "
         "excluded.cache_input_tokens, reasoning_tokens = r.reasoning_tokens + "
         "excluded.reasoning_tokens, total_tokens = r.total_tokens + excluded.total_tokens)";
}

}  // namespace gatherd::plugins::postgres
