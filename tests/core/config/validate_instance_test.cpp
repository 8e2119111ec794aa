#include <catch2/catch.hpp>

#include "config_test_support.hpp"
#include "core/config/daemon_config.hpp"
#include "core/config/redaction.hpp"

using gatherd::core::DaemonConfig;
using gatherd::core::describeConfig;
using gatherd::core::EnvLookup;
using gatherd::core::loadDaemonConfig;
using gatherd::core::maskSecrets;
using gatherd::core::validateInstance;
using gatherd::core::testing::requireConfigError;
using gatherd::core::testing::TempDir;
using gatherd::sdk::ConfigKey;
using gatherd::sdk::ConfigSchema;
using gatherd::sdk::ConfigType;

namespace {

ConfigKey key(std::string name, ConfigType type, std::string default_value = {},
              bool required = false, bool secret = false, std::vector<std::string> choices = {}) {
  ConfigKey result;
  result.name = std::move(name);
  result.type = type;
  result.default_value = std::move(default_value);
  result.required = required;
  result.secret = secret;
  result.choices = std::move(choices);
  return result;
}

ConfigSchema upstreamSchema() {
  return {
      key("base_url", ConfigType::kString, "https://upstream.test"),
      key("cookie", ConfigType::kString, "", true, true),
      key("page_size", ConfigType::kInt, "20"),
      key("ratio", ConfigType::kDouble, "0.5"),
      key("verify_tls", ConfigType::kBool, "true"),
      key("request_timeout", ConfigType::kDuration, "30s"),
      key("mode", ConfigType::kString, "poll", false, false, {"poll", "push"}),
      key("ca_file", ConfigType::kPath, ""),
      key("state_dir", ConfigType::kPath, "state"),
  };
}

const EnvLookup kNoEnv = [](const std::string&) -> std::optional<std::string> {
  return std::nullopt;
};

DaemonConfig loadSource(const TempDir& dir, const std::string& body) {
  return loadDaemonConfig(
      dir.write("conf/gatherd.ini", "[source.acct]\nplugin = upstream\n" + body), kNoEnv);
}

gatherd::core::ConfigError validationError(const TempDir& dir, const std::string& body) {
  auto config = loadSource(dir, body);
  return requireConfigError(
      [&] { validateInstance(config, config.sources.at(0), upstreamSchema()); });
}

}  // namespace

