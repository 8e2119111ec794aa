#pragma once
// UTC timestamps: ISO-8601 formatting and lenient parsing of upstream time strings.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gatherd::json {

/// "2026-02-25T02:09:41Z", or "2026-02-25T02:09:41.250Z" when there are milliseconds.
std::string formatIsoUtc(std::int64_t utc_ms);

/// Parses "YYYY-MM-DD HH:MM:SS" or "YYYY-MM-DDTHH:MM:SS", optionally with ".fff" fractions and a
/// "Z" / "+08:00" / "+0800" suffix. A time without offset is taken to be in
/// `default_offset_minutes` (minutes east of UTC). Returns UTC ms, or nullopt for anything else
/// (blank, out-of-range fields, trailing garbage).
std::optional<std::int64_t> parseTimestamp(std::string_view text, int default_offset_minutes);

/// Parses "+08:00", "-05:30", "+0800", "Z" or "UTC" into minutes east of UTC.
std::optional<int> parseUtcOffset(std::string_view text);

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

/// The proleptic Gregorian date of a day number (days since 1970-01-01, may be negative).
CivilDate civilFromDays(std::int64_t days);

/// Days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t daysFromCivil(std::int64_t year, unsigned month, unsigned day);

}  // namespace gatherd::json
