// Secret canaries end to end (issue 10): the real gatherd with the xychatai source, the sqlite
// sink and the SSE stream, against the fake upstream scripted to echo the session cookie, its
// URL-encoded copies and the apiKey it handed out earlier in error messages, a redirect and
// record fields, plus a source whose `proxy` URL holds a password. Every secret contains
// "CANARY", so one search finds any of them, whole or cut: afterwards the word is in no log line,
// no file of the data folder (database, WAL, spool), no /api/* answer and no SSE event, live or
// replayed. The unit tests (source_test.cpp) prove each path of the plugin; this proves the
// paths through the core, the store and the HTTP layer too.
#include <algorithm>
#include <cctype>
#include <fstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <catch2/catch.hpp>

#include "gatherd_process.hpp"
#include "http_test_client.hpp"
#include "runtime_support.hpp"
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace gatherd::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// 41+ characters (error texts are cut to 40: a cut before redaction would leak a prefix), with
// characters that URL-encoding changes.
const std::string kCookie = "CANARY/e2e+cookie=0123456789abcdefghijklmnopqrstuvwxyz";
const std::string kApiKey = "sk-CANARY-e2e-apikey-0123456789abcdef";
const std::string kProxyPassword = "CANARY-e2e-proxy-password";

std::string urlEncoded(const std::string& text, bool upper) {
  std::string out;
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

void replaceOnce(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
}

/// Where "canary" occurs in `text`, whatever the case (-1 when nowhere), for the INFO.
std::string leakIn(const std::string& text) {
  std::string lower(text.size(), ' ');
  std::transform(text.begin(), text.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto at = lower.find("canary");
  if (at == std::string::npos) return {};
  const auto from = at < 60 ? 0 : at - 60;
  return "..." + text.substr(from, 160) + "...";
}

/// The fake upstream's script: answers in order, the last one repeated.
std::string scenario() {
  std::string happy = readFile(XYCHATAI_TESTDATA_DIR "/quota-happy.json");
  replaceOnce(happy, "sk-SYNTHETIC-REDACT-ME-0000000000000000", kApiKey);
  // A new record whose error message echoes the cookie, an invalid field holding it and an
  // invalid time starting with it (both quoted, cut, in the window's problem message).
  std::string echoing = happy;
  replaceOnce(echoing, "fc6f031c-2d6c-4f50-aa16-ea1dd75eed90", "e2e-secret-record-1");
  replaceOnce(echoing, "\"errorMessage\": \"\"",
              "\"errorMessage\": \"upstream: cookie " + kCookie + " rejected by " + kApiKey + "\"");
  replaceOnce(echoing, "\"inputTokens\": 48175", "\"inputTokens\": \"" + kCookie + "\"");
  const std::string time_marker = "\"requestTime\": \"";
  const auto second = echoing.find(time_marker, echoing.find(time_marker) + 1);
  REQUIRE(second != std::string::npos);
  echoing.insert(second + time_marker.size(), kCookie + " ");

  const std::string upper = urlEncoded(kCookie, true);
  const std::string lower = urlEncoded(kCookie, false);
  Poco::JSON::Array responses;
  auto add = [&](int status, const std::string& body, const std::string& location = {}) {
    Poco::JSON::Object::Ptr item = new Poco::JSON::Object;
    item->set("status", status);
    item->set("body", body);
    if (!location.empty()) {
      Poco::JSON::Object::Ptr headers = new Poco::JSON::Object;
      headers->set("Location", location);
      item->set("headers", headers);
    }
    responses.add(item);
  };
  for (int i = 0; i < 3; ++i) add(200, happy);  // the apiKey is learned; the SSE client connects
  add(200, R"({"code":0,"msg":"session )" + kCookie + R"( is not valid"})");
  add(200, R"({"code":0,"msg":"key )" + kApiKey + R"( is rate limited"})");
  add(200, R"({"code":0,"msg":"bad session=)" + upper + " or " + lower + R"("})");
  add(302, "", "https://elsewhere.test/next?s=" + upper);
  add(200, echoing);
  add(500, "internal error for cookie " + kCookie);
  add(200, R"({"code":-1,"msg":"session )" + kCookie + R"( expired"})");
  add(200, happy);
  Poco::JSON::Object root;
  root.set("responses", responses);
  std::ostringstream out;
  root.stringify(out);
  return out.str();
}

constexpr int kScripted = 11;

int closedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);  // nothing listens there now
  return ntohs(address.sin_port);
}

long long fakeRequests(const std::string& port) {
  const Http stats = get(std::stoi(port), "/__fake/stats");
  if (stats.status != 200) return 0;
  return Poco::JSON::Parser()
      .parse(stats.body)
      .extract<Poco::JSON::Object::Ptr>()
      ->getValue<long long>("requests");
}

