#include "sqlite_sink.hpp"

#include <cerrno>
#include <system_error>

#include <Poco/Exception.h>
#include <sqlite3.h>

#include "batch_writer.hpp"
#include "connection.hpp"
#include "migrations.hpp"
#include "retention.hpp"
#include "sqlite_store.hpp"
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gatherd::plugins::sqlite {
namespace {

std::string errnoText() {
  return std::error_code(errno, std::generic_category()).message();
}

/// Why the database file or its WAL cannot be written (the kernel refuses write access: EPERM
/// for an immutable file, EROFS on a read-only mount, EACCES), empty when both can be or are
/// missing. SQLite reports a refused write() only as "disk I/O error" and keeps no errno for it
/// (sqlite3_system_errno is 0 after the failed COMMIT), so the sink asks the file system.
/// access(), not open(): closing any descriptor of the database would drop every POSIX lock
/// this process holds on it (SQLite's own connections' locks included).
std::string unwritableReason(const std::string& path) {
  for (const std::string& file : {path, path + "-wal"}) {
    if (::access(file.c_str(), W_OK) == 0) continue;
    if (const int code = errno; code == EPERM || code == EROFS || code == EACCES) {
      return file + ": " + std::error_code(code, std::generic_category()).message();
    }
  }
  return {};
}

/// Creates every missing folder of `dir` with mode 0700.
sdk::Status makeFolders(const std::string& dir) {
  if (dir.empty()) return sdk::Status::success();
  struct stat info {};
  if (::stat(dir.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) return sdk::Status::failure(dir + " is not a folder");
    return sdk::Status::success();
  }
  const auto slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (auto status = makeFolders(dir.substr(0, slash)); !status) return status;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return sdk::Status::failure("cannot create folder " + dir + ": " + errnoText());
  }
  return sdk::Status::success();
}

}  // namespace

SqliteSink::SqliteSink() = default;

SqliteSink::~SqliteSink() {
  stop();
}

sdk::Status SqliteSink::init(const sdk::Config& config, sdk::Host& host) {
  host_ = &host;
  // Every batch waits in the core's durable spool until this store took it.
  host.requestSpool();
  return parseSettings(config, host.dataDir(), settings_);
}

sdk::Status SqliteSink::start() {
  if (host_ == nullptr) return sdk::Status::failure("sqlite sink: start() before init()");
  if (running_) return sdk::Status::success();
  sdk::Status status = open();
  if (!status) {
    batch_writer_.reset();
    writer_.reset();
    store_.reset();
    // The core prefixes "[sink.<name>]"; the path says which file.
    return sdk::Status::failure(settings_.path + ": " + status.message());
  }
  running_ = true;
  host_->logger().info("sqlite store open: " + settings_.path);
  integrity_stop_ = false;
  integrity_thread_ = std::thread([this] {
    ::pthread_setname_np(::pthread_self(), "sqlite-check");  // in top -H, gdb and perf
    checkIntegrity();
  });
  return status;
}

