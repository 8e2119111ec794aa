#pragma once
// Pure JSON -> records: the quota API's body becomes invocation records and a quota record.
// No I/O, no state; safe to call from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gatherd/sdk/record.hpp"
#include "redactor.hpp"

namespace gatherd::plugins::xychatai {

struct ParseOptions {
  std::string service = "codex";       ///< the key under data
  int utc_offset_minutes = 8 * 60;     ///< for naive upstream times
  std::int64_t now_utc_ms = 0;         ///< event time of the quota record
  const Redactor* redactor = nullptr;  ///< extra secrets (the cookie); the apiKey is added
};

/// What the envelope said.
enum class Envelope {
  kOk,             ///< code 1 with the service object
  kAuthExpired,    ///< code -1: the session must be renewed by a human
  kBusinessError,  ///< any other code, with the upstream's msg
  kMalformed,      ///< not JSON, truncated, or not the expected shape
};

struct ParsedResponse {
  Envelope envelope = Envelope::kMalformed;
  /// kAuthExpired/kBusinessError: the upstream's msg; kMalformed: what was wrong. Redacted.
  std::string message;
  std::optional<std::int64_t> code;
  std::vector<sdk::Record> invocations;  ///< every record that was understood
  std::optional<sdk::Record> quota;      ///< when currentUsage or subscriptions were present
  bool is_auth = true;                   ///< data.<service>.isAuth
  std::int64_t records_seen = 0;         ///< items of recentRecords
  std::int64_t records_rejected = 0;     ///< items that could not be understood
  /// Why records were rejected or fields left out ("record 3: ..."); empty when all was fine.
  std::vector<std::string> problems;
  /// Secrets found in the response that the given redactor did not know (the apiKey): the
  /// caller adds them to its redactor and to the core's log mask (Host::addSecret).
  std::vector<std::string> learned_secrets;
};

/// Parses one response body of /frontend-api/vibe-code/quota. Never throws.
ParsedResponse parseQuotaResponse(std::string_view body, const ParseOptions& options);

/// A hash of what may change when the upstream returns a record again (status, cost, tokens,
/// error message): equal fingerprints mean an exact repeat.
std::uint64_t changeFingerprint(const sdk::Record& record);

/// A hash of every field: equal for two quota snapshots with the same content.
std::uint64_t contentFingerprint(const sdk::Record& record);

}  // namespace gatherd::plugins::xychatai
