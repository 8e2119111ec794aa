#include "field_codec.hpp"

#include <sqlite3.h>

#include "gatherd/lib/storage/flat_fields.hpp"

namespace gatherd::plugins::sqlite {

sdk::Fields decodeFields(Connection& connection, std::string_view json) {
  sdk::Fields fields;
  if (json.empty()) return fields;
  if (auto parsed = parseFlatObject(json)) return std::move(*parsed);
  Statement& statement = connection.cached(
      "SELECT key, type, CASE WHEN type IN ('object', 'array') THEN value ELSE atom END "
      "FROM json_each(?) WHERE json_valid(?1)");
  statement.bind(1, json);
  while (statement.step()) {
    std::string name = statement.getText(0);
    const std::string_view type = statement.viewText(1);
    if (type == "integer") {
      fields.emplace(std::move(name), statement.getInt(2));
    } else if (type == "real") {
      fields.emplace(std::move(name), statement.getDouble(2));
    } else if (type == "text" || type == "object" || type == "array") {
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
