#include "postgres_sink.hpp"

#include "batch_writer.hpp"
#include "migrations.hpp"
#include "pg.hpp"
#include "postgres_store.hpp"
#include "retention.hpp"
#include <unistd.h>

namespace gatherd::plugins::postgres {
namespace {

std::string hostName() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return {};
  return buffer;
}

}  // namespace

PostgresSink::PostgresSink() = default;

PostgresSink::~PostgresSink() {
  stop();
}

sdk::Status PostgresSink::init(const sdk::Config& config, sdk::Host& host) {
  host_ = &host;
  return parseSettings(config, hostName(), settings_);
}

sdk::Status PostgresSink::start() {
  if (host_ == nullptr) return sdk::Status::failure("postgres sink: start() before init()");
  if (running_) return sdk::Status::success();
  // The core prefixes "[sink.<name>]"; this says which server and schema.
  const std::string where =
      maskConninfo(settings_.conninfo) + ", schema " + settings_.schema + ": ";
  try {
    // search_path may name a schema that migrate() creates only now: PostgreSQL allows it.
    writer_ = std::make_unique<Connection>(
        settings_.conninfo, "SET search_path = " + quoteIdentifier(settings_.schema));
    migrate(*writer_, settings_.schema);
    batch_writer_ = std::make_unique<BatchWriter>(*writer_, settings_.schema, settings_.collector);
    batch_writer_->load();
    store_ = std::make_unique<PostgresStore>(settings_.conninfo, settings_.schema,
                                             settings_.pool_size, host_->clock(), host_->logger());
    store_->open();
  } catch (const std::exception& error) {
    store_.reset();
    batch_writer_.reset();
    writer_.reset();
    return sdk::Status::failure(where + error.what());
  }
  running_ = true;
  host_->logger().info("postgres store open: " + maskConninfo(settings_.conninfo) + " schema " +
                       settings_.schema + " as collector " + settings_.collector);
  return sdk::Status::success();
}

sdk::WriteResult PostgresSink::write(const sdk::Batch& batch) {
  if (!running_) {
    host_->logger().warn("postgres sink: write() while not started; the batch is kept for later");
    return sdk::WriteResult::kRetry;
  }
  sdk::Metrics& metrics = host_->metrics();
  WriteCounts counts;
  const bool announce = store_->announceNext();
  try {
    counts = batch_writer_->write(batch, host_->clock().utcNowMs(), announce);
  } catch (const PgError& error) {
    if (error.transient()) {
      metrics.increment("postgres_write_retries");
      if (!writer_down_) {
        host_->logger().warn(std::string("postgres write will be retried: ") + error.what());
      }
      writer_down_ = true;
      metrics.setGauge("postgres_up", 0);
      return sdk::WriteResult::kRetry;
    }
    metrics.increment("postgres_write_drops");
    host_->logger().error(std::string("postgres write failed for good: ") + error.what());
    return sdk::WriteResult::kDrop;
  } catch (const std::exception& error) {
    metrics.increment("postgres_write_drops");
    host_->logger().error(std::string("postgres write failed for good: ") + error.what());
    return sdk::WriteResult::kDrop;
  }
  if (writer_down_) {
    host_->logger().info("postgres writes work again");
    writer_down_ = false;
  }
  metrics.setGauge("postgres_up", 1);
  store_->committed(counts.last_sequence, announce);
  if (counts.inserted != 0) metrics.increment("postgres_invocations_inserted", counts.inserted);
  if (counts.updated != 0) metrics.increment("postgres_invocations_updated", counts.updated);
  if (counts.unchanged != 0) metrics.increment("postgres_invocations_unchanged", counts.unchanged);
  if (counts.too_old != 0) metrics.increment("postgres_invocations_too_old", counts.too_old);
  if (counts.quota_snapshots != 0) {
    metrics.increment("postgres_quota_snapshots", counts.quota_snapshots);
  }
  if (counts.other_records != 0) metrics.increment("postgres_other_records", counts.other_records);
  metrics.increment("postgres_batches_written");

  const std::int64_t steady = host_->clock().steadyNowMs();
  if (!maintained_ || steady - last_maintenance_steady_ms_ >= settings_.maintenance_interval_ms) {
    if (auto status = runMaintenance(); !status) host_->logger().warn(status.message());
  }
  return sdk::WriteResult::kOk;
}

sdk::Status PostgresSink::runMaintenance() {
  if (!running_) return sdk::Status::failure("postgres sink: not started");
  maintained_ = true;
  last_maintenance_steady_ms_ = host_->clock().steadyNowMs();
  try {
    const RetentionCounts counts = runRetention(*writer_, settings_, host_->clock().utcNowMs());
    batch_writer_->setPrunedBefore(counts.invocations_pruned_before_ms);
    if (counts.invocations_deleted > 0) batch_writer_->forgetRecent();
    if (counts.invocations_deleted + counts.raw_dropped + counts.quota_snapshots_deleted +
            counts.windows_deleted >
        0) {
      host_->logger().info("postgres retention: deleted " +
                           std::to_string(counts.invocations_deleted) + " invocations, dropped " +
                           std::to_string(counts.raw_dropped) + " raw responses, thinned " +
                           std::to_string(counts.quota_snapshots_deleted) +
                           " quota snapshots, deleted " + std::to_string(counts.windows_deleted) +
                           " ledger windows");
    }
    return sdk::Status::success();
  } catch (const std::exception& error) {
    host_->metrics().increment("postgres_maintenance_failures");
    return sdk::Status::failure(std::string("postgres retention will run again later: ") +
                                error.what());
  }
}

sdk::Status PostgresSink::importHistory(const sdk::HistoryPage& page, std::int64_t& inserted) {
  inserted = 0;
  if (!running_) return sdk::Status::failure("postgres sink: not started");
  try {
    inserted = batch_writer_->importHistory(page);
    return sdk::Status::success();
  } catch (const std::exception& error) {
    return sdk::Status::failure(std::string("postgres import: ") + error.what());
  }
}

sdk::Store* PostgresSink::store() noexcept {
  return running_ ? store_.get() : nullptr;
}

void PostgresSink::stop() {
  if (!running_) return;
  running_ = false;
  store_->close();
  batch_writer_.reset();
  writer_.reset();
}

}  // namespace gatherd::plugins::postgres
