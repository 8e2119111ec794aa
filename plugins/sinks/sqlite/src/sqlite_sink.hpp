#pragma once
// The sqlite sink: keeps every record in one SQLite database (WAL) and offers it as the Store.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "gatherd/sdk/sink.hpp"
#include "gatherd/sdk/store.hpp"
#include "settings.hpp"

struct sqlite3;

namespace gatherd::plugins::sqlite {

class BatchWriter;
class Connection;
class SqliteStore;

class SqliteSink final : public sdk::Sink {
 public:
  SqliteSink();
  ~SqliteSink() override;

  sdk::Status init(const sdk::Config& config, sdk::Host& host) override;
  /// Creates the folder (0700) and file (0600) if needed, refuses a file that is not a
  /// database or is newer, switches to WAL and migrates the schema. The integrity check
  /// (PRAGMA quick_check) then runs in the background: a problem makes the sink degraded.
  sdk::Status start() override;
  /// Errors are classified: busy or locked -> kRetry; disk full or I/O error -> kRetry (the
  /// core's spool holds the data); corrupt or read-only -> kRetry and the sink reports itself
  /// degraded until a write works again; kDrop only for a batch SQLite can never take.
  sdk::WriteResult write(const sdk::Batch& batch) override;
  sdk::Store* store() noexcept override;
  void stop() override;

  /// Applies retention and prunes the change sequence now. write() also does this once per
  /// maintenance interval. Call it from the thread that calls write().
  sdk::Status runMaintenance();
  const Settings& settings() const noexcept { return settings_; }

 private:
  sdk::Status open();
  void checkIntegrity();
  void setHealth(bool write_degraded, const std::string& reason);

  Settings settings_;
  sdk::Host* host_ = nullptr;
  std::unique_ptr<Connection> writer_;
  std::unique_ptr<BatchWriter> batch_writer_;
  std::unique_ptr<SqliteStore> store_;
  std::int64_t last_maintenance_steady_ms_ = 0;
  bool maintained_ = false;
  bool running_ = false;
  std::thread integrity_thread_;
  std::mutex integrity_mutex_;
  ::sqlite3* integrity_db_ = nullptr;  // interrupted by stop()
  std::atomic<bool> integrity_stop_{false};
  std::mutex health_mutex_;
  std::string integrity_problem_;  // sticky until a restart
  std::string write_problem_;      // cleared by the next write that works
};

}  // namespace gatherd::plugins::sqlite