sdk::Status SqliteSink::open() {
  const std::string& path = settings_.path;
  const auto slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "" : path.substr(0, slash);
  if (auto status = makeFolders(folder); !status) return status;
  struct stat info {};
  if (!folder.empty() && ::stat(folder.c_str(), &info) == 0 && (info.st_mode & 077) != 0) {
    host_->logger().warn("the folder " + folder +
                         " is readable by other users; the database holds usage data (chmod 700)");
  }

  // Create the file ourselves so that it never exists with a wider mode; SQLite gives the -wal
  // and -shm files the database file's permissions.
  if (::stat(path.c_str(), &info) != 0) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) {
      return sdk::Status::failure("cannot create the database file: " + errnoText());
    }
    if (fd >= 0) ::close(fd);
  } else if (!S_ISREG(info.st_mode)) {
    return sdk::Status::failure("is not a regular file");
  } else if ((info.st_mode & 077) != 0 && ::chmod(path.c_str(), 0600) != 0) {
    return sdk::Status::failure("cannot restrict the file to mode 0600: " + errnoText());
  }

  try {
    writer_ = std::make_unique<Connection>(path, settings_.busy_timeout_ms);
  } catch (const Poco::Exception& error) {
    return sdk::Status::failure("cannot open the database: " + error.displayText());
  } catch (const SqliteError& error) {
    return sdk::Status::failure(std::string("cannot open the database: ") + error.what());
  }

  try {
    // A garbage file fails here with "file is not a database". The full integrity check runs
    // in the background after start (it takes seconds on a large database).
    Statement check(writer_->handle(), "PRAGMA schema_version");
    check.step();
  } catch (const SqliteError& error) {
    return sdk::Status::failure(std::string("the file is not a usable SQLite database (") +
                                error.what() +
                                "); move it aside to start a new one, or restore a backup");
  }

  try {
    // Retention gives pages back to the file system. Only before the first table is made, and
    // before WAL mode, which writes the header of a new file; migrate() rebuilds older files.
    writer_->exec("PRAGMA auto_vacuum = INCREMENTAL");
    {
      Statement wal(writer_->handle(), "PRAGMA journal_mode = WAL");
      if (!wal.step() || wal.getText(0) != "wal") {
        return sdk::Status::failure("cannot switch the database to WAL mode");
      }
    }
    writer_->exec(settings_.synchronous == Synchronous::kFull ? "PRAGMA synchronous = FULL"
                                                              : "PRAGMA synchronous = NORMAL");
    // The page cache is what the process keeps of the database (it fills up to cache_mb and
    // stays): small by default, larger for a big database that is queried a lot. Mapped pages
    // count in the process's RSS too. A larger WAL between checkpoints writes hot pages
    // (rollups, index tails) back less often.
    const std::string cache_pragmas =
        "PRAGMA cache_size = -" + std::to_string(settings_.cache_kb) +
        "; PRAGMA mmap_size = " + std::to_string(settings_.mmap_bytes);
    writer_->exec(cache_pragmas + "; PRAGMA wal_autocheckpoint = 4000");
    registerFunctions(*writer_);
    if (const int version = schemaVersion(*writer_); version > 0 && version < kSchemaVersion) {
      host_->logger().info("upgrading the database from schema " + std::to_string(version) +
                           " to " + std::to_string(kSchemaVersion) +
                           " (once; a large file takes about a minute per million invocations)");
    }
    migrate(*writer_, settings_.legacy_source, host_->clock().utcNowMs());
    try {
      if (applyIncrementalVacuum(*writer_)) {
        host_->logger().info(
            "the database now gives the space retention frees back to the "
            "file system (auto_vacuum = incremental)");
      }
    } catch (const SqliteError& error) {
      // Not a reason to stop collecting: the file only keeps the pages it has.
      host_->logger().warn(std::string("cannot compact the database (") + error.what() +
                           "): retention will not make the file smaller; gatherd tries again "
                           "at its next start");
    }
    batch_writer_ = std::make_unique<BatchWriter>(*writer_);
    batch_writer_->load();
    store_ = std::make_unique<SqliteStore>(path, settings_.reader_connections, host_->clock(),
                                           cache_pragmas);
    store_->publish(writer_->queryInt("SELECT seq FROM sqlite_sequence WHERE name = 'changes'", 0));
  } catch (const SqliteError& error) {
    return sdk::Status::failure(error.code() == 5 /* SQLITE_BUSY */
                                    ? std::string("the database is locked by another process (") +
                                          error.what() + ")"
                                    : std::string(error.what()));
  } catch (const Poco::Exception& error) {
    return sdk::Status::failure(error.displayText());
  } catch (const std::exception& error) {
    return sdk::Status::failure(error.what());
  }
  return sdk::Status::success();
}

