#pragma once
// What the store sinks read from an invocation record: its identity (request id and time, from
// the key) and the values the rollups sum.

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/streams.hpp"

namespace gatherd::storage {

/// The token fields, in the order of InvocationValues::tokens.
inline constexpr std::array<const char*, 5> kInvocationTokenFields = {
    sdk::streams::invocation::kInputTokens, sdk::streams::invocation::kOutputTokens,
    sdk::streams::invocation::kCacheInputTokens, sdk::streams::invocation::kReasoningTokens,
    sdk::streams::invocation::kTotalTokens};

struct InvocationValues {
  std::int64_t occurred_ms = 0;  ///< the record's time, never negative
  std::string model;
  std::string status;
  std::optional<double> cost;                         ///< finite, or unset
  std::array<std::optional<std::int64_t>, 5> tokens;  ///< kInvocationTokenFields' order
};

/// The stored identity of an invocation: (invoke_id, occurred_at).
struct InvocationIdentity {
  std::string invoke_id;
  std::string occurred_at;
};

/// From the key "<request id>|<UTC ISO time>" (the seed's identity); a key without '|' gives
/// the requestId field (else the key) and the record's time.
InvocationIdentity invocationIdentity(const sdk::Record& record);
InvocationValues invocationValues(const sdk::Record& record);

/// An integer field (a finite double is rounded), or nullopt.
std::optional<std::int64_t> intField(const sdk::Record& record, const char* name);
/// A string field, or "".
std::string textField(const sdk::Record& record, const char* name);

}  // namespace gatherd::storage
