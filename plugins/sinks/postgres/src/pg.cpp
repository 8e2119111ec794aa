#include "pg.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace gatherd::plugins::postgres {

bool PgError::transient() const noexcept {
  if (connection_lost_) return true;
  if (sqlstate_.size() != 5) return false;
  const std::string_view state = sqlstate_;
  // 08: connection exception; 40001 serialization failure; 40P01 deadlock; 53: insufficient
  // resources (disk full, too many connections); 57P0x: admin shutdown, crash shutdown, cannot
  // connect now (starting up); 55P03 lock not available; 57014 query cancelled (timeout).
  return state.substr(0, 2) == "08" || state == "40001" || state == "40P01" ||
         state.substr(0, 2) == "53" || state.substr(0, 4) == "57P0" || state == "55P03" ||
         state == "57014";
}

Params& Params::add(std::optional<std::string> value) {
  values_.push_back(std::move(value));
  rebuild();
  return *this;
}

Params& Params::add(std::optional<std::int64_t> value) {
  if (!value) return add(std::optional<std::string>());
  return add(*value);
}

Params& Params::add(std::optional<double> value) {
  if (!value || !std::isfinite(*value)) return add(std::optional<std::string>());
  return add(std::optional<std::string>(formatDouble(*value)));
}

void Params::rebuild() {
  // Pointers into values_ are invalidated when it grows: rebuild them all.
  pointers_.clear();
  for (const auto& value : values_) pointers_.push_back(value ? value->c_str() : nullptr);
}

std::int64_t Result::integer(int row, int column, std::int64_t fallback) const {
  if (row >= rows() || isNull(row, column)) return fallback;
  const std::string_view text = view(row, column);
  std::int64_t value = fallback;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc()) {
    // numeric sums come back as "123" or "123.000"; a fraction means a non-integer.
    return static_cast<std::int64_t>(std::llround(std::strtod(std::string(text).c_str(), nullptr)));
  }
  (void)end;
  return value;
}

std::optional<std::int64_t> Result::optInteger(int row, int column) const {
  if (isNull(row, column)) return std::nullopt;
  return integer(row, column);
}

double Result::real(int row, int column) const {
  if (isNull(row, column)) return 0;
  return std::strtod(PQgetvalue(result_.get(), row, column), nullptr);
}

std::optional<double> Result::optReal(int row, int column) const {
  if (isNull(row, column)) return std::nullopt;
  return real(row, column);
}

std::int64_t Result::affected() const {
  const char* text = PQcmdTuples(result_.get());
  return text == nullptr || *text == '\0' ? 0 : std::strtoll(text, nullptr, 10);
}

Connection::Connection(std::string conninfo, std::string session_sql)
    : conninfo_(std::move(conninfo)), session_sql_(std::move(session_sql)) {
  connect();
}

Connection::~Connection() {
  if (connection_ != nullptr) PQfinish(connection_);
}

void Connection::connect() {
  if (connection_ != nullptr) {
    PQfinish(connection_);
    connection_ = nullptr;
  }
  prepared_.clear();
  connection_ = PQconnectdb(conninfo_.c_str());
  if (connection_ == nullptr) throw PgError("out of memory in PQconnectdb", "", true);
  if (PQstatus(connection_) != CONNECTION_OK) {
    std::string message = PQerrorMessage(connection_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    PQfinish(connection_);
    connection_ = nullptr;
    throw PgError("cannot connect to PostgreSQL: " + message, "", true);
  }
  // Server notices (and the FATAL of a shutdown) surface as PgError messages, not on stderr.
  PQsetNoticeProcessor(
      connection_, [](void*, const char*) {}, nullptr);
  // Times are integers (ms) everywhere; keep the session predictable regardless of server
  // defaults.
  const std::string setup =
      "SET client_min_messages = warning; SET TIME ZONE 'UTC'; SET statement_timeout = '60s'; " +
      session_sql_;
  PGresult* result = PQexec(connection_, setup.c_str());
  if (result == nullptr || PQresultStatus(result) != PGRES_COMMAND_OK)
    fail("session setup", result);
  PQclear(result);
}

void Connection::ensure() {
  if (connection_ == nullptr || PQstatus(connection_) != CONNECTION_OK) connect();
}

void Connection::reset() {
  if (connection_ != nullptr) {
    PQfinish(connection_);
    connection_ = nullptr;
  }
}

bool Connection::inTransaction() const {
  return connection_ != nullptr && PQtransactionStatus(connection_) != PQTRANS_IDLE;
}

void Connection::fail(const char* what, PGresult* result) {
  std::string sqlstate;
  std::string message;
  if (result != nullptr) {
    if (const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE)) sqlstate = state;
    if (const char* text = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)) message = text;
  }
  if (message.empty() && connection_ != nullptr) message = PQerrorMessage(connection_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  const bool lost = connection_ == nullptr || PQstatus(connection_) != CONNECTION_OK;
  if (result != nullptr) PQclear(result);
  if (lost) reset();
  throw PgError(std::string(what) + ": " + (message.empty() ? "unknown error" : message) +
                    (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")"),
                sqlstate, lost);
}

Result Connection::exec(const std::string& sql, const Params& params) {
  if (connection_ == nullptr) connect();
  PGresult* result = PQexecParams(connection_, sql.c_str(), params.size(), nullptr,
                                  params.pointers(), nullptr, nullptr, 0);
  if (result == nullptr) fail("query", nullptr);
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail("query", result);
  return Result(result);
}

