#include "core/config/env_file.hpp"

#include <catch2/catch.hpp>

#include "config_test_support.hpp"
#include "core/config/daemon_config.hpp"

using gatherd::core::ConfigLocation;
using gatherd::core::EnvLookup;
using gatherd::core::expandVariables;
using gatherd::core::loadDaemonConfig;
using gatherd::core::makeEnvLookup;
using gatherd::core::parseEnvFile;
using gatherd::core::testing::requireConfigError;
using gatherd::core::testing::ScopedEnv;
using gatherd::core::testing::TempDir;
using gatherd::core::testing::uniqueEnvName;

namespace {

EnvLookup mapLookup(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    if (const auto it = values.find(name); it != values.end()) return it->second;
    return std::nullopt;
  };
}

}  // namespace

TEST_CASE("env: .env syntax", "[env]") {
  TempDir dir;
  const std::string path = dir.write(".env",
                                     "# comment\n"
                                     "\n"
                                     "PLAIN=value\n"
                                     "  SPACED  =  spaced value  \n"
                                     "export EXPORTED=yes\n"
                                     "DOUBLE=\"a \\\"quoted\\\" \\$x\\nline\" # trailing comment\n"
                                     "SINGLE='no \\n escapes # here'\n"
                                     "OTHER_ESCAPE=\"a\\qb\"\n"
                                     "BARE=text # comment\n"
                                     "HASH=a#b\n"
                                     "EMPTY=\n"
                                     "COOKIE=share-session=abc==\n"
                                     "REPEATED=first\n"
                                     "REPEATED=second\r\n");
  const auto values = parseEnvFile(path);
  CHECK(values.at("PLAIN") == "value");
  CHECK(values.at("SPACED") == "spaced value");
  CHECK(values.at("EXPORTED") == "yes");
  CHECK(values.at("DOUBLE") == "a \"quoted\" $x\nline");
  CHECK(values.at("SINGLE") == "no \\n escapes # here");
  CHECK(values.at("BARE") == "text");
  CHECK(values.at("HASH") == "a#b");
  CHECK(values.at("EMPTY").empty());
  CHECK(values.at("COOKIE") == "share-session=abc==");
  CHECK(values.at("REPEATED") == "second");
  CHECK(values.at("OTHER_ESCAPE") == "a\\qb");
  CHECK(values.size() == 11);
}

TEST_CASE("env: malformed .env lines are errors with file and line", "[env]") {
  TempDir dir;
  SECTION("no '='") {
    const std::string path = dir.write(".env", "A=1\nJUST_A_WORD\n");
    const auto error = requireConfigError([&] { parseEnvFile(path); });
    CHECK(error.location().file == path);
    CHECK(error.location().line == 2);
  }
  SECTION("a bad name") {
    const std::string path = dir.write(".env", "\n\n1ABC=1\n");
    const auto error = requireConfigError([&] { parseEnvFile(path); });
    CHECK(error.location().line == 3);
    CHECK_THAT(error.what(), Catch::Contains("invalid variable name"));
  }
  SECTION("an unterminated quote") {
    const std::string path = dir.write(".env", "A=\"open\n");
    const auto error = requireConfigError([&] { parseEnvFile(path); });
    CHECK(error.location().line == 1);
    CHECK(error.location().key == "A");
    CHECK_THAT(error.what(), Catch::Contains("unterminated double quote"));
  }
  SECTION("text after a closing quote") {
    const std::string path = dir.write(".env", "A='x' y\n");
    const auto error = requireConfigError([&] { parseEnvFile(path); });
    CHECK_THAT(error.what(), Catch::Contains("after the closing quote"));
  }
}

TEST_CASE("env: process environment wins over .env.local, which wins over .env", "[env]") {
  TempDir dir;
  const auto only_env = uniqueEnvName("ONLY_ENV");
  const auto in_both = uniqueEnvName("IN_BOTH");
  const auto everywhere = uniqueEnvName("EVERYWHERE");
  const auto nowhere = uniqueEnvName("NOWHERE");
  dir.write(".env",
            only_env + "=from-env\n" + in_both + "=from-env\n" + everywhere + "=from-env\n");
  dir.write(".env.local", in_both + "=from-local\n" + everywhere + "=from-local\n");
  const ScopedEnv process(everywhere, "from-process");

  const auto lookup = makeEnvLookup(dir.path().string());
  CHECK(lookup(only_env) == "from-env");
  CHECK(lookup(in_both) == "from-local");
  CHECK(lookup(everywhere) == "from-process");
  CHECK_FALSE(lookup(nowhere).has_value());
}

TEST_CASE("env: a process variable set to empty still wins", "[env]") {
  TempDir dir;
  const auto name = uniqueEnvName("EMPTY_WINS");
  dir.write(".env", name + "=from-file\n");
  const ScopedEnv process(name, "");
  CHECK(makeEnvLookup(dir.path().string())(name) == "");
}

TEST_CASE("env: missing .env files are fine, a broken one is an error", "[env]") {
  TempDir dir;
  const auto name = uniqueEnvName("MISSING");
  CHECK_FALSE(makeEnvLookup(dir.path().string())(name).has_value());

  const auto local = dir.write(".env.local", "oops\n");
  const auto error = requireConfigError([&] { makeEnvLookup(dir.path().string()); });
  CHECK(error.location().file == local);
  CHECK(error.location().line == 1);
}

