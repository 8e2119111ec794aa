#pragma once
// Records, window results and batches: what sources emit and sinks consume.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gatherd::sdk {

/// A typed field value: null, bool, int64, double or UTF-8 string.
using FieldValue = std::variant<std::monostate, bool, std::int64_t, double, std::string>;

/// Field name -> value. Ordered so that serialisation is deterministic.
using Fields = std::map<std::string, FieldValue, std::less<>>;

/// One fact from a source. Plain value type: copyable, owns everything, no thread affinity.
struct Record {
  /// Stream name, e.g. streams::kInvocation. Sinks map well-known streams to typed storage and
  /// keep any other stream generically.
  std::string stream;
  /// Identity within (source instance, stream); the same key seen again is the same fact
  /// (possibly updated). For invocations: "<requestId>|<requestTime as UTC ISO-8601>".
  std::string key;
  /// Event time, UTC milliseconds since the epoch.
  std::int64_t time_ms = 0;
  /// Typed fields; well-known names are in streams.hpp.
  Fields fields;
  /// The JSON the record came from with every secret removed (may be empty).
  std::string raw_json;

  /// The field's value if present and of type T (int64 fields also read as double).
  template <class T>
  std::optional<T> get(std::string_view name) const {
    auto it = fields.find(name);
    if (it == fields.end()) return std::nullopt;
    if (const T* value = std::get_if<T>(&it->second)) return *value;
    if constexpr (std::is_same_v<T, double>) {
      if (const auto* integer = std::get_if<std::int64_t>(&it->second)) {
        return static_cast<double>(*integer);
      }
    }
    return std::nullopt;
  }
};

/// How a window ended. Every window ends in exactly one outcome.
enum class Outcome {
  kOk,              ///< the poll ran and its response was understood
  kAuthError,       ///< the upstream wants a human to log in again (cookie expired, 401/403...)
  kHttpError,       ///< HTTP 5xx/4xx or a business error code
  kTransportError,  ///< connect, TLS, reset
  kTimeout,         ///< the whole-request deadline passed
  kParseError,      ///< the body was not what the source understands
  kSkipped,         ///< not admitted: the parallel cap was full
  kAborted,         ///< shutdown before the poll finished or started
};

/// Stable lower-case name, as stored and served ("ok", "auth_error", ...).
inline const char* outcomeName(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kAuthError: return "auth_error";
    case Outcome::kHttpError: return "http_error";
    case Outcome::kTransportError: return "transport_error";
    case Outcome::kTimeout: return "timeout";
    case Outcome::kParseError: return "parse_error";
    case Outcome::kSkipped: return "skipped";
    case Outcome::kAborted: return "aborted";
  }
  return "unknown";
}

/// Parses a name made by outcomeName().
inline std::optional<Outcome> outcomeFromName(std::string_view name) noexcept {
  for (Outcome outcome :
       {Outcome::kOk, Outcome::kAuthError, Outcome::kHttpError, Outcome::kTransportError,
        Outcome::kTimeout, Outcome::kParseError, Outcome::kSkipped, Outcome::kAborted}) {
    if (name == outcomeName(outcome)) return outcome;
  }
  return std::nullopt;
}

/// Whether a source instance's credentials work, as reported by the source.
enum class AuthState {
  kUnknown,  ///< not reported (sources without credentials, or no poll yet)
  kOk,       ///< the last poll was accepted
  kExpired,  ///< the upstream refused the credentials: a human must renew them
  kMissing,  ///< no credentials configured
};

inline const char* authStateName(AuthState state) noexcept {
  switch (state) {
    case AuthState::kUnknown: return "unknown";
    case AuthState::kOk: return "ok";
    case AuthState::kExpired: return "expired";
    case AuthState::kMissing: return "missing";
  }
  return "unknown";
}

/// The ledger entry of one window. The core fills identity and timings; the source fills the
/// outcome, message, counts and gap information during poll().
struct WindowResult {
  std::string source;            ///< source instance name ("xychatai" for [source.xychatai])
  std::int64_t window_ms = 0;    ///< scheduled start, UTC ms (a multiple of the interval)
  std::int64_t started_ms = 0;   ///< when poll() was entered, UTC ms (0 if never started)
  std::int64_t finished_ms = 0;  ///< when the result was final, UTC ms
  Outcome outcome = Outcome::kOk;
  std::string message;                ///< human-readable detail for anything but ok (no secrets)
  std::int64_t http_status = 0;       ///< last HTTP status seen, 0 if none
  std::int64_t records_seen = 0;      ///< records the upstream returned
  std::int64_t records_emitted = 0;   ///< records put into the batch (new or changed)
  std::int64_t records_rejected = 0;  ///< records that could not be understood
  bool gap_suspected = false;    ///< records may have been lost between the last ok poll and this
  std::int64_t gap_from_ms = 0;  ///< start of the span that may have lost records (UTC ms)
  std::int64_t gap_to_ms = 0;    ///< end of that span (UTC ms)
  AuthState auth_state = AuthState::kUnknown;  ///< the source's auth state after this window
  bool clock_jump = false;  ///< the wall clock jumped before this window; schedule re-anchored
};

/// What one window produced: its ledger entry plus the records of that poll. Value type.
struct Batch {
  WindowResult window;
  std::vector<Record> records;
};

}  // namespace gatherd::sdk
