#include "field_codec.hpp"

#include <sqlite3.h>

#include "json/json_writer.hpp"

namespace gatherd::plugins::sqlite {

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

sdk::Fields decodeFields(Connection& connection, std::string_view json) {
  sdk::Fields fields;
  if (json.empty()) return fields;
  Statement& statement = connection.cached(
      "SELECT key, type, atom FROM json_each(?) WHERE json_valid(?1)");
  statement.bind(1, json);
  while (statement.step()) {
    std::string name = statement.getText(0);
    const std::string_view type = statement.viewText(1);
    if (type == "integer") {
      fields.emplace(std::move(name), statement.getInt(2));
    } else if (type == "real") {
      fields.emplace(std::move(name), statement.getDouble(2));
    } else if (type == "text") {
      fields.emplace(std::move(name), statement.getText(2));
    } else if (type == "true" || type == "false") {
      fields.emplace(std::move(name), type == "true");
    } else if (type == "null") {
      fields.emplace(std::move(name), std::monostate{});
    }
  }
  statement.start();
  return fields;
}

}  // namespace gatherd::plugins::sqlite
