#pragma once
// The well-known streams and their field names, declared once for sources and sinks.

namespace gatherd::sdk::streams {

/// One call of an LLM service. Key: "<request id>|<UTC ISO-8601 time>".
inline constexpr const char* kInvocation = "invocation";
/// A snapshot of the account's plan and rolling usage. Key: the source's service name.
inline constexpr const char* kQuota = "quota";
/// An alert of the core's rules firing or resolving (published by the core, not by sources).
/// Key: "<rule>|<source>|<subject>|<fired ms>", the same for both transitions of one alert.
inline constexpr const char* kAlert = "alert";
/// A source instance's state as the core computes it (published by the core with the window that
/// changed it, so every sink and every collector sharing a store sees the same). Key: the source
/// instance name. Since ABI 2.5.
inline constexpr const char* kSourceStatus = "source_status";

namespace invocation {
inline constexpr const char* kRequestId = "request_id";        // string
inline constexpr const char* kRequestTime = "request_time";    // string, as the upstream sent it
inline constexpr const char* kOccurredAt = "occurred_at";      // string, UTC ISO-8601 "...Z"
inline constexpr const char* kService = "service";             // string, e.g. "codex"
inline constexpr const char* kModel = "model";                 // string
inline constexpr const char* kStatus = "status";               // string, lower case
inline constexpr const char* kErrorMessage = "error_message";  // string, may be empty
inline constexpr const char* kInputTokens = "input_tokens";    // int
inline constexpr const char* kOutputTokens = "output_tokens";  // int
inline constexpr const char* kCacheInputTokens = "cache_input_tokens";        // int
inline constexpr const char* kCacheCreationTokens = "cache_creation_tokens";  // int
inline constexpr const char* kCacheReadTokens = "cache_read_tokens";          // int
inline constexpr const char* kReasoningTokens = "reasoning_tokens";           // int
inline constexpr const char* kTotalTokens = "total_tokens";                   // int
inline constexpr const char* kCostUsd = "cost_usd";                           // double
inline constexpr const char* kResponseTimeMs = "response_time_ms";            // int
inline constexpr const char* kFirstByteTimeMs = "first_byte_time_ms";         // int
inline constexpr const char* kServiceTier = "service_tier";                   // string
/// The status value that counts as success; every other status counts as a failure.
inline constexpr const char* kStatusSuccess = "success";
}  // namespace invocation

namespace quota {
inline constexpr const char* kService = "service";                  // string
inline constexpr const char* kPlanName = "plan_name";               // string (subTypeName)
inline constexpr const char* kPlanId = "plan_id";                   // string
inline constexpr const char* kBillingType = "billing_type";         // "amount" | "count" | other
inline constexpr const char* kAmountLimitUsd = "amount_limit_usd";  // double (amount)
inline constexpr const char* kAmountUsedUsd = "amount_used_usd";    // double (amount)
inline constexpr const char* kAmountRemainingUsd = "amount_remaining_usd";  // double (amount)
inline constexpr const char* kCountLimit = "count_limit";                   // int (count)
inline constexpr const char* kCountUsed = "count_used";                     // int (count)
inline constexpr const char* kCountRemaining = "count_remaining";           // int (count)
inline constexpr const char* kPeriod = "period";                            // string
inline constexpr const char* kPeriodResetAt = "period_reset_at";            // string, UTC ISO-8601
inline constexpr const char* kExpiresAt = "expires_at";                     // string, UTC ISO-8601
inline constexpr const char* kIsActive = "is_active";                       // bool
inline constexpr const char* kIsLongTerm = "is_long_term";                  // bool
inline constexpr const char* kIsAuth = "is_auth";  // bool (entitled to service)
inline constexpr const char* kUsage24hRequests = "usage_24h_requests";  // int
inline constexpr const char* kUsage24hTokens = "usage_24h_tokens";      // int
inline constexpr const char* kUsage24hCostUsd = "usage_24h_cost_usd";   // double
inline constexpr const char* kLastRequestAt = "last_request_at";        // string, UTC ISO-8601
}  // namespace quota

namespace alert {
inline constexpr const char* kRule = "rule";        // string: auth, failures, source_down, gap,
                                                    // quota, plan_expiry (test: gatherd test-alert)
inline constexpr const char* kSource = "source";    // string, the source instance
inline constexpr const char* kSubject = "subject";  // string, what within the source (may be "")
inline constexpr const char* kState = "state";      // string, kStateFiring or kStateResolved
inline constexpr const char* kFiredAt = "fired_at";        // string, UTC ISO-8601
inline constexpr const char* kResolvedAt = "resolved_at";  // string or null while firing
inline constexpr const char* kStateFiring = "firing";
inline constexpr const char* kStateResolved = "resolved";
// Every other field is a rule-specific detail (see docs/api.md, Alert).
}  // namespace alert

namespace source_status {
inline constexpr const char* kState = "state";               // string: running, failed, stopped
inline constexpr const char* kStateReason = "state_reason";  // string, why it failed ("" if not)
inline constexpr const char* kAuthState = "auth_state";      // string, authStateName()
inline constexpr const char* kAuthHint = "auth_hint";        // string, what to do ("" if ok)
/// int: windows in a row whose poll ran and failed (skipped and aborted windows neither count
/// nor reset it; an ok window resets it).
inline constexpr const char* kConsecutiveFailures = "consecutive_failures";
}  // namespace source_status

}  // namespace gatherd::sdk::streams
