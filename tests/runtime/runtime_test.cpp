// Runtime tests of the real gatherd binary: config files, plugins from the build, signals.
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <catch2/catch.hpp>

#include "gatherd_process.hpp"
#include <signal.h>

using namespace gatherd::testing;
using namespace std::chrono_literals;

namespace {

std::vector<Poco::JSON::Object::Ptr> jsonLines(const std::string& text) {
  std::vector<Poco::JSON::Object::Ptr> objects;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    Poco::JSON::Parser parser;
    objects.push_back(parser.parse(line).extract<Poco::JSON::Object::Ptr>());
  }
  return objects;
}

// The window results the stdout sink wrote (windows = true), by source.
std::vector<Poco::JSON::Object::Ptr> windows(const std::string& text) {
  std::vector<Poco::JSON::Object::Ptr> result;
  for (auto& object : jsonLines(text)) {
    if (object->has("window") && object->getValue<std::string>("stream") == "window") {
      result.push_back(object->getObject("window"));
    }
  }
  return result;
}

std::size_t countWindows(const std::string& text) {
  std::size_t count = 0;
  for (std::size_t at = text.find("\"stream\":\"window\""); at != std::string::npos;
       at = text.find("\"stream\":\"window\"", at + 1)) {
    ++count;
  }
  return count;
}

std::string demoToFile(const TempDir& dir, const std::string& interval,
                       const std::string& extra = {}) {
  return baseConfig(dir.path(), interval) +
         "[source.demo]\nplugin = demo\ncalls_per_minute = 600\nseed = 7\n" + extra +
         "\n[sink.out]\nplugin = stdout\npath = " + (dir.path() / "records.jsonl").string() +
         "\nwindows = true\n";
}

}  // namespace

TEST_CASE("demo -> stdout at 100 ms: every window has exactly one result, on the grid") {
  TempDir dir;
  const auto config = dir.write("gatherd.ini", demoToFile(dir, "100ms"));
  GatherdProcess gatherd(config);
  const auto records = dir.path() / "records.jsonl";
  REQUIRE(GatherdProcess::waitFor(
      records, [](const std::string& t) { return countWindows(t) >= 20; }, 20s));
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(10s) == 0);
  INFO(gatherd.err());

  std::set<std::int64_t> seen;
  for (const auto& window : windows(readFile(records))) {
    const auto window_ms = window->getValue<std::int64_t>("windowMs");
    CHECK(window_ms % 100 == 0);
    CHECK(window->getValue<std::string>("outcome") == "ok");
    CHECK(seen.insert(window_ms).second);  // no duplicate
  }
  REQUIRE(seen.size() >= 20);
  // No window between the first and the last is missing.
  CHECK(*seen.rbegin() - *seen.begin() == static_cast<std::int64_t>(seen.size() - 1) * 100);
  std::size_t invocations = 0;
  for (const auto& object : jsonLines(readFile(records))) {
    if (object->getValue<std::string>("stream") == "invocation") {
      ++invocations;
      CHECK(object->getValue<std::string>("source") == "demo");
    }
  }
  CHECK(invocations > 0);
  CHECK_THAT(gatherd.err(), Catch::Contains("started") && Catch::Contains("stopped"));
}

TEST_CASE("once polls every source once, prints JSON lines and writes nothing") {
  TempDir dir;
  const auto config = dir.write("gatherd.ini", demoToFile(dir, "10s"));
  GatherdProcess gatherd(config, {"once"});
  REQUIRE(gatherd.wait(20s) == 0);
  auto lines = jsonLines(gatherd.out());
  REQUIRE_FALSE(lines.empty());
  for (const auto& line : lines) CHECK(line->getValue<std::string>("source") == "demo");
  CHECK_THAT(gatherd.err(), Catch::Contains("\"outcome\":\"ok\""));
  CHECK_FALSE(std::filesystem::exists(dir.path() / "records.jsonl"));
}

TEST_CASE("once exits 3 when a source fails, with the human hint and no secret") {
  TempDir dir;
  const auto config = dir.write(
      "gatherd.ini", baseConfig(dir.path(), "10s") +
                         "[source.acct]\nplugin = xychatai-codex\nbase_url = http://127.0.0.1:9\n"
                         "cookie = ${RUNTIME_TEST_COOKIE}\n");
  GatherdProcess gatherd(config, {"once"}, {"RUNTIME_TEST_COOKIE=cookie-value-that-must-not-leak"});
  REQUIRE(gatherd.wait(30s) == 3);
  CHECK_THAT(gatherd.err(), Catch::Contains("transport_error"));
  CHECK(gatherd.err().find("cookie-value-that-must-not-leak") == std::string::npos);
  CHECK(gatherd.out().find("cookie-value-that-must-not-leak") == std::string::npos);
}

