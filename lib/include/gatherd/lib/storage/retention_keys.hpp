#pragma once
// The retention keys both store sinks (sqlite, postgres) accept, declared once: the same names,
// defaults and meaning in either store.

#include "gatherd/sdk/config.hpp"

namespace gatherd::storage {

/// Appends raw_retention_days, invocation_retention_days, quota_thin_after_days,
/// window_retention_days, changes_keep and changes_keep_days to `schema`.
inline void appendRetentionKeys(sdk::ConfigSchema& schema) {
  using sdk::ConfigType;
  const sdk::ConfigSchema keys = {
      sdk::key("raw_retention_days", ConfigType::kInt)
          .byDefault("0")
          .describedAs("drop raw_response of invocations older than this many days (0: keep)"),
      sdk::key("invocation_retention_days", ConfigType::kInt)
          .byDefault("0")
          .describedAs("delete invocations older than this many days; totals stay exact (0: keep)"),
      sdk::key("quota_thin_after_days", ConfigType::kInt)
          .byDefault("0")
          .describedAs(
              "keep one quota snapshot per day for snapshots older than this (0: keep all)"),
      // The ledger has a row per poll (8,640 a day at 10 s, more than the invocations of most
      // days): unlike the invocations it is bookkeeping, so it is not kept forever by default.
      sdk::key("window_retention_days", ConfigType::kInt)
          .byDefault("90")
          .describedAs("delete ledger windows (one per poll) older than this many days (0: keep)"),
      sdk::key("changes_keep", ConfigType::kInt)
          .byDefault("100000")
          .describedAs("entries of the change sequence (SSE replay) to keep"),
      sdk::key("changes_keep_days", ConfigType::kInt)
          .byDefault("7")
          .describedAs("days of the change sequence to keep at most"),
  };
  schema.insert(schema.end(), keys.begin(), keys.end());
}

}  // namespace gatherd::storage
