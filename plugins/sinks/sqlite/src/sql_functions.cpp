// The SQL functions the schema and the migrations call (registerFunctions, migrations.hpp).
#include <sstream>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <sqlite3.h>

#include "gatherd/lib/storage/error_normalizer.hpp"
#include "gatherd/sdk/support/redaction.hpp"
#include "migrations.hpp"

namespace gatherd::plugins::sqlite {
namespace {

void errorKeyFunction(sqlite3_context* context, int, sqlite3_value** arguments) {
  if (sqlite3_value_type(arguments[0]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  const auto* text = sqlite3_value_text(arguments[0]);
  const int size = sqlite3_value_bytes(arguments[0]);
  const std::string key = storage::normaliseErrorMessage(
      std::string_view(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)));
  sqlite3_result_text(context, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
}

// Replaces the value of every secret-named member (apiKey, cookie, ...) at any depth; true when
// one was found.
bool maskSecretMembers(const Poco::Dynamic::Var& value) {
  bool masked = false;
  if (value.type() == typeid(Poco::JSON::Object::Ptr)) {
    Poco::JSON::Object::Ptr object = value.extract<Poco::JSON::Object::Ptr>();
    if (object.isNull()) return false;
    std::vector<std::string> names;
    object->getNames(names);
    for (const auto& name : names) {
      if (gatherd::sdk::isSecretKeyName(name) && !object->get(name).isEmpty()) {
        object->set(name, std::string("[redacted]"));
        masked = true;
      } else {
        masked = maskSecretMembers(object->get(name)) || masked;
      }
    }
  } else if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
    Poco::JSON::Array::Ptr array = value.extract<Poco::JSON::Array::Ptr>();
    if (array.isNull()) return false;
    for (std::size_t i = 0; i < array->size(); ++i) {
      masked = maskSecretMembers(array->get(static_cast<unsigned>(i))) || masked;
    }
  }
  return masked;
}

// gatherd_redact_json(text): a seed-era payload or raw response as gatherd keeps one: NULL when
// it is not a JSON object or array, secret-named members masked, else the text unchanged.
void redactJsonFunction(sqlite3_context* context, int, sqlite3_value** arguments) {
  if (sqlite3_value_type(arguments[0]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  const auto* text = sqlite3_value_text(arguments[0]);
  const std::string json(reinterpret_cast<const char*>(text),
                         static_cast<std::size_t>(sqlite3_value_bytes(arguments[0])));
  try {
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));  // keep the member order
    const Poco::Dynamic::Var root = parser.parse(json);
    if (root.type() != typeid(Poco::JSON::Object::Ptr) &&
        root.type() != typeid(Poco::JSON::Array::Ptr)) {
      sqlite3_result_null(context);
      return;
    }
    if (!maskSecretMembers(root)) {
      sqlite3_result_text(context, json.data(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
      return;
    }
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(root, out);
    const std::string masked = out.str();
    sqlite3_result_text(context, masked.data(), static_cast<int>(masked.size()), SQLITE_TRANSIENT);
  } catch (...) {
    sqlite3_result_null(context);  // not JSON: nothing of it is kept
  }
}

}  // namespace

void registerFunctions(Connection& connection) {
  const int rc = sqlite3_create_function_v2(connection.handle(), "gatherd_error_key", 1,
                                            SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                            &errorKeyFunction, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw SqliteError(rc, "cannot register gatherd_error_key");
  const int redact_rc = sqlite3_create_function_v2(connection.handle(), "gatherd_redact_json", 1,
                                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                                   &redactJsonFunction, nullptr, nullptr, nullptr);
  if (redact_rc != SQLITE_OK) throw SqliteError(redact_rc, "cannot register gatherd_redact_json");
}

}  // namespace gatherd::plugins::sqlite