TEST_CASE("env: ${VAR}, ${VAR:-default} and $$", "[env]") {
  const auto env = mapLookup({{"HOST", "example.test"}, {"EMPTY", ""}, {"PORT", "8443"}});
  const std::string where = "a.ini:3: [s] k";
  CHECK(expandVariables("https://${HOST}:${PORT}/x", env, where) == "https://example.test:8443/x");
  CHECK(expandVariables("${UNSET:-fallback}", env, where) == "fallback");
  CHECK(expandVariables("${HOST:-fallback}", env, where) == "example.test");
  CHECK(expandVariables("${EMPTY:-fallback}", env, where) == "fallback");
  CHECK(expandVariables("[${EMPTY}]", env, where) == "[]");
  CHECK(expandVariables("${UNSET:-}", env, where).empty());
  CHECK(expandVariables("${UNSET:-a b:c}", env, where) == "a b:c");
  CHECK(expandVariables("cost $$5 and $HOST and $", env, where) == "cost $5 and $HOST and $");
  CHECK(expandVariables("$${HOST}", env, where) == "${HOST}");
  CHECK(expandVariables("no variables", env, where) == "no variables");
}

TEST_CASE("env: an unset variable is an error naming where and which", "[env]") {
  const auto env = mapLookup({});
  const auto error = requireConfigError(
      [&] { expandVariables("x${XY_SESSION_COOKIE_VALUE}", env, "a.ini:7: [source.xy] cookie"); });
  CHECK_THAT(error.what(), Catch::StartsWith("a.ini:7: [source.xy] cookie: environment variable "
                                             "XY_SESSION_COOKIE_VALUE is not set"));

  const auto structured = requireConfigError([&] {
    expandVariables("${MISSING}", env, ConfigLocation{"b.ini", 2, "http", "token"});
  });
  CHECK(structured.location().line == 2);
  CHECK(structured.location().key == "token");
  CHECK_THAT(structured.what(), Catch::StartsWith("b.ini:2: [http] token: environment variable "
                                                  "MISSING is not set"));
}

TEST_CASE("env: malformed references are errors", "[env]") {
  const auto env = mapLookup({{"A", "1"}});
  CHECK_THAT(requireConfigError([&] { expandVariables("${A", env, "w"); }).what(),
             Catch::StartsWith("w: unterminated ${"));
  CHECK_THAT(requireConfigError([&] { expandVariables("${}", env, "w"); }).what(),
             Catch::StartsWith("w: invalid variable reference"));
  CHECK_THAT(requireConfigError([&] { expandVariables("${1A}", env, "w"); }).what(),
             Catch::StartsWith("w: invalid variable reference"));
  CHECK_THAT(requireConfigError([&] { expandVariables("${A-x}", env, "w"); }).what(),
             Catch::StartsWith("w: invalid variable reference"));
}

TEST_CASE("env: loadDaemonConfig expands from .env beside the config", "[env]") {
  TempDir dir;
  const auto cookie = uniqueEnvName("COOKIE");
  const auto base = uniqueEnvName("BASE");
  dir.write("conf/.env", cookie + "=\"from dot env\"\n" + base + "=https://file.test\n");
  const ScopedEnv process(base, "https://process.test");
  const std::string path = dir.write("conf/gatherd.ini",
                                     "[source.xy]\n"
                                     "plugin = xychatai\n"
                                     "cookie = ${" +
                                         cookie +
                                         "}\n"
                                         "base_url = ${" +
                                         base + "}/api\n");
  const auto config = loadDaemonConfig(path);
  REQUIRE(config.sources.size() == 1);
  const auto& entries = config.sources[0].entries;
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].value == "from dot env");
  CHECK(entries[1].value == "https://process.test/api");
}

TEST_CASE("env: an unset variable in the config names file, line, section and key", "[env]") {
  TempDir dir;
  const auto name = uniqueEnvName("UNSET");
  const std::string path = dir.write("gatherd.ini",
                                     "[gatherd]\n"
                                     "interval = 10s\n"
                                     "\n"
                                     "[source.xy]\n"
                                     "plugin = xychatai\n"
                                     "cookie = ${" +
                                         name + "}\n");
  const auto error = requireConfigError([&] { loadDaemonConfig(path); });
  CHECK(error.location().file == path);
  CHECK(error.location().line == 6);
  CHECK(error.location().section == "source.xy");
  CHECK(error.location().key == "cookie");
  CHECK_THAT(error.what(),
             Catch::StartsWith(path + ":6: [source.xy] cookie: environment variable " + name +
                               " is not set"));
}

TEST_CASE("env: the lookup is a snapshot taken when it is made", "[env]") {
  TempDir dir;
  const auto name = uniqueEnvName("LATER");
  const auto lookup = makeEnvLookup(dir.path().string());
  const ScopedEnv later(name, "set-after");
  CHECK_FALSE(lookup(name).has_value());
  CHECK(makeEnvLookup(dir.path().string())(name) == "set-after");
}