TEST_CASE("validate: defaults are filled and values normalised", "[validate]") {
  TempDir dir;
  auto config = loadSource(dir,
                           "cookie = session=abcdef\n"
                           "page_size = +40\n"
                           "verify_tls = OFF\n"
                           "ca_file = ../certs/ca.pem\n");
  const auto validated = validateInstance(config, config.sources.at(0), upstreamSchema());
  CHECK(validated.instance() == "acct");
  CHECK(validated.getString("base_url") == "https://upstream.test");
  CHECK(validated.getString("cookie") == "session=abcdef");
  CHECK(validated.getInt("page_size") == 40);
  CHECK(validated.getDouble("ratio") == 0.5);
  CHECK(validated.getBool("verify_tls", true) == false);
  CHECK(validated.getString("verify_tls") == "false");
  CHECK(validated.getDurationMs("request_timeout") == 30'000);
  CHECK(validated.getString("mode") == "poll");
  CHECK(validated.getString("ca_file") == (dir.path() / "certs/ca.pem").string());
  CHECK(validated.getString("state_dir") == (dir.path() / "conf/state").string());
  CHECK(validated.values().size() == upstreamSchema().size());
}

TEST_CASE("validate: absent optional keys without default stay absent", "[validate]") {
  TempDir dir;
  auto config = loadSource(dir, "cookie = c0okie\n");
  const auto validated = validateInstance(config, config.sources.at(0), upstreamSchema());
  CHECK_FALSE(validated.has("ca_file"));
  CHECK(validated.has("state_dir"));
}

TEST_CASE("validate: secret values are collected for masking", "[validate]") {
  TempDir dir;
  auto config = loadSource(dir, "cookie = share-session=XYZ123\n");
  CHECK(config.secret_values.empty());
  validateInstance(config, config.sources.at(0), upstreamSchema());
  CHECK(config.secret_values == std::set<std::string>{"share-session=XYZ123"});
  CHECK(maskSecrets("sent Cookie: share-session=XYZ123", config.secret_values) ==
        "sent Cookie: ***");
}

TEST_CASE("validate: each bad value is an error on its own line", "[validate]") {
  TempDir dir;
  struct Case {
    std::string line_text;
    std::string key;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"page_size = 20x", "page_size", "expected an integer, got \"20x\""},
      {"page_size = 1.5", "page_size", "expected an integer"},
      {"page_size = 99999999999999999999", "page_size", "expected an integer"},
      {"ratio = half", "ratio", "expected a number, got \"half\""},
      {"ratio = nan", "ratio", "expected a number"},
      {"verify_tls = maybe", "verify_tls", "expected true/false, yes/no, on/off or 1/0"},
      {"request_timeout = 5 minutes", "request_timeout", "expected a duration"},
      {"request_timeout = 5d", "request_timeout", "expected a duration"},
      {"mode = pull", "mode", "expected one of: poll, push, got \"pull\""},
      {"cookie =", "cookie", "must not be empty"},
  };
  for (const auto& c : cases) {
    INFO(c.line_text);
    const auto error = validationError(dir, "base_url = https://x.test\n" + c.line_text + "\n");
    CHECK(error.location().file == (dir.path() / "conf/gatherd.ini").string());
    CHECK(error.location().line == 4);
    CHECK(error.location().section == "source.acct");
    CHECK(error.location().key == c.key);
    CHECK_THAT(error.what(), Catch::Contains(c.message));
  }
}

TEST_CASE("validate: an unknown key names its line and suggests the right one", "[validate]") {
  TempDir dir;
  const auto error = validationError(dir, "cookie = c\n\npagesize = 10\n");
  CHECK(error.location().line == 5);
  CHECK(error.location().key == "pagesize");
  CHECK_THAT(error.what(), Catch::Contains("unknown key for plugin 'upstream'") &&
                               Catch::Contains("did you mean 'page_size'?") &&
                               Catch::Contains("accepted keys: base_url, cookie, page_size"));

  const auto far = validationError(dir, "cookie = c\ncolour = blue\n");
  CHECK_THAT(far.what(), !Catch::Contains("did you mean"));
}

TEST_CASE("validate: a missing required key names the section line", "[validate]") {
  TempDir dir;
  const auto config_path = dir.write("conf/gatherd.ini",
                                     "[gatherd]\n"
                                     "\n"
                                     "[source.acct]\n"
                                     "plugin = upstream\n"
                                     "page_size = 5\n");
  auto config = loadDaemonConfig(config_path, kNoEnv);
  const auto error =
      requireConfigError([&] { validateInstance(config, config.sources.at(0), upstreamSchema()); });
  CHECK(error.location().line == 3);
  CHECK(error.location().key == "cookie");
  CHECK_THAT(error.what(), Catch::EndsWith(":3: [source.acct] cookie: required key is missing "
                                           "(plugin 'upstream')"));
}

TEST_CASE("validate: a bad secret value is never quoted in the error", "[validate]") {
  TempDir dir;
  auto config = loadSource(dir, "token = hunter2-secret\n");
  ConfigSchema schema = {key("token", ConfigType::kInt, "", true, true)};
  const auto error =
      requireConfigError([&] { validateInstance(config, config.sources.at(0), schema); });
  CHECK(error.location().key == "token");
  CHECK_THAT(error.what(), Catch::Contains("expected an integer"));
  CHECK_THAT(error.what(), !Catch::Contains("hunter2"));
}

TEST_CASE("validate: an invalid plugin default is reported against the plugin", "[validate]") {
  TempDir dir;
  auto config = loadSource(dir, "");
  ConfigSchema schema = {key("retries", ConfigType::kInt, "three")};
  const auto error =
      requireConfigError([&] { validateInstance(config, config.sources.at(0), schema); });
  CHECK(error.location().line == 1);
  CHECK_THAT(error.what(), Catch::Contains("the default of plugin 'upstream' is invalid"));
}

