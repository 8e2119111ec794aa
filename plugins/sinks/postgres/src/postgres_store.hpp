#pragma once
// sdk::Store over the postgres sink's schema: pooled read connections, rollup-backed exact
// aggregates, the ledger and the change sequence. A listener connection LISTENs on the schema's
// channel, so waitForChange() wakes for commits of every collector writing to this database,
// not only this process's: the SSE sink streams all of them unchanged.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/store.hpp"
#include "pg.hpp"

namespace gatherd::plugins::postgres {

class PostgresStore final : public sdk::Store {
 public:
  /// `clock` and `logger` (the host's) outlive the store. Connections are made on first use.
  PostgresStore(std::string conninfo, std::string schema, int readers, sdk::Clock& clock,
                sdk::Logger& logger);
  ~PostgresStore() override;

  /// Starts the LISTEN thread and reads the committed horizon. Throws PgError.
  void open();
  /// The writer calls this after each commit: wakes waitForChange().
  void publish(std::int64_t sequence);
  /// Whether the writer's next commit should NOTIFY the other gatherds itself: when no
  /// announcement went out for kAnnounceEveryMs. A burst of commits (a spool or history
  /// replay, many sources at once) then costs one NOTIFY per interval instead of one each: a
  /// NOTIFY is a tenth of a small batch's server time and wakes every listening gatherd.
  bool announceNext();
  /// After the writer's commit of `sequence`, which NOTIFYed or not (announceNext()): one that
  /// did not is announced by the listener thread within kAnnounceEveryMs, or by a later commit.
  void committed(std::int64_t sequence, bool announced);
  static constexpr std::int64_t kAnnounceEveryMs = 100;
  /// After close() every query fails with a status and waiters return.
  void close();
  /// Why the database cannot be used right now (empty when the last call worked).
  std::string unavailableReason() const;

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

 private:
  class Lease;
  std::unique_ptr<Connection> acquire();
  void release(std::unique_ptr<Connection> connection);
  template <class Body>
  sdk::Status read(const char* what, Body&& body);
  void listen();
  /// The listener's part of committed(): NOTIFYs the sequence owed once it is due (all of it
  /// when `now`), on the listener's connection. Throws PgError.
  void announceOwed(Connection& connection, bool now);
  /// Milliseconds until an owed announcement is due (`otherwise` when none is owed).
  int msUntilAnnouncement(int otherwise);
  std::int64_t committedHorizon(Connection& connection);

  std::string conninfo_;
  std::string schema_;
  std::string session_sql_;
  int readers_;
  sdk::Clock& clock_;
  sdk::Logger& logger_;

  std::mutex pool_mutex_;
  std::condition_variable pool_available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int leased_ = 0;

  mutable std::mutex reason_mutex_;
  std::string unavailable_;

  std::mutex sequence_mutex_;
  std::condition_variable sequence_changed_;
  std::atomic<std::int64_t> latest_sequence_{0};
  std::atomic<bool> closed_{false};
  std::thread listener_;

  std::mutex announce_mutex_;
  std::int64_t owed_sequence_ = 0;  // committed but not NOTIFYed yet (0: nothing owed)
  std::chrono::steady_clock::time_point last_announced_{};
};

}  // namespace gatherd::plugins::postgres