sdk::WriteResult SqliteSink::write(const sdk::Batch& batch) {
  if (!running_) {
    host_->logger().warn("sqlite sink: write() while not started; the batch is kept for later");
    return sdk::WriteResult::kRetry;
  }
  sdk::Metrics& metrics = host_->metrics();
  WriteCounts counts;
  try {
    counts = batch_writer_->write(batch, host_->clock().utcNowMs());
  } catch (const SqliteError& error) {
    // An I/O error on a file that cannot be opened for writing (immutable, read-only mount) is
    // no failing disk: waiting does not help, so it is "cannot be written" like SQLITE_READONLY.
    std::string unwritable = error.code() == SQLITE_READONLY || error.code() == SQLITE_PERM
                                 ? std::string(error.what())
                                 : std::string();
    if (error.code() == SQLITE_IOERR || error.code() == SQLITE_CANTOPEN) {
      if (std::string file = unwritableReason(settings_.path); !file.empty()) {
        unwritable = std::string(error.what()) + "; " + file;
      }
    }
    if (!unwritable.empty()) {
      // Degraded (in /ready and on the dashboard); the batch stays in the spool, and the first
      // write that works again clears it.
      metrics.increment("sqlite_write_degraded");
      setHealth(true, "the database cannot be written (" + unwritable + ")");
      return sdk::WriteResult::kRetry;
    }
    switch (error.code()) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        metrics.increment("sqlite_write_retries");
        host_->logger().warn(std::string("sqlite write will be retried (database busy): ") +
                             error.what());
        return sdk::WriteResult::kRetry;
      case SQLITE_FULL:
      case SQLITE_IOERR:
      case SQLITE_CANTOPEN:
      case SQLITE_NOMEM:
      case SQLITE_PROTOCOL:
        metrics.increment("sqlite_write_retries");
        host_->logger().warn(std::string("sqlite write will be retried (the spool keeps the "
                                         "batch): ") +
                             error.what());
        return sdk::WriteResult::kRetry;
      case SQLITE_CORRUPT:
      case SQLITE_NOTADB:
      case SQLITE_AUTH:
        metrics.increment("sqlite_write_degraded");
        setHealth(true, std::string("the database is damaged (") + error.what() + ")");
        return sdk::WriteResult::kRetry;
      default:
        metrics.increment("sqlite_write_drops");
        host_->logger().error(std::string("sqlite write failed for good: ") + error.what());
        return sdk::WriteResult::kDrop;
    }
  } catch (const std::exception& error) {
    metrics.increment("sqlite_write_drops");
    host_->logger().error(std::string("sqlite write failed for good: ") + error.what());
    return sdk::WriteResult::kDrop;
  }
  setHealth(false, {});
  store_->publish(counts.last_sequence);
  if (counts.inserted != 0) metrics.increment("sqlite_invocations_inserted", counts.inserted);
  if (counts.updated != 0) metrics.increment("sqlite_invocations_updated", counts.updated);
  if (counts.unchanged != 0) metrics.increment("sqlite_invocations_unchanged", counts.unchanged);
  if (counts.too_old != 0) metrics.increment("sqlite_invocations_too_old", counts.too_old);
  if (counts.quota_snapshots != 0)
    metrics.increment("sqlite_quota_snapshots", counts.quota_snapshots);
  if (counts.other_records != 0) metrics.increment("sqlite_other_records", counts.other_records);
  metrics.increment("sqlite_batches_written");

  const std::int64_t steady = host_->clock().steadyNowMs();
  if (!maintained_ || steady - last_maintenance_steady_ms_ >= settings_.maintenance_interval_ms) {
    if (auto status = runMaintenance(); !status) host_->logger().warn(status.message());
  }
  return sdk::WriteResult::kOk;
}

sdk::Status SqliteSink::runMaintenance() {
  if (!running_) return sdk::Status::failure("sqlite sink: not started");
  maintained_ = true;
  last_maintenance_steady_ms_ = host_->clock().steadyNowMs();
  try {
    const RetentionCounts counts = runRetention(*writer_, settings_, host_->clock().utcNowMs());
    batch_writer_->setPrunedBefore(counts.invocations_pruned_before_ms);
    if (counts.invocations_deleted > 0) batch_writer_->forgetRecent();
    if (counts.invocations_deleted + counts.raw_dropped + counts.quota_snapshots_deleted +
            counts.windows_deleted >
        0) {
      host_->logger().info("sqlite retention: deleted " +
                           std::to_string(counts.invocations_deleted) + " invocations, dropped " +
                           std::to_string(counts.raw_dropped) + " raw responses, thinned " +
                           std::to_string(counts.quota_snapshots_deleted) +
                           " quota snapshots, deleted " + std::to_string(counts.windows_deleted) +
                           " ledger windows");
    }
    return sdk::Status::success();
  } catch (const std::exception& error) {
    host_->metrics().increment("sqlite_maintenance_failures");
    return sdk::Status::failure(std::string("sqlite retention will run again later: ") +
                                error.what());
  }
}