/// How many windows of the source "acct" the store holds.
std::size_t storedWindows(int http_port) {
  const Http windows = get(http_port, "/api/windows?source=acct&limit=1000");
  if (windows.status != 200) return 0;
  return Poco::JSON::Parser()
      .parse(windows.body)
      .extract<Poco::JSON::Object::Ptr>()
      ->getArray("items")
      ->size();
}

}  // namespace

TEST_CASE("secrets echoed by the upstream reach no log, file, API answer or SSE event",
          "[secrets]") {
  TempDir dir;
  const auto script = dir.write("upstream/scenario.json", scenario());
  ChildProcess upstream(
      {FAKE_UPSTREAM_BIN, "--port", "0", "--print-port", "--scenario", script.string()},
      dir.path() / "upstream");
  REQUIRE(ChildProcess::waitFor(
      upstream.outPath(),
      [](const std::string& text) { return text.find('\n') != std::string::npos; }, 10s));
  const std::string port = upstream.out().substr(0, upstream.out().find('\n'));
  const std::string base_url = "http://127.0.0.1:" + port;
  const auto ini =
      dir.write("gatherd.ini",
                baseConfig(dir.path(), "200ms") +
                    "[source.acct]\nplugin = xychatai-codex\nbase_url = " + base_url +
                    "\ncookie = ${E2E_CANARY_COOKIE}\n\n[source.proxied]\nplugin = xychatai-codex\n"
                    "base_url = " +
                    base_url + "\ncookie = plain-cookie-of-proxied\nproxy = http://proxyuser:" +
                    kProxyPassword + "@127.0.0.1:" + std::to_string(closedPort()) +
                    "\n\n[sink.db]\nplugin = sqlite\n\n[sink.live]\nplugin = sse\n");
  GatherdProcess gatherd(ini, {}, {"E2E_CANARY_COOKIE=" + kCookie});
  const int http_port = portOf(gatherd);
  gatherd::core::testing::RawClient live(static_cast<std::uint16_t>(http_port));
  REQUIRE(live.send("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  REQUIRE(live.readUntil(": connected\n\n"));

  // Every scripted answer served, and a few repeats of the last, so the windows are stored.
  REQUIRE(gatherd::sdk::testing::eventually([&] { return fakeRequests(port) >= kScripted + 3; },
                                            30s, 50ms));
  REQUIRE(gatherd::sdk::testing::eventually([&] { return storedWindows(http_port) >= kScripted; },
                                            30s, 50ms));
  live.readUntil("\x01 not in any stream", 1000);

  std::map<std::string, std::string> answers;  // what -> text
  for (const char* path :
       {"/health", "/ready", "/api/version", "/api/sources", "/api/windows?limit=1000",
        "/api/windows?source=proxied&limit=5", "/api/invocations?limit=500", "/api/stats",
        "/api/stats/summary", "/api/stats/timeseries", "/api/stats/errors", "/api/stats/models",
        "/api/stats/latency", "/api/quota/latest", "/api/alerts"}) {
    const Http answer = get(http_port, path);
    INFO(path << " answered " << answer.status << ": " << answer.body.substr(0, 300));
    CHECK((answer.status == 200 || (std::string(path) == "/ready" && answer.status == 503)));
    answers[path] = answer.body;
  }
  gatherd::core::testing::RawClient replay(static_cast<std::uint16_t>(http_port));
  REQUIRE(replay.send("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: 0\r\n\r\n"));
  replay.readUntil("\x01 not in any stream", 2000);
  answers["SSE live"] = live.received();
  answers["SSE replay"] = replay.received();

  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(30s) == 0);
  answers["log"] = gatherd.err() + gatherd.out();
  for (const auto& entry : fs::recursive_directory_iterator(dir.path() / "data")) {
    if (entry.is_regular_file()) answers[entry.path().string()] = readFile(entry.path());
  }

  // The paths were taken: the echoes arrived, as "[redacted]", and the proxied source failed.
  CHECK_THAT(answers["/api/windows?limit=1000"], Catch::Contains("[redacted] is not valid"));
  CHECK_THAT(answers["/api/windows?limit=1000"], Catch::Contains("key [redacted] is rate limited"));
  CHECK_THAT(answers["/api/windows?limit=1000"], Catch::Contains("inputTokens '[redacted]'"));
  CHECK_THAT(answers["/api/windows?source=proxied&limit=5"], Catch::Contains("transport_error"));
  CHECK_THAT(answers["/api/invocations?limit=500"], Catch::Contains("e2e-secret-record-1"));
  CHECK_THAT(answers["SSE live"], Catch::Contains("[redacted]"));
  CHECK_THAT(answers["SSE replay"], Catch::Contains("[redacted]"));
  CHECK_THAT(answers["SSE replay"], Catch::Contains("e2e-secret-record-1"));
  CHECK(answers.count((dir.path() / "data" / "gatherd.db").string()) == 1);
  for (const auto& [what, text] : answers) {
    INFO(what << ": " << leakIn(text));
    CHECK(leakIn(text).empty());
  }
}
