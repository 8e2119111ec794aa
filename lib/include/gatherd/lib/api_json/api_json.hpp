#pragma once
// The JSON shapes of docs/api.md (Totals, Invocation, Window, Quota), shared by the core's API
// and the SSE plugin so that a live event and an API page carry the same object.

#include <string>

#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/store.hpp"

namespace gatherd::api_json {

/// Totals fields without the braces, so callers can add keys around them (time-series points,
/// model rows): "count":..,"success":..,...,"totalTokens":..
std::string totalsMembers(const sdk::Totals& totals);
/// {"count", "success", "failure", "successRate", "costUsd", ...}
std::string totals(const sdk::Totals& totals);
/// {"id", "source", "requestId", "occurredAt", ...}
std::string invocation(const sdk::StoredInvocation& invocation);
/// A ledger entry: the window result with its store id first ({"id":..,"source":..,...}).
std::string window(std::int64_t id, const sdk::WindowResult& window);
/// A window result that has no store id (e.g. the registry's last window).
std::string window(const sdk::WindowResult& window);
/// {"source", "time", then every field the source sent, camelCase}
std::string quota(const std::string& source, const sdk::Record& quota);
/// An alert transition record (stream "alert"): {"id", then its fields camelCase
/// ("rule", "source", "state", "firedAt", "resolvedAt", details...)}, as /api/alerts shows it.
std::string alert(const sdk::Record& alert);
/// A source_status record of `source` (the `source` SSE event): {"name", then its fields camelCase
/// ("state", "stateReason", "authState", "authHint", "consecutiveFailures")}, the names
/// /api/sources gives the same facts.
std::string sourceStatus(const std::string& source, const sdk::Record& status);

}  // namespace gatherd::api_json
