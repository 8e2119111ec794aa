#pragma once
// The Prometheus text exposition format 0.0.4 and OpenMetrics 1.0, written from sdk metric
// families: escaping, # HELP / # TYPE / # UNIT, counters' _total, histogram buckets with le and
// +Inf, _sum and _count, and OpenMetrics' # EOF.

#include <string>
#include <string_view>
#include <vector>

#include "gatherd/sdk/telemetry.hpp"

namespace gatherd::plugins::prometheus {

enum class Format {
  kText,         ///< text/plain; version=0.0.4
  kOpenMetrics,  ///< application/openmetrics-text; version=1.0.0
};

/// OpenMetrics when the Accept header asks for application/openmetrics-text (with a q above 0),
/// else the text format.
Format negotiateFormat(std::string_view accept);
/// The Content-Type of a response in `format`.
const char* contentType(Format format);

/// Appends the exposition of `families` to `out`. Families with an invalid name, a repeated
/// name or no samples are left out, as are samples with an invalid label name; label values
/// that are not valid UTF-8 get U+FFFD for each bad byte.
void writeExposition(const std::vector<sdk::MetricFamily>& families, Format format,
                     std::string& out);
/// writeExposition() without OpenMetrics' final "# EOF" line, for an exposition written in parts
/// (the parts' family names must differ).
void writeFamilies(const std::vector<sdk::MetricFamily>& families, Format format, std::string& out);
/// Ends an exposition written with writeFamilies() ("# EOF" for OpenMetrics).
void endExposition(Format format, std::string& out);

/// A label value in double quotes' escaping: backslash, double quote and line feed.
void appendEscapedLabelValue(std::string& out, std::string_view value);
/// HELP text: backslash and line feed (and, for OpenMetrics, the double quote).
void appendEscapedHelp(std::string& out, std::string_view help, Format format);
/// A sample value: integers without a fraction, others in the shortest round-trip form,
/// NaN, +Inf, -Inf.
void appendValue(std::string& out, double value);
/// A bucket bound for `le`: always with a fraction ("1.0", "0.005") or "+Inf".
void appendBound(std::string& out, double bound);
/// [a-zA-Z_:][a-zA-Z0-9_:]*
bool validMetricName(std::string_view name);
/// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"
bool validLabelName(std::string_view name);

}  // namespace gatherd::plugins::prometheus
