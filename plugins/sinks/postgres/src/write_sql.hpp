#pragma once
// SQL pieces the write path (write()) and the history import (importHistory()) share: column
// arrays for multi-row statements, the invocation insert, and the rollup upserts.

#include <optional>
#include <string>
#include <vector>

#include "pg.hpp"

namespace gatherd::plugins::postgres {

/// Column arrays for one multi-row statement.
class Columns {
 public:
  explicit Columns(std::size_t count) : columns_(count) {}
  std::vector<std::optional<std::string>>& operator[](std::size_t i) { return columns_[i]; }
  /// Values in the first column.
  std::size_t rows() const { return columns_.empty() ? 0 : columns_.front().size(); }
  void addTo(Params& params) const {
    for (const auto& column : columns_) params.add(textArray(column));
  }

 private:
  std::vector<std::vector<std::optional<std::string>>> columns_;
};

/// "INSERT INTO codex_invocations (...22 columns...) ": BatchWriter::insertRow()'s 18, then
/// source, collector, created_ms, updated_ms.
extern const char* const kInsertInvocations;
/// The 18 columns of BatchWriter::insertRow() as typed arrays $1 .. $18, for unnest().
extern const char* const kInsertRowArrays;

/// The rollup upserts of the rows of CTE d(h, source, model, status, n, cost, i, o, c, r, t),
/// as CTEs hourly, daily and per_source (each after ", "). Rows are grouped (an upsert may touch
/// a key once) and ordered by key, so concurrent writers lock them in the same order and cannot
/// deadlock.
std::string rollupUpserts();

}  // namespace gatherd::plugins::postgres
