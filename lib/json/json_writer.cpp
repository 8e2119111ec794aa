#include "gatherd/lib/json/json_writer.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace gatherd::json {
namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0 if it is invalid.
std::size_t utf8SequenceLength(std::string_view text, std::size_t i) {
  const auto byte = static_cast<unsigned char>(text[i]);
  std::size_t length = 0;
  unsigned min_code = 0;
  unsigned code = 0;
  if (byte < 0x80) return 1;
  if ((byte & 0xE0) == 0xC0) {
    length = 2;
    code = byte & 0x1F;
    min_code = 0x80;
  } else if ((byte & 0xF0) == 0xE0) {
    length = 3;
    code = byte & 0x0F;
    min_code = 0x800;
  } else if ((byte & 0xF8) == 0xF0) {
    length = 4;
    code = byte & 0x07;
    min_code = 0x10000;
  } else
    return 0;
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    code = (code << 6) | (next & 0x3F);
  }
  if (code < min_code || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

}  // namespace

void appendString(std::string& out, std::string_view text) {
  out.push_back('"');
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const std::size_t length = utf8SequenceLength(text, i);
      if (length == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

void appendDouble(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buffer[32];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (error != std::errc()) {
    out += "null";
    return;
  }
  out.append(buffer, end);
}

void appendInt(std::string& out, std::int64_t value) {
  char buffer[24];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  (void)error;
  out.append(buffer, end);
}

void appendValue(std::string& out, const sdk::FieldValue& value) {
  switch (value.index()) {
    case 0: out += "null"; break;
    case 1: out += std::get<bool>(value) ? "true" : "false"; break;
    case 2: appendInt(out, std::get<std::int64_t>(value)); break;
    case 3: appendDouble(out, std::get<double>(value)); break;
    default: appendString(out, std::get<std::string>(value)); break;
  }
}

void Writer::separator() {
  if (need_comma_) out_.push_back(',');
  need_comma_ = true;
}

Writer& Writer::beginObject() {
  separator();
  out_.push_back('{');
  need_comma_ = false;
  return *this;
}
Writer& Writer::endObject() {
  out_.push_back('}');
  need_comma_ = true;
  return *this;
}
Writer& Writer::beginArray() {
  separator();
  out_.push_back('[');
  need_comma_ = false;
  return *this;
}
Writer& Writer::endArray() {
  out_.push_back(']');
  need_comma_ = true;
  return *this;
}
Writer& Writer::key(std::string_view name) {
  separator();
  appendString(out_, name);
  out_.push_back(':');
  need_comma_ = false;
  return *this;
}
Writer& Writer::string(std::string_view text) {
  separator();
  appendString(out_, text);
  return *this;
}
Writer& Writer::integer(std::int64_t value) {
  separator();
  appendInt(out_, value);
  return *this;
}
Writer& Writer::number(double value) {
  separator();
  appendDouble(out_, value);
  return *this;
}
Writer& Writer::boolean(bool value) {
  separator();
  out_ += value ? "true" : "false";
  return *this;
}
Writer& Writer::null() {
  separator();
  out_ += "null";
  return *this;
}
Writer& Writer::value(const sdk::FieldValue& value) {
  separator();
  appendValue(out_, value);
  return *this;
}
Writer& Writer::raw(std::string_view json) {
  separator();
  out_.append(json);
  return *this;
}

}  // namespace gatherd::json
