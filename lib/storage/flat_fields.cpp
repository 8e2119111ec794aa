#include "gatherd/lib/storage/flat_fields.hpp"

#include <charconv>

#include "gatherd/lib/json/json_writer.hpp"

namespace gatherd::storage {

std::string encodeFields(const sdk::Fields& fields) {
  std::string out;
  out.reserve(64 + fields.size() * 24);
  out.push_back('{');
  bool first = true;
  for (const auto& [name, value] : fields) {
    if (!first) out.push_back(',');
    first = false;
    json::appendString(out, name);
    out.push_back(':');
    const std::size_t start = out.size();
    json::appendValue(out, value);
    if (std::holds_alternative<double>(value) &&
        out.find_first_of(".en", start) == std::string::npos) {
      out += ".0";
    }
  }
  out.push_back('}');
  return out;
}

namespace {

class FlatParser {
 public:
  explicit FlatParser(std::string_view text) : text_(text) {}

  std::optional<sdk::Fields> parse() {
    sdk::Fields fields;
    skipSpace();
    if (!consume('{')) return std::nullopt;
    skipSpace();
    if (consume('}')) return finish(std::move(fields));
    while (true) {
      skipSpace();
      std::string name;
      if (!parseString(name)) return std::nullopt;
      skipSpace();
      if (!consume(':')) return std::nullopt;
      skipSpace();
      sdk::FieldValue value;
      if (!parseValue(value)) return std::nullopt;
      fields.insert_or_assign(std::move(name), std::move(value));
      skipSpace();
      if (consume('}')) return finish(std::move(fields));
      if (!consume(',')) return std::nullopt;
    }
  }

 private:
  std::optional<sdk::Fields> finish(sdk::Fields fields) {
    skipSpace();
    if (position_ != text_.size()) return std::nullopt;
    return fields;
  }
  void skipSpace() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\n' ||
                                        text_[position_] == '\t' || text_[position_] == '\r')) {
      ++position_;
    }
  }
  bool consume(char c) {
    if (position_ < text_.size() && text_[position_] == c) {
      ++position_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (text_.substr(position_, word.size()) != word) return false;
    position_ += word.size();
    return true;
  }
  bool hex4(std::uint32_t& out) {
    if (position_ + 4 > text_.size()) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[position_++];
      out <<= 4;
      if (c >= '0' && c <= '9')
        out |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        out |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        out |= static_cast<std::uint32_t>(c - 'A' + 10);
      else
        return false;
    }
    return true;
  }
  static void appendUtf8(std::string& out, std::uint32_t code) {
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (code >> 6)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (code >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (code >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }
  bool parseString(std::string& out) {
    if (!consume('"')) return false;
    while (position_ < text_.size()) {
      const char c = text_[position_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (position_ >= text_.size()) return false;
      const char escape = text_[position_++];
      switch (escape) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          std::uint32_t code = 0;
          if (!hex4(code)) return false;
          if (code >= 0xD800 && code < 0xDC00) {
            std::uint32_t low = 0;
            if (!literal("\\u") || !hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code < 0xE000) {
            return false;
          }
          appendUtf8(out, code);
          break;
        }
        default: return false;
      }
    }
    return false;
  }
  bool parseValue(sdk::FieldValue& value) {
    if (position_ >= text_.size()) return false;
    const char c = text_[position_];
    if (c == '"') {
      std::string text;
      if (!parseString(text)) return false;
      value = std::move(text);
      return true;
    }
    if (literal("true")) {
      value = true;
      return true;
    }
    if (literal("false")) {
      value = false;
      return true;
    }
    if (literal("null")) {
      value = std::monostate{};
      return true;
    }
    const std::size_t start = position_;
    bool fraction = false;
    while (position_ < text_.size()) {
      const char d = text_[position_];
      if (d == '.' || d == 'e' || d == 'E')
        fraction = true;
      else if (!((d >= '0' && d <= '9') || d == '-' || d == '+'))
        break;
      ++position_;
    }
    const std::string_view number = text_.substr(start, position_ - start);
    if (number.empty()) return false;
    const char* end = number.data() + number.size();
    if (!fraction) {
      std::int64_t integer = 0;
      auto result = std::from_chars(number.data(), end, integer);
      if (result.ec == std::errc() && result.ptr == end) {
        value = integer;
        return true;
      }
    }
    double real = 0;
    auto result = std::from_chars(number.data(), end, real);
    if (result.ec != std::errc() || result.ptr != end) return false;
    value = real;
    return true;
  }

  std::string_view text_;
  std::size_t position_ = 0;
};

}  // namespace

std::optional<sdk::Fields> parseFlatObject(std::string_view json) {
  return FlatParser(json).parse();
}

}  // namespace gatherd::storage
