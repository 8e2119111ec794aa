#pragma once
// A thin RAII layer over libpq: connections, results, text parameters and SQLSTATE-classified
// errors. Nothing here is thread-safe; one connection belongs to one thread at a time.

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <libpq-fe.h>

namespace gatherd::plugins::postgres {

/// A failed libpq call. `sqlstate` is empty for connection-level failures.
class PgError : public std::runtime_error {
 public:
  PgError(const std::string& message, std::string sqlstate, bool connection_lost)
      : std::runtime_error(message),
        sqlstate_(std::move(sqlstate)),
        connection_lost_(connection_lost) {}
  const std::string& sqlstate() const noexcept { return sqlstate_; }
  bool connectionLost() const noexcept { return connection_lost_; }
  /// Worth retrying: the server is unreachable, restarting, overloaded, or the transaction lost
  /// a serialization / deadlock race.
  bool transient() const noexcept;

 private:
  std::string sqlstate_;
  bool connection_lost_;
};

/// Text-format query parameters; nullopt is SQL NULL.
class Params {
 public:
  Params() = default;
  // pointers_ points into values_: a copy or move points into its own.
  Params(const Params& other) : values_(other.values_) { rebuild(); }
  // Not noexcept: rebuilding the pointers allocates.
  Params(Params&& other)  // NOLINT(performance-noexcept-move-constructor)
      : values_(std::move(other.values_)) {
    rebuild();
  }
  Params& operator=(const Params& other) {
    values_ = other.values_;
    rebuild();
    return *this;
  }
  Params& operator=(Params&& other) {  // NOLINT(performance-noexcept-move-constructor)
    values_ = std::move(other.values_);
    rebuild();
    return *this;
  }
  Params& add(std::optional<std::string> value);
  Params& add(const char* value) { return add(std::optional<std::string>(value)); }
  Params& add(std::int64_t value) { return add(std::optional<std::string>(std::to_string(value))); }
  Params& add(int value) { return add(static_cast<std::int64_t>(value)); }
  Params& add(std::optional<std::int64_t> value);
  Params& add(std::optional<double> value);
  Params& add(double value) { return add(std::optional<double>(value)); }
  int size() const { return static_cast<int>(values_.size()); }
  const char* const* pointers() const { return pointers_.data(); }

 private:
  std::vector<std::optional<std::string>> values_;
  std::vector<const char*> pointers_;
  void rebuild();
};

/// A query result (owned PGresult).
class Result {
 public:
  explicit Result(PGresult* result) : result_(result, &PQclear) {}
  int rows() const { return PQntuples(result_.get()); }
  bool isNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string_view view(int row, int column) const {
    return {PQgetvalue(result_.get(), row, column),
            static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
  }
  std::string text(int row, int column) const { return std::string(view(row, column)); }
  std::optional<std::string> optText(int row, int column) const {
    if (isNull(row, column)) return std::nullopt;
    return text(row, column);
  }
  std::int64_t integer(int row, int column, std::int64_t fallback = 0) const;
  std::optional<std::int64_t> optInteger(int row, int column) const;
  double real(int row, int column) const;
  std::optional<double> optReal(int row, int column) const;
  /// Rows changed by an INSERT/UPDATE/DELETE.
  std::int64_t affected() const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

/// One statement of Connection::pipeline(). With a `name`, it is prepared once per connection
/// and then only executed: the server parses and plans it once, not at every batch.
struct Statement {
  std::string sql;
  Params params;
  std::string name;
};

/// One libpq connection. Reconnects on the next call after the server went away.
class Connection {
 public:
  /// Connects now; throws PgError when the server cannot be reached.
  /// `session_sql` runs after every (re)connect, e.g. SET search_path.
  explicit Connection(std::string conninfo, std::string session_sql = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs `sql` with `params`; throws PgError. Reconnects first when the connection was lost
  /// (outside a transaction only: inside one the error surfaces and the caller retries).
  Result exec(const std::string& sql, const Params& params = {});
  /// Runs one or more statements without parameters.
  void run(const std::string& sql);
  /// Sends every statement at once (libpq's pipeline mode) and waits once for all of them: one
  /// round trip instead of one per statement. The server runs them in order and skips the rest
  /// after one failed. Returns their results in order; throws PgError for the first that failed,
  /// after rolling back a transaction the statements left open.
  std::vector<Result> pipeline(const std::vector<Statement>& statements);
  /// One int64 from the first row/column, or `fallback` when there is no row or it is NULL.
  std::int64_t queryInt(const std::string& sql, const Params& params = {},
                        std::int64_t fallback = 0);
  bool inTransaction() const;
  /// Drops the server connection; the next call reconnects.
  void reset();
  /// Ensures a live connection (reconnects if needed); throws PgError.
  void ensure();
  PGconn* handle() { return connection_; }

 private:
  void connect();
  [[noreturn]] void fail(const char* what, PGresult* result);

  std::string conninfo_;
  std::string session_sql_;
  PGconn* connection_ = nullptr;
  std::vector<std::string> prepared_;  // names prepared on this server connection
};

/// BEGIN on construction, ROLLBACK on destruction unless commit() ran.
class Transaction {
 public:
  explicit Transaction(Connection& connection, const char* begin = "BEGIN");
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& connection_;
  bool done_ = false;
};

/// A PostgreSQL array literal ({"a","b",NULL}) of text values, for unnest($n::text[]).
std::string textArray(const std::vector<std::optional<std::string>>& values);
/// The same for integers.
std::string intArray(const std::vector<std::optional<std::int64_t>>& values);
/// A double in the shortest text that reads back to the same value.
std::string formatDouble(double value);
/// `name` quoted as an SQL identifier.
std::string quoteIdentifier(std::string_view name);
/// The conninfo with every password value replaced by ***, for log lines.
std::string maskConninfo(std::string_view conninfo);

}  // namespace gatherd::plugins::postgres
