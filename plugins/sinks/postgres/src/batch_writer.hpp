#pragma once
// The write path: one batch = one transaction on the writer connection, sent as one pipeline of
// multi-row statements (unnest of arrays) that need nothing back from each other, so a batch
// costs one round trip. Several gatherds may write at once: invocations are upserted with
// INSERT ... ON CONFLICT, rollup upserts take their rows in key order, and the change sequence is
// numbered under a transaction advisory lock held until commit.

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gatherd/lib/storage/invocation_values.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/store.hpp"
#include "pg.hpp"

namespace gatherd::plugins::postgres {

/// Kinds of the change sequence as stored in changes.kind (the sqlite sink's numbers).
enum class ChangeKind : int {
  kInvocationNew = 1,
  kInvocationUpdated = 2,
  kQuota = 3,
  kWindow = 4,
  kOther = 5
};

/// A quota snapshot is written when its fields changed, and at least this often.
inline constexpr std::int64_t kQuotaHeartbeatMs = std::int64_t{5} * 60'000;

struct WriteCounts {
  std::int64_t inserted = 0;
  std::int64_t updated = 0;
  std::int64_t unchanged = 0;
  std::int64_t too_old = 0;
  std::int64_t quota_snapshots = 0;
  std::int64_t other_records = 0;
  std::int64_t last_sequence = 0;
};

class BatchWriter {
 public:
  /// `connection` is used only by the thread that calls write(); it must outlive this object.
  BatchWriter(Connection& connection, std::string schema, std::string collector);

  /// Loads what the writer remembers across batches (latest quota snapshots, pruning horizon).
  void load();
  /// Writes `batch` at wall time `now_ms` in one transaction, which NOTIFYs the schema's
  /// channel when `announce`. Throws PgError; nothing of the batch is kept then.
  WriteCounts write(const sdk::Batch& batch, std::int64_t now_ms, bool announce);
  /// Keeps one page of another store's history (sdk::Sink::importHistory) in one transaction:
  /// rows already kept are skipped, each inserted invocation is added to the rollups, nothing
  /// enters the change sequence. Returns the rows inserted. Throws PgError. (history_import.cpp)
  std::int64_t importHistory(const sdk::HistoryPage& page);
  void setPrunedBefore(std::int64_t pruned_before_ms) { pruned_before_ms_ = pruned_before_ms; }
  void forgetRecent() {
    cache_.clear();
    cache_order_.clear();
  }
  /// The name rows of source instance `instance` are stored under: the instance name, or
  /// "<collector>/<instance>" when another collector already uses the name.
  const std::string& storedSource(const std::string& instance);
  /// The NOTIFY channel of `schema`.
  static std::string channel(const std::string& schema) { return "gatherd_" + schema; }

 private:
  /// What the writer remembers of a stored invocation: the values an update compares.
  using Known = storage::InvocationValues;
  struct Pending {
    std::string key;
    std::string invoke_id;
    std::string occurred_at;
    Known values;
    const sdk::Record* record = nullptr;
  };
  struct QuotaState {
    std::string fields_json;
    std::int64_t time_ms = 0;
  };
  /// How to read the results of one statement of the batch's pipeline.
  enum class Reader { kNone, kInvocations, kQuota, kOther, kWindow };

  /// write()'s one attempt: the batch in one transaction. With `compare_all` every round goes
  /// through the comparing upsert (the second attempt, after a row taken for new was stored).
  WriteCounts writeOnce(const sdk::Batch& batch, std::int64_t now_ms, bool announce,
                        bool compare_all);
  /// The identity and rollup values of an invocation record (which must outlive the result).
  static Pending pending(const sdk::Record& record);
  /// The values of kInsertInvocations' first 18 columns for `item`.
  static std::array<std::optional<std::string>, 18> insertRow(const Pending& item);
  /// Adds the upserts of the batch's new and changed invocations to the pipeline: one statement
  /// for the first copy of each, one more for each further copy a poll repeats.
  void planInvocations(const std::string& source, const std::vector<const sdk::Record*>& records,
                       std::int64_t now_ms, bool compare_all, WriteCounts& counts);
  void planQuota(const std::string& source, const sdk::Record& record, std::int64_t now_ms);
  void planOther(const std::string& source, const sdk::Record& record, std::int64_t now_ms);
  void planWindow(const std::string& source, const sdk::WindowResult& window, std::int64_t now_ms,
                  bool announce);
  void add(Statement statement, Reader reader) {
    statements_.push_back(std::move(statement));
    readers_.push_back(reader);
  }
  void remember(const std::string& key, Known known);

  Connection& connection_;
  std::string schema_;
  std::string collector_;
  std::int32_t lock_key_ = 0;
  std::int64_t pruned_before_ms_ = 0;
  std::unordered_map<std::string, std::string> stored_sources_;
  std::unordered_map<std::string, Known> cache_;
  std::deque<std::string> cache_order_;
  std::unordered_map<std::string, Known> pending_;
  std::unordered_map<std::string, QuotaState> quotas_;
  std::unordered_map<std::string, QuotaState> pending_quotas_;
  // The batch's statements and how to read each one's result.
  std::vector<Statement> statements_;
  std::vector<Reader> readers_;
  std::vector<std::size_t> round_sizes_;  // rows sent in each kInvocations statement
};

}  // namespace gatherd::plugins::postgres
