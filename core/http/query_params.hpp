#pragma once
// Strict query-string parsing for the API: every bad value names its parameter.

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gatherd::core {

/// A client's mistake in one parameter: becomes 400 {"error": what(), "parameter": parameter()}.
class ParameterError : public std::runtime_error {
 public:
  ParameterError(std::string parameter, const std::string& message)
      : std::runtime_error(message), parameter_(std::move(parameter)) {}
  const std::string& parameter() const noexcept { return parameter_; }

 private:
  std::string parameter_;
};

/// Decodes %XX and '+' (as space). Returns nullopt for a malformed escape or an encoded NUL.
std::optional<std::string> percentDecode(std::string_view text, bool plus_is_space);

/// The parameters of one request. Parsing rejects malformed escapes and repeated names;
/// the typed getters reject unknown values. Empty values count as absent.
class QueryParams {
 public:
  /// Throws ParameterError for a malformed query string.
  explicit QueryParams(std::string_view query);

  /// Throws ParameterError naming the first parameter that is not in `allowed`.
  void allowOnly(std::initializer_list<std::string_view> allowed) const;

  std::optional<std::string> text(const std::string& name) const;
  /// An integer in [min, max].
  std::optional<std::int64_t> integer(const std::string& name, std::int64_t min,
                                      std::int64_t max) const;
  /// ISO-8601 (with or without offset; without = UTC) or UTC milliseconds.
  std::optional<std::int64_t> time(const std::string& name) const;
  /// A fixed UTC offset ("+08:00", "-05:30", "Z"), in minutes east; 0 when absent.
  int utcOffset(const std::string& name) const;
  /// One of `choices`.
  std::optional<std::string> choice(const std::string& name,
                                    std::initializer_list<std::string_view> choices) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace gatherd::core
