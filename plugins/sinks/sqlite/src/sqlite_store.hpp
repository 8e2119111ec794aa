#pragma once
// sdk::Store over the sqlite sink's database: pages, rollup-backed aggregates, the ledger and
// the change sequence, on pooled read connections.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/store.hpp"
#include "reader_pool.hpp"

namespace gatherd::plugins::sqlite {

class SqliteStore final : public sdk::Store {
 public:
  /// `clock` (the host's) supplies "now" for open-ended time series; it outlives the store.
  /// `reader_pragmas` run on each read connection (cache and mmap sizes).
  SqliteStore(const std::string& path, int readers, sdk::Clock& clock,
              const std::string& reader_pragmas = {});

  /// The writer calls this after each commit: wakes waitForChange().
  void publish(std::int64_t sequence);
  /// After close() every query fails with a status and waiters return.
  void close();

  sdk::Status listInvocations(const sdk::InvocationQuery& query,
                              sdk::InvocationPage& page) override;
  sdk::Status totals(const sdk::RangeQuery& query, sdk::Totals& totals) override;
  sdk::Status timeSeries(const sdk::TimeSeriesQuery& query,
                         std::vector<sdk::TimeSeriesPoint>& points) override;
  sdk::Status errors(const sdk::RangeQuery& query, int limit,
                     std::vector<sdk::ErrorBucket>& buckets) override;
  sdk::Status models(const sdk::RangeQuery& query,
                     std::vector<sdk::ModelBreakdown>& models) override;
  sdk::Status latency(const sdk::RangeQuery& query, sdk::LatencyStats& stats) override;
  sdk::Status latestQuota(const std::optional<std::string>& source,
                          std::vector<sdk::Record>& quotas) override;
  sdk::Status listWindows(const sdk::WindowQuery& query, sdk::WindowPage& page) override;
  sdk::Status changesSince(std::int64_t after, int limit, sdk::ChangeList& changes) override;
  std::int64_t latestSequence() override;
  std::int64_t waitForChange(std::int64_t after, std::chrono::milliseconds max_wait) override;
  sdk::Status countHistory(sdk::HistoryCounts& counts) override;
  sdk::Status readHistory(sdk::HistoryTable table, std::int64_t after_id, int limit,
                          sdk::HistoryPage& page) override;

 private:
  template <class Body>
  sdk::Status read(const char* what, Body&& body);

  ReaderPool readers_;
  sdk::Clock& clock_;
  std::mutex sequence_mutex_;
  std::condition_variable sequence_changed_;
  std::atomic<std::int64_t> latest_sequence_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace gatherd::plugins::sqlite