TEST_CASE("describeConfig: every section and key, secrets as ***", "[describe]") {
  TempDir dir;
  auto config = loadDaemonConfig(dir.write("conf/gatherd.ini",
                                           "[gatherd]\n"
                                           "interval = 5000ms\n"
                                           "[http]\n"
                                           "token = api-token-123\n"
                                           "cors_origins = http://a.test,http://b.test\n"
                                           "[source.acct]\n"
                                           "plugin = upstream\n"
                                           "cookie = cookie-value-456\n"
                                           "page_size = 7\n"
                                           "extra = 1\n"
                                           "[sink.out]\n"
                                           "plugin = stdout\n"
                                           "note = mentions api-token-123 by mistake\n"),
                                 kNoEnv);
  const auto text = describeConfig(config, {{"upstream", upstreamSchema()}});
  INFO(text);
  CHECK_THAT(text, Catch::Contains("[gatherd]\ninterval = 5s\ntimeout = 1m\nmax_parallel = 6\n"));
  CHECK_THAT(text, Catch::Contains("[http]\nbind = 127.0.0.1:8080\n"));
  CHECK_THAT(text, Catch::Contains("token = ***\n"));
  CHECK_THAT(text, Catch::Contains("cors_origins = http://a.test, http://b.test\n"));
  CHECK_THAT(text, Catch::Contains("[source.acct]\nplugin = upstream\n"));
  CHECK_THAT(text, Catch::Contains("base_url = https://upstream.test  ; default\n"));
  CHECK_THAT(text, Catch::Contains("cookie = ***\n"));
  CHECK_THAT(text, Catch::Contains("page_size = 7\n"));
  CHECK_THAT(text, Catch::Contains("ca_file = ; not set\n"));
  CHECK_THAT(text, Catch::Contains("state_dir = " + (dir.path() / "conf/state").string() +
                                   "  ; default\n"));
  CHECK_THAT(text, Catch::Contains("extra = 1  ; UNKNOWN key\n"));
  CHECK_THAT(text, Catch::Contains("[sink.out]\nplugin = stdout\n; plugin 'stdout' is not loaded"));
  CHECK_THAT(text, Catch::Contains("note = mentions *** by mistake\n"));
  CHECK_THAT(text, !Catch::Contains("api-token-123"));
  CHECK_THAT(text, !Catch::Contains("cookie-value-456"));
}

TEST_CASE("describeConfig: problems are shown, not thrown", "[describe]") {
  TempDir dir;
  auto config = loadSource(dir, "page_size = many\n");
  const auto text = describeConfig(config, {{"upstream", upstreamSchema()}});
  CHECK_THAT(text, Catch::Contains("cookie = ; MISSING (required)\n"));
  CHECK_THAT(text, Catch::Contains("page_size = many  ; INVALID: expected an integer"));
  CHECK_THAT(text, Catch::Contains("token = ; not set"));
}

TEST_CASE("describeConfig: values from the environment stay hidden when the plugin is unknown",
          "[describe]") {
  TempDir dir;
  const EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "SINK_PASSWORD") return "pa55-from-env";
    return std::nullopt;
  };
  const auto config = loadDaemonConfig(dir.write("conf/gatherd.ini",
                                                 "[sink.remote]\n"
                                                 "plugin = webhook\n"
                                                 "url = https://hook.test\n"
                                                 "password = ${SINK_PASSWORD}\n"),
                                       env);
  REQUIRE(config.sinks.at(0).entries.at(1).value == "pa55-from-env");
  const auto text = describeConfig(config, {});
  INFO(text);
  CHECK_THAT(text, Catch::Contains("url = https://hook.test\n"));
  CHECK_THAT(text, Catch::Contains("password = ${SINK_PASSWORD}  ; not expanded: plugin unknown"));
  CHECK_THAT(text, !Catch::Contains("pa55-from-env"));
}