void Connection::run(const std::string& sql) {
  if (connection_ == nullptr) connect();
  PGresult* result = PQexec(connection_, sql.c_str());
  if (result == nullptr) fail("statement", nullptr);
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail("statement", result);
  PQclear(result);
}

std::vector<Result> Connection::pipeline(const std::vector<Statement>& statements) {
  if (connection_ == nullptr) connect();
  for (const Statement& statement : statements) {
    if (statement.name.empty() ||
        std::find(prepared_.begin(), prepared_.end(), statement.name) != prepared_.end()) {
      continue;
    }
    PGresult* result = PQprepare(connection_, statement.name.c_str(), statement.sql.c_str(),
                                 statement.params.size(), nullptr);
    if (result == nullptr || PQresultStatus(result) != PGRES_COMMAND_OK) fail("prepare", result);
    PQclear(result);
    prepared_.push_back(statement.name);
  }
  if (PQenterPipelineMode(connection_) != 1) fail("pipeline", nullptr);
  for (const Statement& statement : statements) {
    const int sent =
        statement.name.empty()
            ? PQsendQueryParams(connection_, statement.sql.c_str(), statement.params.size(),
                                nullptr, statement.params.pointers(), nullptr, nullptr, 0)
            : PQsendQueryPrepared(connection_, statement.name.c_str(), statement.params.size(),
                                  statement.params.pointers(), nullptr, nullptr, 0);
    if (sent != 1) {
      reset();  // a half-sent pipeline cannot be taken back: start over on a new connection
      throw PgError(std::string("pipeline: ") + "cannot send a statement", "", true);
    }
  }
  if (PQpipelineSync(connection_) != 1) {
    reset();
    throw PgError("pipeline: cannot send the sync", "", true);
  }
  std::vector<Result> results;
  results.reserve(statements.size());
  PGresult* failed = nullptr;
  for (std::size_t i = 0; i < statements.size(); ++i) {
    PGresult* result = PQgetResult(connection_);
    if (result == nullptr || PQstatus(connection_) != CONNECTION_OK) {
      if (failed != nullptr) PQclear(failed);
      fail("query", result);  // the connection is gone: fail() drops it
    }
    const ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      results.emplace_back(result);
    } else if (status == PGRES_FATAL_ERROR && failed == nullptr) {
      failed = result;
    } else {
      PQclear(result);  // PGRES_PIPELINE_ABORTED: skipped after the failure
    }
    // Each statement's results end with a null.
    while (PGresult* extra = PQgetResult(connection_)) PQclear(extra);
  }
  PGresult* sync = PQgetResult(connection_);
  const bool synced = sync != nullptr && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  if (sync != nullptr) PQclear(sync);
  if (!synced || PQexitPipelineMode(connection_) != 1) {
    if (failed != nullptr) PQclear(failed);
    reset();  // out of step with the server: a new connection is the clean state
    throw PgError("pipeline: the server's answers ended early", "", true);
  }
  if (failed != nullptr) {
    if (PQtransactionStatus(connection_) != PQTRANS_IDLE) {
      PGresult* rollback = PQexec(connection_, "ROLLBACK");
      if (rollback != nullptr) PQclear(rollback);
    }
    fail("query", failed);
  }
  return results;
}

std::int64_t Connection::queryInt(const std::string& sql, const Params& params,
                                  std::int64_t fallback) {
  Result result = exec(sql, params);
  return result.integer(0, 0, fallback);
}

Transaction::Transaction(Connection& connection, const char* begin) : connection_(connection) {
  connection_.run(begin);
}

Transaction::~Transaction() {
  if (done_) return;
  try {
    connection_.run("ROLLBACK");
  } catch (const PgError&) {
    // The connection is gone; the server rolled the transaction back already.
    connection_.reset();
  }
}

void Transaction::commit() {
  done_ = true;
  connection_.run("COMMIT");
}

namespace {
void appendQuoted(std::string& out, const std::string& value) {
  out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}
}  // namespace

std::string textArray(const std::vector<std::optional<std::string>>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    if (values[i]) {
      appendQuoted(out, *values[i]);
    } else {
      out += "NULL";
    }
  }
  out.push_back('}');
  return out;
}

std::string intArray(const std::vector<std::optional<std::int64_t>>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += values[i] ? std::to_string(*values[i]) : "NULL";
  }
  out.push_back('}');
  return out;
}

std::string formatDouble(double value) {
  char buffer[32];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (error != std::errc()) return "0";
  return std::string(buffer, end);
}

std::string quoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string maskConninfo(std::string_view conninfo) {
  std::string out(conninfo);
  // URI form: scheme://user:password@host
  if (const auto scheme = out.find("://"); scheme != std::string::npos) {
    const auto at = out.find('@', scheme + 3);
    const auto colon = out.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // key=value form and URI query parameters: password=...
  for (std::size_t at = out.find("password="); at != std::string::npos;
       at = out.find("password=", at + 1)) {
    const std::size_t begin = at + 9;
    std::size_t end = begin;
    if (end < out.size() && out[end] == '\'') {
      ++end;
      while (end < out.size() && out[end] != '\'') end += out[end] == '\\' ? 2 : 1;
      if (end < out.size()) ++end;
    } else {
      while (end < out.size() && out[end] != ' ' && out[end] != '&') ++end;
    }
    out.replace(begin, std::min(end, out.size()) - begin, "***");
  }
  return out;
}

}  // namespace gatherd::plugins::postgres
