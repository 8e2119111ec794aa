#pragma once
// The postgres sink: keeps every record in a PostgreSQL schema shared by several gatherds and
// offers it as the Store (API, SSE replay and live events of every collector).

#include <cstdint>
#include <memory>

#include "gatherd/sdk/sink.hpp"
#include "gatherd/sdk/store.hpp"
#include "settings.hpp"

namespace gatherd::plugins::postgres {

class BatchWriter;
class Connection;
class PostgresStore;

class PostgresSink final : public sdk::Sink {
 public:
  PostgresSink();
  ~PostgresSink() override;

  sdk::Status init(const sdk::Config& config, sdk::Host& host) override;
  /// Connects, migrates the schema (under an advisory lock) and starts the notification
  /// listener. Fails when the server cannot be reached or the schema is newer than this build.
  sdk::Status start() override;
  /// kRetry while the server is unreachable, restarting or overloaded (the next write
  /// reconnects); kDrop only for a batch the server can never take.
  sdk::WriteResult write(const sdk::Batch& batch) override;
  sdk::Store* store() noexcept override;
  /// Idempotent copy of another store's rows (gatherd migrate); kept under this collector's
  /// source names, added to the rollups, outside the change sequence.
  sdk::Status importHistory(const sdk::HistoryPage& page, std::int64_t& inserted) override;
  void stop() override;

  /// Applies retention and prunes the change sequence now (write() does it once per hour).
  sdk::Status runMaintenance();
  const Settings& settings() const noexcept { return settings_; }

 private:
  Settings settings_;
  sdk::Host* host_ = nullptr;
  std::unique_ptr<Connection> writer_;
  std::unique_ptr<BatchWriter> batch_writer_;
  std::unique_ptr<PostgresStore> store_;
  std::int64_t last_maintenance_steady_ms_ = 0;
  bool maintained_ = false;
  bool running_ = false;
  bool writer_down_ = false;
};

}  // namespace gatherd::plugins::postgres
