#include "core/config/daemon_config.hpp"

#include <catch2/catch.hpp>

#include "config_test_support.hpp"
#include "core/alerts/alert_engine.hpp"

using gatherd::core::DaemonConfig;
using gatherd::core::EnvLookup;
using gatherd::core::formatDuration;
using gatherd::core::InstanceSection;
using gatherd::core::loadDaemonConfig;
using gatherd::core::testing::requireConfigError;
using gatherd::core::testing::TempDir;

namespace {

const EnvLookup kNoEnv = [](const std::string&) -> std::optional<std::string> {
  return std::nullopt;
};

DaemonConfig loadText(const TempDir& dir, const std::string& text) {
  return loadDaemonConfig(dir.write("conf/gatherd.ini", text), kNoEnv);
}

gatherd::core::ConfigError loadError(const TempDir& dir, const std::string& text) {
  return requireConfigError([&] { loadText(dir, text); });
}

}  // namespace

TEST_CASE("daemon config: an empty file gives the documented defaults", "[daemon]") {
  TempDir dir;
  const auto config = loadText(dir, "");
  const auto conf_dir = (dir.path() / "conf").string();
  CHECK(config.file == conf_dir + "/gatherd.ini");
  CHECK(config.dir == conf_dir);
  CHECK(config.interval_ms == 10'000);
  CHECK(config.timeout_ms == 60'000);
  CHECK(config.max_parallel == 6);
  CHECK(config.plugin_dir == "/usr/lib/gatherd/plugins");
  CHECK(config.data_dir == (dir.path() / "data").string());
  CHECK(config.log_level == "info");
  CHECK(config.shutdown_grace_ms == 5'000);
  CHECK(config.http_bind == "127.0.0.1:8080");
  CHECK(config.http_web_root == (dir.path() / "web/dist").string());
  CHECK(config.http_token.empty());
  CHECK(config.http_cors_origins.empty());
  CHECK(config.http_threads == 2);
  CHECK(config.http_header_timeout_ms == 10'000);
  CHECK(config.http_keepalive_timeout_ms == 30'000);
  CHECK(config.http_max_connections == 4096);
  CHECK(config.spool_max_bytes == 256ll << 20);
  CHECK(config.spool_fsync);
  CHECK(config.alerts.enabled);
  CHECK(config.alerts.failure_window_ms == 15 * 60'000);
  CHECK(config.sources.empty());
  CHECK(config.sinks.empty());
  CHECK(config.secret_values.empty());
}

TEST_CASE("daemon config: the alert engine's built-in options are the [alerts] defaults",
          "[daemon]") {
  // The schema holds the defaults; AlertOptions{} (what the engine's tests and an embedder get)
  // must not drift from them.
  TempDir dir;
  const auto alerts = loadText(dir, "").alerts;
  const gatherd::core::AlertOptions engine;
  CHECK(alerts.enabled == engine.enabled);
  CHECK(alerts.failure_window_ms == engine.failure_window_ms);
  CHECK(alerts.failure_min_calls == engine.failure_min_calls);
  CHECK(alerts.failure_ratio == engine.failure_ratio);
  CHECK(alerts.source_down_windows == engine.source_down_windows);
  CHECK(alerts.quota_remaining == engine.quota_remaining);
  CHECK(alerts.forecast_window_ms == engine.forecast_window_ms);
  CHECK(alerts.expiry_warn_ms == engine.expiry_warn_ms);
}

TEST_CASE("daemon config: every [gatherd] and [http] key is read", "[daemon]") {
  TempDir dir;
  const auto config = loadText(dir,
                               "[gatherd]\n"
                               "INTERVAL = 250ms\n"
                               "timeout = 2m\n"
                               "max_parallel = 12\n"
                               "plugin_dir = plugins\n"
                               "data_dir = /var/lib/gatherd/\n"
                               "log_level = debug\n"
                               "shutdown_grace = 0\n"
                               "[http]\n"
                               "bind = 0.0.0.0:0\n"
                               "web_root = ../site/./dist\n"
                               "token = \"s3cret-token\"\n"
                               "cors_origins = http://a.test, ,http://b.test:5173 ,\n");
  CHECK(config.interval_ms == 250);
  CHECK(config.timeout_ms == 120'000);
  CHECK(config.max_parallel == 12);
  CHECK(config.plugin_dir == (dir.path() / "conf/plugins").string());
  CHECK(config.data_dir == "/var/lib/gatherd");
  CHECK(config.log_level == "debug");
  CHECK(config.shutdown_grace_ms == 0);
  CHECK(config.http_bind == "0.0.0.0:0");
  CHECK(config.http_web_root == (dir.path() / "site/dist").string());
  CHECK(config.http_token == "s3cret-token");
  CHECK(config.http_cors_origins ==
        std::vector<std::string>{"http://a.test", "http://b.test:5173"});
  CHECK(config.secret_values == std::set<std::string>{"s3cret-token"});
}

TEST_CASE("daemon config: durations", "[daemon][duration]") {
  TempDir dir;
  const auto interval = [&](const std::string& value) {
    return loadText(dir, "[gatherd]\ninterval = " + value + "\n").interval_ms;
  };
  CHECK(interval("100ms") == 100);
  CHECK(interval("10s") == 10'000);
  CHECK(interval("1m") == 60'000);
  CHECK(interval("2h") == 7'200'000);
  CHECK(interval("15") == 15'000);
  CHECK(interval(" 3s ") == 3'000);

  for (const std::string bad : {"10x", "1.5s", "-1s", "ms", "10 s", "ten", "10S"}) {
    INFO("value: " << bad);
    const auto error = loadError(dir, "[gatherd]\n\ninterval = " + bad + "\n");
    CHECK(error.location().line == 3);
    CHECK(error.location().section == "gatherd");
    CHECK(error.location().key == "interval");
    CHECK_THAT(error.what(), Catch::Contains("expected a duration"));
  }
  SECTION("an interval below 100ms") {
    const auto error = loadError(dir, "[gatherd]\ninterval = 99ms\n");
    CHECK_THAT(error.what(), Catch::EndsWith(":2: [gatherd] interval: must be at least 100ms"));
  }
  SECTION("a zero timeout") {
    const auto error = loadError(dir, "[gatherd]\ntimeout = 0s\n");
    CHECK(error.location().key == "timeout");
    CHECK_THAT(error.what(), Catch::Contains("must be more than 0"));
  }
  SECTION("a timeout shorter than the interval is allowed") {
    const auto config = loadText(dir, "[gatherd]\ninterval = 30s\ntimeout = 5s\n");
    CHECK(config.timeout_ms == 5'000);
  }
}

TEST_CASE("daemon config: formatDuration picks the largest exact unit", "[duration]") {
  CHECK(formatDuration(0) == "0ms");
  CHECK(formatDuration(250) == "250ms");
  CHECK(formatDuration(1'500) == "1500ms");
  CHECK(formatDuration(10'000) == "10s");
  CHECK(formatDuration(90'000) == "90s");
  CHECK(formatDuration(120'000) == "2m");
  CHECK(formatDuration(7'200'000) == "2h");
}

TEST_CASE("daemon config: bad [gatherd] values name their line", "[daemon]") {
  TempDir dir;
  SECTION("max_parallel out of range") {
    for (const std::string bad : {"0", "257", "-3"}) {
      const auto error = loadError(dir, "[gatherd]\nmax_parallel = " + bad + "\n");
      CHECK(error.location().line == 2);
      CHECK_THAT(error.what(), Catch::Contains("between 1 and 256"));
    }
    CHECK(loadText(dir, "[gatherd]\nmax_parallel = 256\n").max_parallel == 256);
    CHECK(loadText(dir, "[gatherd]\nmax_parallel = 1\n").max_parallel == 1);
  }
  SECTION("max_parallel not a number") {
    const auto error = loadError(dir, "[gatherd]\nmax_parallel = six\n");
    CHECK_THAT(error.what(), Catch::Contains("expected an integer, got \"six\""));
  }
  SECTION("an unknown log level") {
    const auto error = loadError(dir, "[gatherd]\nlog_level = verbose\n");
    CHECK(error.location().key == "log_level");
    CHECK_THAT(error.what(), Catch::Contains("expected one of: trace, debug, info, warn, error"));
  }
  SECTION("an empty path") {
    const auto error = loadError(dir, "[gatherd]\ndata_dir =\n");
    CHECK(error.location().key == "data_dir");
    CHECK_THAT(error.what(), Catch::Contains("must not be empty"));
  }
}

TEST_CASE("daemon config: [http] bind must be host:port", "[daemon]") {
  TempDir dir;
  CHECK(loadText(dir, "[http]\nbind = [::1]:9000\n").http_bind == "[::1]:9000");
  CHECK(loadText(dir, "[http]\nbind = localhost:65535\n").http_bind == "localhost:65535");
  for (const std::string bad :
       {"127.0.0.1", "127.0.0.1:", ":8080", "127.0.0.1:70000", "127.0.0.1:http", "::1:8080"}) {
    INFO("bind: " << bad);
    const auto error = loadError(dir, "[http]\n\n\nbind = " + bad + "\n");
    CHECK(error.location().line == 4);
    CHECK(error.location().key == "bind");
  }
}

TEST_CASE("daemon config: unknown keys and sections are errors with file:line", "[daemon]") {
  TempDir dir;
  SECTION("in [gatherd], with a suggestion") {
    const auto error = loadError(dir, "[gatherd]\ninterval = 10s\nintervall = 5s\n");
    CHECK(error.location().line == 3);
    CHECK(error.location().key == "intervall");
    CHECK_THAT(error.what(), Catch::Contains("unknown key for [gatherd]") &&
                                 Catch::Contains("did you mean 'interval'?"));
  }
  SECTION("in [http]") {
    const auto error = loadError(dir, "[http]\nport = 80\n");
    CHECK(error.location().line == 2);
    CHECK_THAT(error.what(), Catch::Contains("accepted keys: bind, web_root, token, cors_origins"));
  }
  SECTION("an unknown section") {
    const auto error = loadError(dir, "[gatherd]\n[database]\nfile = x\n");
    CHECK(error.location().line == 2);
    CHECK(error.location().section == "database");
    CHECK_THAT(error.what(), Catch::Contains("unknown section"));
  }
  SECTION("section names are case-sensitive") {
    CHECK(loadError(dir, "[Gatherd]\n").location().line == 1);
  }
}

TEST_CASE("daemon config: source and sink instances", "[daemon]") {
  TempDir dir;
  const auto config = loadText(dir,
                               "[sink.store]\n"
                               "plugin = sqlite\n"
                               "path = db.sqlite\n"
                               "[source.acct-1]\n"
                               "URL = https://a.test\n"
                               "plugin = xychatai\n"
                               "[source.acct_2]\n"
                               "plugin = xychatai\n"
                               "[sink.out]\n"
                               "plugin = stdout\n");
  REQUIRE(config.sources.size() == 2);
  REQUIRE(config.sinks.size() == 2);
  const auto& first = config.sources[0];
  CHECK(first.kind == InstanceSection::Kind::kSource);
  CHECK(first.name == "acct-1");
  CHECK(first.plugin == "xychatai");
  CHECK(first.section == "source.acct-1");
  CHECK(first.line == 4);
  REQUIRE(first.entries.size() == 1);
  CHECK(first.entries[0].key == "url");
  CHECK(first.entries[0].line == 5);
  CHECK(config.sources[1].name == "acct_2");
  CHECK(config.sources[1].entries.empty());
  CHECK(config.sinks[0].kind == InstanceSection::Kind::kSink);
  CHECK(config.sinks[0].name == "store");
  CHECK(config.sinks[0].entries.at(0).value == "db.sqlite");
  CHECK(config.sinks[1].name == "out");
}

TEST_CASE("daemon config: bad instance sections name their line", "[daemon]") {
  TempDir dir;
  SECTION("plugin missing") {
    const auto error = loadError(dir, "[gatherd]\n\n[source.xy]\ncookie = x\n");
    CHECK(error.location().line == 3);
    CHECK(error.location().key == "plugin");
    CHECK_THAT(error.what(), Catch::Contains("missing 'plugin = <id>'"));
  }
  SECTION("plugin empty") {
    const auto error = loadError(dir, "[source.xy]\nplugin =\n");
    CHECK(error.location().line == 2);
  }
  SECTION("an invalid instance name") {
    for (const std::string name : {"XY", "a b", "a.b", ""}) {
      INFO("name: " << name);
      const auto error = loadError(dir, "[gatherd]\n[sink." + name + "]\nplugin = stdout\n");
      CHECK(error.location().line == 2);
      CHECK_THAT(error.what(), Catch::Contains("invalid instance name"));
    }
  }
  SECTION("a name used by a source and a sink") {
    const auto error =
        loadError(dir, "[source.main]\nplugin = demo\n\n[sink.main]\nplugin = stdout\n");
    CHECK(error.location().line == 4);
    CHECK_THAT(error.what(),
               Catch::Contains("duplicate instance name 'main' (already used by [source.main] "
                               "at line 1)"));
  }
  SECTION("the same section twice") {
    const auto error = loadError(dir, "[source.a]\nplugin = demo\n[source.a]\nplugin = demo\n");
    CHECK(error.location().line == 3);
    CHECK_THAT(error.what(), Catch::Contains("duplicate section"));
  }
}

TEST_CASE("daemon config: a relative config path becomes absolute", "[daemon]") {
  TempDir dir;
  dir.write("conf/gatherd.ini", "[gatherd]\ndata_dir = state\n");
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  DaemonConfig config;
  try {
    config = loadDaemonConfig("conf/../conf/gatherd.ini", kNoEnv);
  } catch (...) {
    std::filesystem::current_path(previous);
    throw;
  }
  std::filesystem::current_path(previous);
  CHECK(config.file == (dir.path() / "conf/gatherd.ini").string());
  CHECK(config.data_dir == (dir.path() / "conf/state").string());
}

TEST_CASE("daemon config: a missing file is an error naming it", "[daemon]") {
  TempDir dir;
  const auto path = dir.file("nope.ini");
  const auto error = requireConfigError([&] { loadDaemonConfig(path, kNoEnv); });
  CHECK(error.location().file == path);
  CHECK_THAT(error.what(), Catch::StartsWith(path + ": cannot read"));
}