sdk::Store* SqliteSink::store() noexcept {
  return running_ ? store_.get() : nullptr;
}

void SqliteSink::setHealth(bool write_degraded, const std::string& reason) {
  std::string report;
  {
    std::lock_guard lock(health_mutex_);
    if (!write_degraded && write_problem_.empty()) return;  // the common case: nothing changes
    write_problem_ = write_degraded ? reason : std::string();
    report = !integrity_problem_.empty() ? integrity_problem_ : write_problem_;
  }
  host_->reportSinkHealth(report.empty() ? sdk::SinkHealth::kOk : sdk::SinkHealth::kDegraded,
                          report);
}

void SqliteSink::checkIntegrity() {
  ::sqlite3* db = nullptr;
  if (sqlite3_open_v2(settings_.path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return;
  }
  sqlite3_busy_timeout(db, 5'000);
  {
    std::lock_guard lock(integrity_mutex_);
    if (integrity_stop_) {
      sqlite3_close(db);
      return;
    }
    integrity_db_ = db;
  }
  const std::int64_t started = host_->clock().steadyNowMs();
  std::string verdict;
  sqlite3_stmt* statement = nullptr;
  int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(20)", -1, &statement, nullptr);
  while (rc == SQLITE_OK || rc == SQLITE_ROW) {
    if ((rc = sqlite3_step(statement)) != SQLITE_ROW) break;
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    if (text != nullptr && std::string_view(text) != "ok") {
      if (!verdict.empty()) verdict += "; ";
      verdict += text;
    }
  }
  const bool interrupted = rc == SQLITE_INTERRUPT || integrity_stop_;
  if (rc != SQLITE_DONE && !interrupted && verdict.empty()) verdict = sqlite3_errmsg(db);
  sqlite3_finalize(statement);
  {
    std::lock_guard lock(integrity_mutex_);
    integrity_db_ = nullptr;
  }
  sqlite3_close(db);
  if (interrupted) return;
  // Base units (seconds) in metric names: Prometheus's linter rejects "_ms".
  host_->metrics().setGauge("sqlite_integrity_check_seconds",
                            static_cast<double>(host_->clock().steadyNowMs() - started) / 1000.0);
  if (verdict.empty()) {
    host_->logger().info("integrity check (quick_check) ok in " +
                         std::to_string(host_->clock().steadyNowMs() - started) + " ms");
    return;
  }
  if (verdict.size() > 400) verdict = verdict.substr(0, 400) + "...";
  std::string report;
  {
    std::lock_guard lock(health_mutex_);
    integrity_problem_ = "the database is corrupt (quick_check: " + verdict +
                         "); run `gatherd check-db`, then restore a backup or move the file "
                         "aside";
    report = integrity_problem_;
  }
  host_->metrics().increment("sqlite_integrity_failures");
  host_->reportSinkHealth(sdk::SinkHealth::kDegraded, report);
}

void SqliteSink::stop() {
  {
    std::lock_guard lock(integrity_mutex_);
    integrity_stop_ = true;
    if (integrity_db_ != nullptr) sqlite3_interrupt(integrity_db_);
  }
  if (integrity_thread_.joinable()) integrity_thread_.join();
  if (!running_) return;
  running_ = false;
  store_->close();
  try {
    writer_->exec("PRAGMA optimize");
  } catch (const std::exception&) {
    // Only a planner hint; a busy or read-only database simply skips it.
  }
  batch_writer_.reset();
  writer_.reset();
}

}  // namespace gatherd::plugins::sqlite
