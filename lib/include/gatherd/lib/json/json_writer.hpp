#pragma once
// A small, fast JSON writer: the hot paths (SSE fan-out, API pages, sink payloads) build
// documents of known shape, where a DOM would only cost allocations.

#include <cstdint>
#include <string>
#include <string_view>

#include "gatherd/sdk/record.hpp"

namespace gatherd::json {

/// Appends `text` as a quoted JSON string (UTF-8 passes through; control characters escaped;
/// invalid UTF-8 bytes become U+FFFD so the output is always valid JSON).
void appendString(std::string& out, std::string_view text);
/// Appends a finite double in shortest round-trip form; NaN/inf become null.
void appendDouble(std::string& out, double value);
void appendInt(std::string& out, std::int64_t value);
/// Appends a typed field value (null, bool, int, double, string).
void appendValue(std::string& out, const sdk::FieldValue& value);

/// Builds one JSON object or array incrementally; commas are handled for you.
/// Example: ObjectWriter w(out); w.key("a").value(1); w.close();
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  Writer& beginObject();
  Writer& endObject();
  Writer& beginArray();
  Writer& endArray();
  Writer& key(std::string_view name);
  Writer& string(std::string_view text);
  Writer& integer(std::int64_t value);
  Writer& number(double value);
  Writer& boolean(bool value);
  Writer& null();
  Writer& value(const sdk::FieldValue& value);
  /// Inserts already-serialised JSON as a value.
  Writer& raw(std::string_view json);
  std::string& out() { return out_; }

 private:
  void separator();
  std::string& out_;
  bool need_comma_ = false;
};

}  // namespace gatherd::json