TEST_CASE("check-config names file, line, section and key of a bad value") {
  TempDir dir;
  const auto config = dir.write("gatherd.ini", demoToFile(dir, "10s", "colour = blue\n"));
  GatherdProcess gatherd(config, {"check-config"});
  REQUIRE(gatherd.wait(20s) == 2);
  CHECK_THAT(gatherd.err(), Catch::Contains(config.string() + ":") &&
                                Catch::Contains("[source.demo]") && Catch::Contains("colour"));

  const auto bad_duration = dir.write("bad.ini", demoToFile(dir, "ten seconds"));
  GatherdProcess second(bad_duration, {"check-config"});
  REQUIRE(second.wait(20s) == 2);
  CHECK_THAT(second.err(), Catch::Contains("bad.ini:2") && Catch::Contains("interval"));
}

TEST_CASE("check-config masks secrets and accepts a good config") {
  TempDir dir;
  const auto config =
      dir.write("gatherd.ini",
                baseConfig(dir.path(), "10s") +
                    "[source.acct]\nplugin = xychatai-codex\ncookie = ${RUNTIME_TEST_COOKIE}\n");
  GatherdProcess gatherd(config, {"check-config"}, {"RUNTIME_TEST_COOKIE=s3cret-cookie-value-42"});
  REQUIRE(gatherd.wait(20s) == 0);
  CHECK(gatherd.out().find("s3cret-cookie-value-42") == std::string::npos);
  CHECK_THAT(gatherd.out(), Catch::Contains("***") && Catch::Contains("configuration ok"));
}

TEST_CASE("an unset variable without default is an error naming the key") {
  TempDir dir;
  const auto config = dir.write(
      "gatherd.ini",
      baseConfig(dir.path(), "10s") +
          "[source.acct]\nplugin = xychatai-codex\ncookie = ${GATHERD_TEST_UNSET_VARIABLE}\n");
  GatherdProcess gatherd(config, {"check-config"});
  REQUIRE(gatherd.wait(20s) == 2);
  CHECK_THAT(gatherd.err(),
             Catch::Contains("GATHERD_TEST_UNSET_VARIABLE") && Catch::Contains("cookie"));
}

TEST_CASE("the service refuses to start when a configured plugin is missing") {
  TempDir dir;
  const auto config = dir.write(
      "gatherd.ini", baseConfig(dir.path(), "10s") + "[source.x]\nplugin = no-such-plugin\n");
  GatherdProcess gatherd(config);
  REQUIRE(gatherd.wait(20s) == 2);
  CHECK_THAT(gatherd.err(),
             Catch::Contains("no plugin 'no-such-plugin'") && Catch::Contains("[source.x]"));
}

TEST_CASE("plugins lists what loaded with its keys") {
  TempDir dir;
  const auto config = dir.write("gatherd.ini", baseConfig(dir.path(), "10s"));
  GatherdProcess gatherd(config, {"plugins"});
  REQUIRE(gatherd.wait(20s) == 0);
  CHECK_THAT(gatherd.out(), Catch::Contains("demo (source") && Catch::Contains("stdout (sink") &&
                                Catch::Contains("calls_per_minute"));
}

TEST_CASE("SIGHUP reloads the config, an invalid one keeps the old") {
  TempDir dir;
  const auto config = dir.write("gatherd.ini", demoToFile(dir, "100ms"));
  GatherdProcess gatherd(config);
  const auto records = dir.path() / "records.jsonl";
  REQUIRE(GatherdProcess::waitFor(
      records, [](const std::string& t) { return countWindows(t) >= 5; }, 20s));

  dir.write("gatherd.ini", demoToFile(dir, "300ms"));
  gatherd.signal(SIGHUP);
  REQUIRE(gatherd.waitForLog("reload: done", 10s));
  const std::size_t after_reload = countWindows(readFile(records));
  REQUIRE(GatherdProcess::waitFor(
      records, [&](const std::string& t) { return countWindows(t) >= after_reload + 6; }, 20s));
  auto results = windows(readFile(records));
  // The newest windows are on the 300 ms grid, 300 ms apart.
  for (std::size_t i = results.size() - 4; i < results.size(); ++i) {
    CHECK(results[i]->getValue<std::int64_t>("windowMs") % 300 == 0);
  }

  dir.write("gatherd.ini", demoToFile(dir, "300ms", "unknown_key = 1\n"));
  gatherd.signal(SIGHUP);
  REQUIRE(gatherd.waitForLog("reload failed", 10s));
  CHECK_THAT(gatherd.err(), Catch::Contains("unknown_key"));
  const std::size_t before = countWindows(readFile(records));
  REQUIRE(GatherdProcess::waitFor(
      records, [&](const std::string& t) { return countWindows(t) >= before + 2; }, 20s));
  gatherd.signal(SIGTERM);
  CHECK(gatherd.wait(10s) == 0);
}

