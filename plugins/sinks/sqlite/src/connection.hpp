#pragma once
// A SQLite connection opened through Poco::Data::SQLite, with prepared statements on the raw
// handle for the hot paths. One Connection is used by one thread at a time.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <Poco/Data/Session.h>

struct sqlite3;
struct sqlite3_stmt;

namespace gatherd::plugins::sqlite {

/// A failed SQLite call; `code()` is the primary result code (SQLITE_BUSY, ...).
class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const noexcept { return code_; }
  /// Busy, locked, full disk, I/O: worth retrying later.
  bool transient() const noexcept;

 private:
  int code_;
};

/// A prepared statement. Bind indexes are 1-based, column indexes 0-based.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  /// Resets the statement and clears its bindings; call before binding a new execution.
  Statement& start();
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const std::string& text) {
    return bind(index, std::string_view(text));
  }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bindNull(int index);
  template <class T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bindNull(index);
  }
  /// Steps once: true when a row is available, false when done. Throws SqliteError.
  bool step();
  /// Runs to completion, ignoring rows.
  void run();

  bool isNull(int column) const;
  std::int64_t getInt(int column) const;
  double getDouble(int column) const;
  std::string getText(int column) const;
  std::string_view viewText(int column) const;
  std::optional<std::int64_t> optInt(int column) const;
  std::optional<double> optDouble(int column) const;
  /// SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB or SQLITE_NULL.
  int type(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
};

class Connection {
 public:
  /// Opens (creating if needed) `path`; throws SqliteError or Poco::Exception.
  Connection(const std::string& path, std::int64_t busy_timeout_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* handle() const noexcept { return db_; }
  Poco::Data::Session& session() noexcept { return session_; }
  /// Runs one or more statements without results.
  void exec(const std::string& sql);
  /// A statement prepared once per connection and reused.
  Statement& cached(const std::string& sql);
  /// Resets every statement still stepping, so no implicit read transaction stays open (an
  /// open one would keep WAL checkpoints from completing).
  void resetStatements();
  std::int64_t lastInsertId() const;
  int changes() const;
  /// The single integer result of `sql` (e.g. a PRAGMA), or `fallback` when no row.
  std::int64_t queryInt(const std::string& sql, std::int64_t fallback = 0);

 private:
  Poco::Data::Session session_;
  sqlite3* db_;
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> statements_;
};

/// BEGIN ... COMMIT, rolled back by the destructor unless committed.
class Transaction {
 public:
  enum class Mode { kDeferred, kImmediate };
  Transaction(Connection& connection, Mode mode);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& connection_;
  bool open_ = true;
};

}  // namespace gatherd::plugins::sqlite
