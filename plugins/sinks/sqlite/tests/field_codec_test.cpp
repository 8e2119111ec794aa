#include "field_codec.hpp"

#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace gatherd;
using namespace gatherd::plugins::sqlite;

TEST_CASE("fields survive encoding and decoding with their types") {
  sdk::Fields fields;
  fields["int"] = std::int64_t{-9'007'199'254'740'993};
  fields["whole_double"] = 2.0;
  fields["double"] = 0.1;
  fields["tiny"] = 1e-300;
  fields["text"] = std::string("caf\xc3\xa9 \"q\" \\ \n\t\x01 \xf0\x9f\x98\x80");
  fields["yes"] = true;
  fields["no"] = false;
  fields["nothing"] = std::monostate{};
  fields["empty"] = std::string();
  const std::string json = encodeFields(fields);
  auto parsed = parseFlatObject(json);
  REQUIRE(parsed);
  CHECK(*parsed == fields);

  testing::TempDir dir;
  Connection connection(dir.file("codec.db"), 200);
  CHECK(decodeFields(connection, json) == fields);
}

TEST_CASE("the flat parser reads escapes and refuses what it does not understand") {
  auto parsed = parseFlatObject(R"( { "a" : "\u00e9\ud83d\ude00\/" , "b":1.5e3,"c":-0 } )");
  REQUIRE(parsed);
  CHECK(std::get<std::string>(parsed->at("a")) == "\xc3\xa9\xf0\x9f\x98\x80/");
  CHECK(std::get<double>(parsed->at("b")) == 1500.0);
  CHECK(std::get<std::int64_t>(parsed->at("c")) == 0);
  CHECK_FALSE(parseFlatObject(R"({"a":{"b":1}})"));
  CHECK_FALSE(parseFlatObject(R"({"a":1,})"));
  CHECK_FALSE(parseFlatObject(R"({"a":"\ud83d"})"));
  CHECK_FALSE(parseFlatObject(R"({"a":1} x)"));
  CHECK_FALSE(parseFlatObject("not json"));
}

TEST_CASE("nested payloads (from seed-era rows) still decode through SQLite") {
  testing::TempDir dir;
  Connection connection(dir.file("nested.db"), 200);
  const sdk::Fields fields = decodeFields(connection, R"({"model":"m","usage":{"in":1},"n":2})");
  CHECK(std::get<std::string>(fields.at("model")) == "m");
  CHECK(std::get<std::string>(fields.at("usage")) == R"({"in":1})");
  CHECK(std::get<std::int64_t>(fields.at("n")) == 2);
  CHECK(decodeFields(connection, "not json").empty());
}
