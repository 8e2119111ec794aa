// The serving layer of the real gatherd binary on 127.0.0.1: many idle and slow connections,
// per-connection timeouts, size limits, the connection cap, running out of descriptors, the Host
// allow-list, refusing an open bind without a token, security headers, stream shutdown, and the
// ini order of sinks.
#include <filesystem>
#include <regex>
#include <thread>

#include <catch2/catch.hpp>

#include "gatherd_process.hpp"
#include "http_test_client.hpp"
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

using namespace gatherd::testing;
using namespace gatherd::core::testing;
using namespace std::chrono_literals;

namespace {

std::string httpConfig(const TempDir& dir, const std::string& http_extra,
                       const std::string& sinks = {}) {
  std::filesystem::create_directories(dir.path() / "web");
  return "[gatherd]\ninterval = 1s\ntimeout = 5s\nplugin_dir = " + std::string(GATHERD_PLUGIN_DIR) +
         "\ndata_dir = " + (dir.path() / "data").string() +
         "\nlog_level = info\n\n[http]\nbind = 127.0.0.1:0\nweb_root = " +
         (dir.path() / "web").string() + "\n" + http_extra + "\n" +
         "[source.demo]\nplugin = demo\ncalls_per_minute = 60\nseed = 3\n\n" +
         (sinks.empty() ? "[sink.db]\nplugin = sqlite\n\n[sink.live]\nplugin = sse\n" : sinks);
}

/// Starts gatherd and returns its HTTP port (0 if it did not come up).
std::uint16_t startAndGetPort(GatherdProcess& gatherd) {
  if (!gatherd.waitForLog("http: listening on", 30s)) return 0;
  std::smatch match;
  const std::string log = gatherd.err();
  if (!std::regex_search(log, match, std::regex("http: listening on [0-9.]+:([0-9]+)"))) return 0;
  return static_cast<std::uint16_t>(std::stoi(match[1]));
}

void raiseFileLimit() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

int openDescriptors(pid_t pid) {
  int count = 0;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++count;
  }
  return count;
}

std::string localRequest(const std::string& path, const std::string& extra = {}) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("1,000 idle and 200 header-trickling connections leave /health and /api/stats answering",
          "[http-runtime]") {
  raiseFileLimit();  // the child inherits it
  TempDir dir;
  GatherdProcess gatherd(dir.write("gatherd.ini", httpConfig(dir, "")));
  const auto port = startAndGetPort(gatherd);
  REQUIRE(port != 0);
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 1000; ++i) {
    idle.push_back(std::make_unique<RawClient>(port));
    REQUIRE(idle.back()->connected());
  }
  std::vector<std::unique_ptr<RawClient>> trickling;
  for (int i = 0; i < 200; ++i) {
    trickling.push_back(std::make_unique<RawClient>(port));
    REQUIRE(trickling.back()->send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  }
  // Several rounds of trickled header lines; /health and /api/stats answer between them.
  for (int round = 0; round < 4; ++round) {
    for (auto& client : trickling) client->send("X-Slow-" + std::to_string(round) + ": 1\r\n");
    const Reply health = get(port, "/health");
    REQUIRE(health.status == 200);
    const Reply stats = get(port, "/api/stats");
    REQUIRE(stats.status == 200);
    std::this_thread::sleep_for(500ms);
  }
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(15s) == 0);
}