TEST_CASE("SIGTERM drains in-flight polls up to the grace period and records the rest aborted") {
  TempDir dir;
  // Polls take 3 s; the grace period is 300 ms: the polls in flight are aborted.
  auto text = demoToFile(dir, "500ms", "poll_latency = 3s\n");
  text.replace(text.find("timeout = 5s"), 12, "timeout = 10s\nshutdown_grace = 300ms");
  const auto config = dir.write("gatherd.ini", text);
  GatherdProcess gatherd(config);
  REQUIRE(gatherd.waitForLog("started", 10s));
  std::this_thread::sleep_for(1200ms);  // let a few polls be in flight
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(10s) == 0);
  auto results = windows(readFile(dir.path() / "records.jsonl"));
  REQUIRE_FALSE(results.empty());
  for (const auto& window : results) CHECK(window->getValue<std::string>("outcome") == "aborted");
}

TEST_CASE("SIGTERM lets in-flight polls finish within the grace period") {
  TempDir dir;
  auto text = demoToFile(dir, "500ms", "poll_latency = 700ms\n");
  text.replace(text.find("timeout = 5s"), 12, "timeout = 10s\nshutdown_grace = 5s");
  const auto config = dir.write("gatherd.ini", text);
  GatherdProcess gatherd(config);
  REQUIRE(gatherd.waitForLog("started", 10s));
  std::this_thread::sleep_for(1200ms);
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(10s) == 0);
  auto results = windows(readFile(dir.path() / "records.jsonl"));
  REQUIRE_FALSE(results.empty());
  for (const auto& window : results) CHECK(window->getValue<std::string>("outcome") == "ok");
}

TEST_CASE("gatherd reload signals the running service through its pid file") {
  TempDir dir;
  const auto config = dir.write("gatherd.ini", demoToFile(dir, "1s"));
  {
    GatherdProcess nobody(config, {"reload"});
    REQUIRE(nobody.wait(20s) == 1);
    CHECK_THAT(nobody.err(), Catch::Contains("no running gatherd"));
  }
  GatherdProcess gatherd(config);
  REQUIRE(gatherd.waitForLog("started", 10s));
  GatherdProcess reload(config, {"reload"});
  REQUIRE(reload.wait(20s) == 0);
  CHECK_THAT(reload.out(), Catch::Contains("sent SIGHUP"));
  CHECK(gatherd.waitForLog("reload: done", 10s));
  gatherd.signal(SIGTERM);
  CHECK(gatherd.wait(10s) == 0);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "data" / "gatherd.pid"));
}

TEST_CASE("once against the fake xychatai upstream prints the normalised records, no secret") {
  TempDir dir;
  ChildProcess upstream({FAKE_UPSTREAM_BIN, "--port", "0", "--print-port", "--fixture",
                         XYCHATAI_TESTDATA_DIR "/quota-happy.json"},
                        dir.path());
  const std::string port = printedPort(upstream);
  const auto config =
      dir.write("gatherd.ini",
                baseConfig(dir.path(), "10s") +
                    "[source.acct]\nplugin = xychatai-codex\nbase_url = http://127.0.0.1:" + port +
                    "\ncookie = ${RUNTIME_TEST_COOKIE}\n");
  GatherdProcess gatherd(config, {"once"}, {"RUNTIME_TEST_COOKIE=cookie-value-that-must-not-leak"});
  REQUIRE(gatherd.wait(30s) == 0);
  INFO(gatherd.err());
  std::size_t invocations = 0;
  std::size_t quotas = 0;
  for (const auto& line : jsonLines(gatherd.out())) {
    CHECK(line->getValue<std::string>("source") == "acct");
    const auto stream = line->getValue<std::string>("stream");
    if (stream == "invocation") {
      ++invocations;
      const auto fields = line->getObject("fields");
      CHECK(fields->has("requestId"));
      CHECK(line->getValue<std::string>("time").back() == 'Z');
    }
    if (stream == "quota") ++quotas;
  }
  CHECK(invocations > 0);
  CHECK(quotas == 1);
  CHECK_THAT(gatherd.err(), Catch::Contains("\"outcome\":\"ok\""));
  for (const std::string secret : {"cookie-value-that-must-not-leak", "sk-SYNTHETIC"}) {
    CHECK(gatherd.out().find(secret) == std::string::npos);
    CHECK(gatherd.err().find(secret) == std::string::npos);
  }
}

