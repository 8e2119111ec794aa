#pragma once
// The hot write path: one batch = one BEGIN IMMEDIATE transaction on the writer connection,
// through prepared statements on the raw sqlite3 handle.

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

#include "connection.hpp"
#include "gatherd/lib/storage/aggregate_plan.hpp"
#include "gatherd/lib/storage/invocation_values.hpp"
#include "gatherd/sdk/record.hpp"

namespace gatherd::plugins::sqlite {

/// Kinds of the change sequence as stored in changes.kind.
enum class ChangeKind : int {
  kInvocationNew = 1,
  kInvocationUpdated = 2,
  kQuota = 3,
  kWindow = 4,
  kOther = 5
};

/// A quota snapshot is written when its fields changed, and at least this often.
inline constexpr std::int64_t kQuotaHeartbeatMs = std::int64_t{5} * 60'000;

/// What a written batch did.
struct WriteCounts {
  std::int64_t inserted = 0;
  std::int64_t updated = 0;
  std::int64_t unchanged = 0;
  std::int64_t too_old = 0;  ///< invocations older than the retention horizon (not re-inserted)
  std::int64_t quota_snapshots = 0;
  std::int64_t other_records = 0;
  std::int64_t last_sequence = 0;  ///< newest change sequence after the commit
};

using storage::costNano;

class BatchWriter {
 public:
  /// `connection` is used only by the thread that calls write(); it must outlive this object.
  explicit BatchWriter(Connection& connection);

  /// Loads what the writer remembers across batches (latest quota snapshots, pruning horizon).
  void load();
  /// Writes `batch` at wall time `now_ms` in one transaction. Throws SqliteError (busy, I/O...);
  /// nothing of the batch is kept then.
  WriteCounts write(const sdk::Batch& batch, std::int64_t now_ms);
  /// Invocations before this time were pruned; rows that old are not inserted again.
  void setPrunedBefore(std::int64_t pruned_before_ms) { pruned_before_ms_ = pruned_before_ms; }
  /// Forgets the remembered invocations (after retention deleted rows).
  void forgetRecent() {
    cache_.clear();
    cache_order_.clear();
  }

 private:
  struct Known : storage::InvocationValues {
    std::int64_t id = 0;
  };
  struct QuotaState {
    std::string fields_json;
    std::int64_t time_ms = 0;
  };

  void writeInvocation(const std::string& source, const sdk::Record& record, std::int64_t now_ms,
                       WriteCounts& counts);
  void writeQuota(const std::string& source, const sdk::Record& record, std::int64_t now_ms,
                  WriteCounts& counts);
  void writeOther(const std::string& source, const sdk::Record& record, std::int64_t now_ms,
                  WriteCounts& counts);
  void writeWindow(const sdk::WindowResult& window, std::int64_t now_ms, WriteCounts& counts);
  void addRollup(const std::string& source, const Known& values, int sign);
  std::int64_t addChange(ChangeKind kind, const std::string& source, std::int64_t ref_id,
                         std::int64_t now_ms);
  std::optional<Known> lookup(const std::string& cache_key, const std::string& source,
                              const std::string& invoke_id, const std::string& occurred_at);
  void remember(const std::string& cache_key, Known known);

  Connection& connection_;
  std::int64_t pruned_before_ms_ = 0;
  // Recently seen invocations: most of every poll repeats what is stored, and these answer
  // the repeat without a query. Filled only after a commit (pending_ holds the open batch).
  std::unordered_map<std::string, Known> cache_;
  std::deque<std::string> cache_order_;
  std::unordered_map<std::string, Known> pending_;
  std::unordered_map<std::string, QuotaState> quotas_;
  std::unordered_map<std::string, QuotaState> pending_quotas_;
};

}  // namespace gatherd::plugins::sqlite