TEST_CASE("header, body and keep-alive timeouts close the connection", "[http-runtime]") {
  TempDir dir;
  GatherdProcess gatherd(dir.write(
      "gatherd.ini",
      httpConfig(dir,
                 "header_timeout = 400ms\nbody_timeout = 400ms\nkeepalive_timeout = 600ms\n")));
  const auto port = startAndGetPort(gatherd);
  REQUIRE(port != 0);

  // Headers trickled one byte every 100 ms: the deadline is for the whole header, not per read.
  RawClient trickle(port);
  const auto started = std::chrono::steady_clock::now();
  const std::string request = localRequest("/health", "X-Padding: abcdefghijklmnopqrstuvwxyz\r\n");
  bool closed = false;
  for (char c : request) {
    if (!trickle.send(std::string(1, c))) {
      closed = true;
      break;
    }
    std::this_thread::sleep_for(100ms);
    if (std::chrono::steady_clock::now() - started > 3s) break;
  }
  REQUIRE((closed || trickle.readUntilClosed(2'000)));
  REQUIRE(statusOf(trickle.received()) == 0);  // never answered
  REQUIRE(std::chrono::steady_clock::now() - started < 3s);

  RawClient body(port);
  REQUIRE(
      body.send("POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n\r\ntoken=abc"));
  REQUIRE(body.readUntilClosed(3'000));
  REQUIRE(statusOf(body.received()) == 0);

  RawClient keep(port);
  REQUIRE(keep.send(localRequest("/health")));
  REQUIRE(keep.readUntil("{\"status\":\"ok\"}", 3'000));
  const auto answered = std::chrono::steady_clock::now();
  REQUIRE(keep.readUntilClosed(3'000));
  REQUIRE(std::chrono::steady_clock::now() - answered >= 400ms);  // the keep-alive time, not less

  // A connection that never sends anything is closed at the header deadline.
  RawClient silent(port);
  REQUIRE(silent.readUntilClosed(3'000));
  REQUIRE(get(port, "/health").status == 200);
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(15s) == 0);
}

TEST_CASE("every limit answers its status code and closes", "[http-runtime]") {
  TempDir dir;
  GatherdProcess gatherd(dir.write("gatherd.ini", httpConfig(dir, "max_body_bytes = 2048\n")));
  const auto port = startAndGetPort(gatherd);
  REQUIRE(port != 0);
  auto exchange = [&](const std::string& text) {
    RawClient client(port);
    client.send(text);
    REQUIRE(client.readUntilClosed(5'000));
    return statusOf(client.received());
  };
  CHECK(exchange(localRequest("/api/stats?q=" + std::string(9'000, 'a'))) == 414);
  CHECK(exchange(localRequest("/health", "X-Big: " + std::string(17'000, 'b') + "\r\n")) == 431);
  std::string many;
  for (int i = 0; i < 120; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  CHECK(exchange(localRequest("/health", many)) == 431);
  CHECK(exchange("POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n\r\n") ==
        413);
  CHECK(exchange("POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "1000\r\n" +
                 std::string(4096, 'c') + "\r\n0\r\n\r\n") == 413);
  CHECK(exchange("GARBAGE\r\n\r\n") == 400);
  CHECK(exchange("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n") == 400);
  REQUIRE(get(port, "/health").status == 200);
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(15s) == 0);
}

TEST_CASE("above max_connections new connections get 503 with Retry-After, logged once",
          "[http-runtime]") {
  TempDir dir;
  GatherdProcess gatherd(dir.write("gatherd.ini", httpConfig(dir, "max_connections = 16\n")));
  const auto port = startAndGetPort(gatherd);
  REQUIRE(port != 0);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 16; ++i) held.push_back(std::make_unique<RawClient>(port));
  std::this_thread::sleep_for(300ms);  // accepted
  for (int i = 0; i < 5; ++i) {
    RawClient extra(port);
    REQUIRE(extra.readUntilClosed(5'000));
    REQUIRE(statusOf(extra.received()) == 503);
    REQUIRE_THAT(extra.received(), Catch::Contains("Retry-After: "));
  }
  REQUIRE(gatherd.waitForLog("refused with 503", 5s));
  CHECK(count(gatherd.err(), "refused with 503") == 1);
  held.clear();
  std::this_thread::sleep_for(300ms);
  REQUIRE(get(port, "/health").status == 200);
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(15s) == 0);
}

TEST_CASE("out of descriptors: accepting backs off, open connections are served, it recovers",
          "[http-runtime]") {
  TempDir dir;
  GatherdProcess gatherd(dir.write("gatherd.ini", httpConfig(dir, "")));
  const auto port = startAndGetPort(gatherd);
  REQUIRE(port != 0);
  // Windows stored first, so that the flood meets a warm process: under UBSan, the first
  // vptr check of each type probes memory through a pipe(2), which fails without descriptors
  // and is reported as an invalid vptr (a false positive of the checker, not of gatherd).
  bool warm = false;
  for (int attempt = 0; attempt < 100 && !warm; ++attempt) {
    warm = get(port, "/api/sources").body.find("\"lastSuccessAt\":\"") != std::string::npos &&
           get(port, "/api/stats").status == 200;
    if (!warm) std::this_thread::sleep_for(200ms);
  }
  REQUIRE(warm);
  std::this_thread::sleep_for(2200ms);
  RawClient kept(port);
  REQUIRE(kept.send(localRequest("/health")));
  REQUIRE(kept.readUntil("{\"status\":\"ok\"}"));
  // Leave gatherd a handful of spare descriptors, then flood it with connections.
  const int used = openDescriptors(gatherd.pid());
  REQUIRE(used > 0);
  rlimit old{};
  REQUIRE(::prlimit(gatherd.pid(), RLIMIT_NOFILE, nullptr, &old) == 0);
  // Only the soft limit, so that it can be raised back without privileges.
  rlimit limit{static_cast<rlim_t>(used + 8), old.rlim_max};
  REQUIRE(::prlimit(gatherd.pid(), RLIMIT_NOFILE, &limit, nullptr) == 0);
  std::vector<std::unique_ptr<RawClient>> flood;
  for (int i = 0; i < 100; ++i) flood.push_back(std::make_unique<RawClient>(port));
  std::this_thread::sleep_for(1500ms);
  // The connection it already had still gets answers.
  kept.clearReceived();
  REQUIRE(kept.send(localRequest("/health")));
  REQUIRE(kept.readUntil("{\"status\":\"ok\"}", 5'000));
  REQUIRE(gatherd.waitForLog("out of file descriptors", 5s));
  // Throttled: one line, not one per failed accept.
  CHECK(count(gatherd.err(), "out of file descriptors") == 1);
  flood.clear();
  REQUIRE(::prlimit(gatherd.pid(), RLIMIT_NOFILE, &old, nullptr) == 0);
  // After the flood, new connections are served again (the backlog drains).
  bool answered = false;
  for (int attempt = 0; attempt < 50 && !answered; ++attempt) {
    RawClient fresh(port);
    fresh.send(localRequest("/health", "Connection: close\r\n"));
    answered = fresh.readUntil("{\"status\":\"ok\"}", 2'000);
  }
  REQUIRE(answered);
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(15s) == 0);
}

TEST_CASE("Host allow-list, security headers, no dotfiles, final stream event on stop",
          "[http-runtime]") {
  TempDir dir;
  const auto config = dir.write("gatherd.ini", httpConfig(dir, ""));
  dir.write("web/index.html",
            "<!doctype html><title>gatherd</title><script type=module src=/assets/a.js></script>");
  dir.write("web/.env", "SECRET=1");
  dir.write("web/.git/config", "SECRET=2");
  GatherdProcess gatherd(config);
  const auto port = startAndGetPort(gatherd);
  REQUIRE(port != 0);
  auto status = [&](const std::string& host) {
    return statusOf(rawExchange(
        port, "GET /health HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"));
  };
  CHECK(status("localhost") == 200);
  CHECK(status("localhost:8080") == 200);
  CHECK(status("127.0.0.1:1") == 200);
  CHECK(status("[::1]:8080") == 200);
  CHECK(status("evil.example") == 421);
  CHECK(status("127.0.0.1.evil.example") == 421);
  CHECK(status("localhost.evil.example:80") == 421);

  const Reply index = get(port, "/");
  REQUIRE(index.status == 200);
  CHECK_THAT(index.header("Content-Security-Policy"), Catch::Contains("script-src 'self'"));
  CHECK_THAT(index.header("Content-Security-Policy"), Catch::Contains("frame-ancestors 'none'"));
  CHECK_THAT(index.header("Content-Security-Policy"), !Catch::Contains("'unsafe-inline'; script"));
  CHECK(index.header("X-Frame-Options") == "DENY");
  CHECK(index.header("Referrer-Policy") == "no-referrer");
  CHECK(index.header("X-Content-Type-Options") == "nosniff");
  CHECK(get(port, "/api/version").header("X-Content-Type-Options") == "nosniff");
  for (const char* path : {"/.env", "/.git/config", "/%2eenv"}) {
    INFO(path);
    const std::string answer = rawExchange(port, localRequest(path, "Connection: close\r\n"));
    CHECK(statusOf(answer) == 404);
    CHECK_THAT(answer, !Catch::Contains("SECRET"));
  }

  RawClient stream(port);
  REQUIRE(stream.send(localRequest("/events")));
  REQUIRE(stream.readUntil(": connected\n\n"));
  gatherd.signal(SIGTERM);
  REQUIRE(stream.readUntilClosed(10'000));
  CHECK_THAT(stream.received(), Catch::Contains("event: shutdown\n"));
  REQUIRE(gatherd.wait(15s) == 0);
}

TEST_CASE("a non-loopback bind needs a token, from the ini or GATHERD_HTTP_TOKEN",
          "[http-runtime]") {
  TempDir dir;
  auto open = httpConfig(dir, "");
  open.replace(open.find("bind = 127.0.0.1:0"), 18, "bind = 0.0.0.0:0");
  {
    GatherdProcess refused(dir.write("open.ini", open));
    REQUIRE(refused.wait(15s) == 2);
    CHECK_THAT(refused.err(), Catch::Contains("GATHERD_HTTP_TOKEN"));
    CHECK_THAT(refused.err(), Catch::Contains("allow_open = true"));
  }
  {
    const std::string token = "runtime-test-token-0123456789abcdef";
    GatherdProcess with_token(dir.write("open-token.ini", open), {},
                              {"GATHERD_HTTP_TOKEN=" + token});
    const auto port = startAndGetPort(with_token);
    REQUIRE(port != 0);
    CHECK(get(port, "/api/version").status == 401);
    CHECK(get(port, "/api/version", {{"Authorization", "Bearer " + token}}).status == 200);
    CHECK_THAT(with_token.err(), !Catch::Contains(token));
    with_token.signal(SIGTERM);
    REQUIRE(with_token.wait(15s) == 0);
  }
  auto allowed = open;
  allowed.replace(allowed.find("[source.demo]"), 0, "allow_open = true\n\n");
  GatherdProcess allowed_open(dir.write("open-allowed.ini", allowed));
  REQUIRE(startAndGetPort(allowed_open) != 0);
  allowed_open.signal(SIGTERM);
  REQUIRE(allowed_open.wait(15s) == 0);
}

TEST_CASE("the sse sink starts whatever the order of the [sink.*] sections", "[http-runtime]") {
  TempDir dir;
  GatherdProcess gatherd(dir.write(
      "gatherd.ini",
      httpConfig(dir, "",
                 "[sink.live]\nplugin = sse\nheartbeat = 200ms\n\n[sink.db]\nplugin = sqlite\n")));
  const auto port = startAndGetPort(gatherd);
  REQUIRE(port != 0);
  RawClient stream(port);
  REQUIRE(stream.send(localRequest("/events")));
  REQUIRE(stream.readUntil(": connected\n\n"));
  // Heartbeats come from the core's stream handling.
  REQUIRE(stream.readUntil(": heartbeat\n\n", 5'000));
  // And the demo source's invocations arrive live.
  REQUIRE(stream.readUntil("event: invocation\n", 15'000));
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(15s) == 0);
}