TEST_CASE("the manual page (packaging/debian/gatherd.8) names every verb and option of --help") {
  TempDir dir;
  ChildProcess help({GATHERD_BIN, "--help"}, dir.path());
  REQUIRE(help.wait(10s) == 0);
  const std::string usage = help.out();
  const std::string manual = readFile(GATHERD_SOURCE_DIR "/packaging/debian/gatherd.8");
  REQUIRE_FALSE(manual.empty());
  // The verb table of --help: lines "  <verb>   <what it does>".
  std::vector<std::string> verbs;
  std::istringstream lines(usage);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  ", 0) != 0 || line.size() < 3) continue;
    if (line[2] == ' ' || line[2] == '-' || line[2] == '(') continue;  // options, "(no verb)"
    verbs.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  REQUIRE(verbs.size() >= 7);
  // roff writes a '-' of a name as "\-".
  auto roff = [](std::string text) {
    for (std::size_t at = text.find('-'); at != std::string::npos; at = text.find('-', at + 2)) {
      text.replace(at, 1, "\\-");
    }
    return text;
  };
  for (const auto& verb : verbs) {
    INFO("verb " << verb);
    const bool named = manual.find(".B " + roff(verb) + "\n") != std::string::npos ||
                       manual.find(".BR " + roff(verb) + " ") != std::string::npos;
    CHECK(named);
  }
  for (const char* option : {"--config", "--sink", "--from", "--to", "--help", "--version"}) {
    INFO("option " << option);
    CHECK_THAT(usage, Catch::Contains(option));
    CHECK_THAT(manual, Catch::Contains(roff(option)));
  }
}

TEST_CASE("every plugin's sample.ini passes check-config against the plugin's own schema") {
  std::vector<std::filesystem::path> samples;
  for (const char* kind : {"sources", "sinks"}) {
    for (const auto& entry : std::filesystem::directory_iterator(std::string(GATHERD_SOURCE_DIR) +
                                                                 "/plugins/" + kind)) {
      if (std::filesystem::exists(entry.path() / "sample.ini")) {
        samples.push_back(entry.path() / "sample.ini");
      }
    }
  }
  REQUIRE(samples.size() >= 8);
  const std::regex variable(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\})");
  for (const auto& sample : samples) {
    INFO(sample.string());
    TempDir dir;
    const std::string text = readFile(sample);
    REQUIRE_FALSE(text.empty());
    // ${VAR} values (cookies, DSNs, webhook URLs) get a stand-in from the environment.
    std::vector<std::string> environment;
    for (std::sregex_iterator it(text.begin(), text.end(), variable), end; it != end; ++it) {
      environment.push_back((*it)[1].str() + "=sample-value");
    }
    // The sample's own comments say where its values go; paths resolve against the temp dir.
    const auto config = dir.write("gatherd.ini", baseConfig(dir.path(), "10s") + text);
    GatherdProcess check(config, {"check-config"}, environment);
    const int code = check.wait(20s);
    INFO(check.out() << check.err());
    CHECK(code == 0);
    CHECK_THAT(check.out(), Catch::Contains("configuration ok"));
  }
}

TEST_CASE("the example source and sink run in gatherd: greetings are counted") {
  TempDir dir;
  const auto config = dir.write(
      "gatherd.ini", baseConfig(dir.path(), "200ms") +
                         "[source.hello]\nplugin = example-source\ngreeting = hi there\n\n"
                         "[sink.counter]\nplugin = example-sink\nstream = greeting\n");
  GatherdProcess gatherd(config);
  CHECK(gatherd.waitForLog("will greet with 'hi there'", 20s));
  CHECK(gatherd.waitForLog("3 greeting record(s) so far", 20s));
  gatherd.signal(SIGTERM);
  CHECK(gatherd.wait(20s) == 0);
}
