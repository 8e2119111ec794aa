#pragma once
// The sqlite sink: keeps every record in one SQLite database (WAL) and offers it as the Store.

#include <cstdint>
#include <memory>

#include "gatherd/sdk/sink.hpp"
#include "gatherd/sdk/store.hpp"
#include "settings.hpp"

namespace gatherd::plugins::sqlite {

class BatchWriter;
class Connection;
class SqliteStore;

class SqliteSink final : public sdk::Sink {
 public:
  SqliteSink();
  ~SqliteSink() override;

  sdk::Status init(const sdk::Config& config, sdk::Host& host) override;
  /// Creates the folder (0700) and file (0600) if needed, refuses a corrupt or newer database,
  /// switches to WAL and migrates the schema.
  sdk::Status start() override;
  /// kRetry while the database is locked by someone else or the disk is full; kDrop only for a
  /// batch SQLite can never take.
  sdk::WriteResult write(const sdk::Batch& batch) override;
  sdk::Store* store() noexcept override;
  void stop() override;

  /// Applies retention and prunes the change sequence now. write() also does this once per
  /// maintenance interval. Call it from the thread that calls write().
  sdk::Status runMaintenance();
  const Settings& settings() const noexcept { return settings_; }

 private:
  sdk::Status open();

  Settings settings_;
  sdk::Host* host_ = nullptr;
  std::unique_ptr<Connection> writer_;
  std::unique_ptr<BatchWriter> batch_writer_;
  std::unique_ptr<SqliteStore> store_;
  std::int64_t last_maintenance_steady_ms_ = 0;
  bool maintained_ = false;
  bool running_ = false;
};

}  // namespace gatherd::plugins::sqlite
