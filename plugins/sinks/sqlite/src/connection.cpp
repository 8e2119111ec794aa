#include "connection.hpp"

#include <mutex>

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <sqlite3.h>

namespace gatherd::plugins::sqlite {
namespace {

[[noreturn]] void fail(sqlite3* db, int code, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  throw SqliteError(code & 0xff, message);
}

Poco::Data::Session openSession(const std::string& path) {
  static std::once_flag registered;
  std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });
  return Poco::Data::Session(Poco::Data::SQLite::Connector::KEY, path);
}

}  // namespace

bool SqliteError::transient() const noexcept {
  return code_ == SQLITE_BUSY || code_ == SQLITE_LOCKED || code_ == SQLITE_FULL ||
         code_ == SQLITE_IOERR || code_ == SQLITE_CANTOPEN || code_ == SQLITE_NOMEM ||
         code_ == SQLITE_PROTOCOL;
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &statement_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(statement_);
    fail(db, rc, "prepare '" + std::string(sql.substr(0, 60)) + "'");
  }
}

Statement::~Statement() {
  sqlite3_finalize(statement_);
}

Statement& Statement::start() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(statement_, index, value);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(statement_, index, value);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::bindNull(int index) {
  sqlite3_bind_null(statement_, index);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const std::string sql = sqlite3_sql(statement_) != nullptr ? sqlite3_sql(statement_) : "";
  sqlite3_reset(statement_);
  fail(db_, rc, "step '" + sql.substr(0, 60) + "'");
}

void Statement::run() {
  while (step()) {
  }
}

bool Statement::isNull(int column) const {
  return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}
std::int64_t Statement::getInt(int column) const {
  return sqlite3_column_int64(statement_, column);
}
double Statement::getDouble(int column) const {
  return sqlite3_column_double(statement_, column);
}
std::string Statement::getText(int column) const {
  return std::string(viewText(column));
}
std::string_view Statement::viewText(int column) const {
  const auto* text = sqlite3_column_text(statement_, column);
  if (text == nullptr) return {};
  return std::string_view(reinterpret_cast<const char*>(text),
                          static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
}
std::optional<std::int64_t> Statement::optInt(int column) const {
  if (isNull(column)) return std::nullopt;
  return getInt(column);
}
std::optional<double> Statement::optDouble(int column) const {
  if (isNull(column)) return std::nullopt;
  return getDouble(column);
}
int Statement::type(int column) const {
  return sqlite3_column_type(statement_, column);
}

Connection::Connection(const std::string& path, std::int64_t busy_timeout_ms)
    : session_(openSession(path)), db_(Poco::Data::SQLite::Utility::dbHandle(session_)) {
  // Poco sets the busy timeout from the login timeout (whole seconds, 60 by default); a write
  // must give up quickly instead so that the core keeps the batch and retries.
  sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout_ms));
  sqlite3_extended_result_codes(db_, 0);
}

Connection::~Connection() {
  statements_.clear();
  try {
    session_.close();
  } catch (...) {
    // Closing only fails if statements are still open; nothing can be done at this point.
  }
}

void Connection::exec(const std::string& sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    throw SqliteError(rc & 0xff, message + " (in '" + sql.substr(0, 60) + "')");
  }
}

Statement& Connection::cached(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    it = statements_.emplace(sql, std::make_unique<Statement>(db_, sql)).first;
  }
  return it->second->start();
}

void Connection::resetStatements() {
  for (sqlite3_stmt* statement = sqlite3_next_stmt(db_, nullptr); statement != nullptr;
       statement = sqlite3_next_stmt(db_, statement)) {
    if (sqlite3_stmt_busy(statement) != 0) sqlite3_reset(statement);
  }
}

std::int64_t Connection::lastInsertId() const {
  return sqlite3_last_insert_rowid(db_);
}
int Connection::changes() const {
  return sqlite3_changes(db_);
}

std::int64_t Connection::queryInt(const std::string& sql, std::int64_t fallback) {
  Statement statement(db_, sql);
  return statement.step() ? statement.getInt(0) : fallback;
}

Transaction::Transaction(Connection& connection, Mode mode) : connection_(connection) {
  connection_.exec(mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN");
}

Transaction::~Transaction() {
  if (!open_) return;
  try {
    connection_.resetStatements();
    connection_.exec("ROLLBACK");
  } catch (...) {
    // A failed COMMIT or I/O error may already have rolled back; the state is clean either way.
  }
}

void Transaction::commit() {
  connection_.resetStatements();
  connection_.exec("COMMIT");
  open_ = false;
}

}  // namespace gatherd::plugins::sqlite
