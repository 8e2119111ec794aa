// Over 500 lines: one case per server behaviour (routes, tokens, sessions, limits, streams),
// sharing the fixture at the top.
#include "core/http/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "gatherd/sdk/abi.hpp"
#include "gatherd/sdk/testing/temp_dir.hpp"
#include "http_test_client.hpp"
#include <sys/stat.h>

using gatherd::core::HttpServer;
using gatherd::core::HttpServerOptions;
using gatherd::core::InstanceState;
using gatherd::core::SourceStatusRegistry;
using namespace gatherd::core::testing;
namespace sdk = gatherd::sdk;
namespace fs = std::filesystem;

namespace {

void writeFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

struct Fixture {
  explicit Fixture(HttpServerOptions options = {}, sdk::Store* store = nullptr) {
    options.bind = "127.0.0.1:0";
    server = std::make_unique<HttpServer>(options, registry, [store] { return store; });
  }
  std::uint16_t start() {
    server->start();
    return server->port();
  }
  SourceStatusRegistry registry;
  std::unique_ptr<HttpServer> server;
};

/// Captures everything spdlog's default logger writes while it lives.
struct LogCapture {
  LogCapture() {
    previous = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
    spdlog::set_level(spdlog::level::trace);
  }
  ~LogCapture() { spdlog::set_default_logger(previous); }
  std::string text() const { return stream.str(); }
  std::ostringstream stream;
  std::shared_ptr<spdlog::logger> previous;
};

/// Names of this process's threads that start with `prefix` (from /proc/self/task/*/comm).
std::vector<std::string> threadNames(const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::string name;
    std::getline(std::ifstream(task.path() / "comm"), name);
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void requireBadParameter(std::uint16_t port, const std::string& uri, const std::string& parameter) {
  INFO(uri);
  const Reply reply = get(port, uri);
  REQUIRE(reply.status == 400);
  REQUIRE(reply.header("Content-Type") == "application/json");
  auto json = reply.json();
  REQUIRE(json->getValue<std::string>("parameter") == parameter);
  REQUIRE_FALSE(json->getValue<std::string>("error").empty());
}

}  // namespace

TEST_CASE("health, version and 404s answer JSON", "[http]") {
  Fixture fixture;
  const auto port = fixture.start();

  Reply health = get(port, "/health");
  REQUIRE(health.status == 200);
  REQUIRE(health.body == R"({"status":"ok"})");
  REQUIRE(health.header("Content-Length") == std::to_string(health.body.size()));

  Reply version = get(port, "/api/version");
  REQUIRE(version.status == 200);
  REQUIRE(version.json()->getValue<std::string>("version") == GATHERD_VERSION);
  REQUIRE(version.json()->getValue<std::string>("abi") ==
          std::to_string(sdk::kAbiMajor) + "." + std::to_string(sdk::kAbiMinor));
  REQUIRE(version.json()->getValue<std::string>("startedAt").back() == 'Z');

  for (const char* uri : {"/api/nope", "/api", "/api/stats/nope", "/api/version/x"}) {
    INFO(uri);
    Reply missing = get(port, uri);
    REQUIRE(missing.status == 404);
    REQUIRE(missing.json()->has("error"));
  }
  // Without a web root nothing else is served either.
  REQUIRE(get(port, "/index.html").status == 404);

  Reply post = fixture.server->port() ? request(port, "POST", "/api/stats") : Reply{};
  REQUIRE(post.status == 405);
  REQUIRE(post.json()->has("error"));
}

TEST_CASE("ready reports a missing store and failed sources, sources lists each instance",
          "[http]") {
  Fixture fixture;
  fixture.registry.add("acct-a", "xychatai-codex", 10'000);
  fixture.registry.add("acct-b", "demo", 5'000);
  const auto port = fixture.start();

  Reply ready = get(port, "/ready");
  REQUIRE(ready.status == 503);
  REQUIRE_FALSE(ready.json()->getValue<bool>("ready"));
  REQUIRE_THAT(ready.json()->getValue<std::string>("reason"), Catch::Contains("store"));

  fixture.registry.setState("acct-b", InstanceState::kFailed, "init failed: bad base_url");
  ready = get(port, "/ready");
  REQUIRE_THAT(ready.json()->getValue<std::string>("reason"),
               Catch::Contains("acct-b is failed: init failed: bad base_url"));

  sdk::WindowResult window;
  window.source = "acct-a";
  window.window_ms = 1'772'000'000'000;
  window.started_ms = window.window_ms + 5;
  window.finished_ms = window.window_ms + 900;
  window.outcome = sdk::Outcome::kAuthError;
  window.message = "cookie expired: log in again and update XY_SESSION_COOKIE_VALUE";
  window.http_status = 401;
  window.auth_state = sdk::AuthState::kExpired;
  fixture.registry.recordWindow(window);
  fixture.registry.setAuth("acct-a", sdk::AuthState::kExpired, "log in again");

  Reply sources = get(port, "/api/sources");
  REQUIRE(sources.status == 200);
  auto list = sources.json()->getArray("sources");
  REQUIRE(list->size() == 2);
  auto first = list->getObject(0);
  REQUIRE(first->getValue<std::string>("name") == "acct-a");
  REQUIRE(first->getValue<std::string>("plugin") == "xychatai-codex");
  REQUIRE(first->getValue<std::string>("state") == "running");
  REQUIRE(first->getValue<std::string>("authState") == "expired");
  REQUIRE(first->getValue<std::string>("authHint") == "log in again");
  REQUIRE(first->getValue<std::int64_t>("intervalMs") == 10'000);
  REQUIRE(first->getValue<std::int64_t>("consecutiveFailures") == 1);
  REQUIRE(first->isNull("lastSuccessAt"));
  auto last = first->getObject("lastWindow");
  REQUIRE(last->getValue<std::string>("outcome") == "auth_error");
  REQUIRE(last->getValue<std::int64_t>("httpStatus") == 401);
  REQUIRE(list->getObject(1)->getValue<std::string>("state") == "failed");
}

TEST_CASE("every bad parameter is a 400 naming it, before the store is asked", "[http]") {
  Fixture fixture;  // no store: a 503 here would mean validation came too late
  const auto port = fixture.start();
  requireBadParameter(port, "/api/invocations?limit=0", "limit");
  requireBadParameter(port, "/api/invocations?limit=501", "limit");
  requireBadParameter(port, "/api/invocations?limit=12abc", "limit");
  requireBadParameter(port, "/api/invocations?from=yesterday", "from");
  requireBadParameter(port, "/api/invocations?to=2026-13-01T00:00:00Z", "to");
  requireBadParameter(port, "/api/invocations?from=2026-02-02T00:00:00Z&to=2026-02-01T00:00:00Z",
                      "from");
  requireBadParameter(port, "/api/invocations?q=" + std::string(201, 'x'), "q");
  requireBadParameter(port, "/api/invocations?colour=red", "colour");
  requireBadParameter(port, "/api/invocations?model=a&model=b", "model");
  requireBadParameter(port, "/api/invocations?model=%zz", "model");
  requireBadParameter(port, "/api/windows?outcome=fine", "outcome");
  requireBadParameter(port, "/api/windows?limit=1001", "limit");
  requireBadParameter(port, "/api/windows?from=1e9", "from");
  requireBadParameter(port, "/api/stats?tz=Asia/Shanghai", "tz");
  requireBadParameter(port, "/api/stats?tz=%2B8", "tz");
  requireBadParameter(port, "/api/stats?tz=%2B15:00", "tz");
  requireBadParameter(port, "/api/stats/summary?window=2d", "window");
  requireBadParameter(port, "/api/stats/summary?window=today&tz=CET", "tz");
  requireBadParameter(port, "/api/stats/timeseries?range=1y", "range");
  requireBadParameter(port, "/api/stats/timeseries?bucket=2m", "bucket");
  requireBadParameter(port, "/api/stats/timeseries?range=30d&bucket=1m", "bucket");
  requireBadParameter(port, "/api/stats/errors?limit=0", "limit");
  requireBadParameter(port, "/api/stats/errors?range=forever", "range");
  requireBadParameter(port, "/api/stats/models?range=1w", "range");
  requireBadParameter(port, "/api/stats/models?bucket=1h", "bucket");
  requireBadParameter(port, "/api/stats/latency?range=2h", "range");
  requireBadParameter(port, "/api/quota/latest?src=x", "src");
  // An empty value is absent, not an error; then the missing store is the answer.
  Reply no_store = get(port, "/api/invocations?model=&limit=10");
  REQUIRE(no_store.status == 503);
  REQUIRE_THAT(no_store.json()->getValue<std::string>("error"), Catch::Contains("store"));
  REQUIRE(get(port, "/api/stats?tz=%2B08:00").status == 503);
  REQUIRE(get(port, "/api/stats?tz=Z").status == 503);
  // A literal '+' in tz is the offset's sign, not a space.
  REQUIRE(get(port, "/api/stats/summary?window=today&tz=+05:30").status == 503);
}

TEST_CASE("plugin routes get the exchange, can stream, and cannot crash the server", "[http]") {
  Fixture fixture;
  std::atomic<bool> stream_accepted{false};
  REQUIRE(fixture.server
              ->registerRoute("/plug",
                              [](sdk::HttpExchange& exchange) {
                                sdk::HttpResponse response;
                                response.content_type = "text/plain";
                                response.body = exchange.request().method + " " +
                                                exchange.request().path + " ?" +
                                                exchange.request().query + " " +
                                                exchange.request().headers.at("x-probe");
                                exchange.respond(response);
                              })
              .ok());
  REQUIRE(fixture.server
              ->registerStreamRoute("/stream",
                                    [&](sdk::StreamExchange& exchange) {
                                      sdk::HttpResponse head;
                                      head.content_type = "text/event-stream";
                                      auto stream = exchange.accept(head, sdk::StreamOptions{});
                                      stream_accepted = stream != nullptr;
                                      if (stream) {
                                        REQUIRE(stream->write(std::string("data: hello\n\n"),
                                                              sdk::StreamOverflow::kDrop) ==
                                                sdk::StreamWrite::kQueued);
                                        stream->close();
                                      }
                                    })
              .ok());
  REQUIRE(fixture.server
              ->registerRoute("/throws",
                              [](sdk::HttpExchange&) { throw std::runtime_error("plugin bug"); })
              .ok());
  REQUIRE(fixture.server->registerRoute("/silent", [](sdk::HttpExchange&) {}).ok());
  REQUIRE_FALSE(fixture.server->registerRoute("/plug", [](sdk::HttpExchange&) {}).ok());
  REQUIRE_FALSE(fixture.server->registerRoute("/api/mine", [](sdk::HttpExchange&) {}).ok());
  REQUIRE_FALSE(fixture.server->registerRoute("/health", [](sdk::HttpExchange&) {}).ok());
  REQUIRE_FALSE(fixture.server->registerRoute("nolead", [](sdk::HttpExchange&) {}).ok());
  const auto port = fixture.start();
  REQUIRE_FALSE(fixture.server->registerRoute("/late", [](sdk::HttpExchange&) {}).ok());

  Reply plug = get(port, "/plug/sub%20path?a=1", {{"X-Probe", "yes"}});
  REQUIRE(plug.status == 200);
  REQUIRE(plug.body == "GET /plug/sub path ?a=1 yes");
  REQUIRE(get(port, "/plugin", {{"X-Probe", "no"}}).status == 404);

  RawClient stream(port);
  REQUIRE(stream.send("GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  REQUIRE(stream.readUntilClosed());
  REQUIRE(statusOf(stream.received()) == 200);
  REQUIRE_THAT(stream.received(), Catch::Contains("Content-Type: text/event-stream"));
  REQUIRE_THAT(stream.received(), !Catch::Contains("Content-Length"));
  REQUIRE(stream.bodyAfterHead() == "data: hello\n\n");
  REQUIRE(stream_accepted);

  Reply thrown = get(port, "/throws");
  REQUIRE(thrown.status == 500);
  REQUIRE_THAT(thrown.body, !Catch::Contains("plugin bug"));
  REQUIRE(get(port, "/silent").status == 500);
  REQUIRE(get(port, "/health").status == 200);
}

TEST_CASE("the token guards /api and plugin routes, never /health, and never leaks", "[http]") {
  LogCapture logs;
  const std::string token = "s3cret-token-value-0123456789";
  HttpServerOptions options;
  options.token = token;
  Fixture fixture(options);
  REQUIRE(
      fixture.server
          ->registerRoute("/events",
                          [](sdk::HttpExchange& exchange) {
                            exchange.respond(sdk::HttpResponse{200, "text/plain", {}, "stream"});
                          })
          .ok());
  const auto port = fixture.start();

  REQUIRE(get(port, "/health").status == 200);
  REQUIRE(get(port, "/ready").status == 503);
  Reply denied = get(port, "/api/version");
  REQUIRE(denied.status == 401);
  REQUIRE(denied.header("WWW-Authenticate") == "Bearer");
  REQUIRE(denied.json()->has("error"));
  REQUIRE(get(port, "/api/version", {{"Authorization", "Bearer wrong"}}).status == 401);
  REQUIRE(get(port, "/api/version", {{"Authorization", "Bearer " + token + "x"}}).status == 401);
  REQUIRE(get(port, "/api/version", {{"Authorization", "Basic " + token}}).status == 401);
  REQUIRE(get(port, "/api/nope").status == 401);
  REQUIRE(get(port, "/events").status == 401);
  REQUIRE(get(port, "/api/version", {{"Authorization", "Bearer " + token}}).status == 200);
  REQUIRE(get(port, "/events", {{"Authorization", "bearer " + token}}).body == "stream");

  // The dashboard's login form: a wrong token gets no cookie, the right one an HttpOnly cookie.
  Reply wrong = request(port, "POST", "/api/login",
                        {{"Content-Type", "application/x-www-form-urlencoded"}}, "token=nope");
  REQUIRE(wrong.status == 401);
  REQUIRE(wrong.header("Set-Cookie").empty());
  REQUIRE(
      request(port, "POST", "/api/login", {{"Content-Type", "application/json"}}, "{}").status ==
      400);
  Reply login = request(port, "POST", "/api/login",
                        {{"Content-Type", "application/x-www-form-urlencoded"}}, "token=" + token);
  REQUIRE(login.status == 200);
  const std::string cookie = login.header("Set-Cookie");
  REQUIRE_THAT(cookie, Catch::Contains("HttpOnly"));
  REQUIRE_THAT(cookie, Catch::Contains("SameSite=Strict"));
  REQUIRE_THAT(cookie, !Catch::Contains(token));
  const std::string pair = cookie.substr(0, cookie.find(';'));
  REQUIRE(get(port, "/api/version", {{"Cookie", "theme=dark; " + pair}}).status == 200);
  REQUIRE(get(port, "/events", {{"Cookie", pair}}).status == 200);
  REQUIRE(get(port, "/api/version", {{"Cookie", pair + "0"}}).status == 401);
  Reply json_login = request(port, "POST", "/api/login", {{"Content-Type", "application/json"}},
                             "{\"token\": \"" + token + "\"}");
  REQUIRE(json_login.status == 200);
  REQUIRE(get(port, "/api/login").status == 405);
  REQUIRE(request(port, "POST", "/api/logout").header("Set-Cookie").find("Max-Age=0") !=
          std::string::npos);
  // Logout revokes the session on the server, whatever the browser keeps.
  REQUIRE(get(port, "/api/version", {{"Cookie", pair}}).status == 200);
  REQUIRE(get(port, "/api/logout", {{"Cookie", pair}}).status == 405);
  REQUIRE(request(port, "POST", "/api/logout", {{"Cookie", pair}}).status == 200);
  REQUIRE(get(port, "/api/version", {{"Cookie", pair}}).status == 401);
  // Every login is its own random session id.
  Reply second = request(port, "POST", "/api/login",
                         {{"Content-Type", "application/x-www-form-urlencoded"}}, "token=" + token);
  REQUIRE(second.header("Set-Cookie").substr(0, second.header("Set-Cookie").find(';')) != pair);
  REQUIRE_THAT(second.header("Set-Cookie"), Catch::Contains("Max-Age=2592000"));
  REQUIRE_THAT(second.header("Set-Cookie"), !Catch::Contains("Secure"));

  // Bad requests carrying the token must not echo it anywhere.
  Reply bad =
      get(port, "/api/invocations?limit=0&q=" + token, {{"Authorization", "Bearer " + token}});
  REQUIRE(bad.status == 400);
  REQUIRE_THAT(bad.body, !Catch::Contains(token));
  spdlog::default_logger()->flush();
  REQUIRE_THAT(logs.text(), !Catch::Contains(token));
}

TEST_CASE("CORS is off unless the origin is listed", "[http]") {
  {
    Fixture fixture;
    const auto port = fixture.start();
    Reply reply = get(port, "/health", {{"Origin", "http://evil.example"}});
    REQUIRE(reply.header("Access-Control-Allow-Origin").empty());
  }
  HttpServerOptions options;
  options.cors_origins = {"http://localhost:5173"};
  Fixture fixture(options);
  const auto port = fixture.start();
  REQUIRE(get(port, "/health", {{"Origin", "http://localhost:5173"}})
              .header("Access-Control-Allow-Origin") == "http://localhost:5173");
  REQUIRE(get(port, "/health", {{"Origin", "http://evil.example"}})
              .header("Access-Control-Allow-Origin")
              .empty());
  Reply preflight =
      request(port, "OPTIONS", "/api/stats",
              {{"Origin", "http://localhost:5173"}, {"Access-Control-Request-Method", "GET"}});
  REQUIRE(preflight.status == 204);
  REQUIRE_THAT(preflight.header("Access-Control-Allow-Headers"), Catch::Contains("Authorization"));
}

TEST_CASE("static files: MIME types, cache headers, SPA fallback, no escape from the root",
          "[http]") {
  gatherd::sdk::testing::TempDir temp("gatherd-http");
  const fs::path root = temp.path() / "dist";
  writeFile(root / "index.html", "<!doctype html><title>gatherd</title>");
  writeFile(root / "assets" / "index-4f2a9c.js", "console.log(1)");
  writeFile(root / "assets" / "index-4f2a9c.css", "body{}");
  writeFile(root / "favicon.svg", "<svg/>");
  writeFile(temp.path() / "secret.txt", "TOP-SECRET");
  writeFile(temp.path() / "dist-evil" / "x.txt", "SIBLING-SECRET");
  fs::create_symlink(temp.path() / "secret.txt", root / "link.txt");
  fs::create_directory_symlink(temp.path(), root / "assets" / "up");
  HttpServerOptions options;
  options.web_root = root.string();
  Fixture fixture(options);
  const auto port = fixture.start();

  Reply index = get(port, "/");
  REQUIRE(index.status == 200);
  REQUIRE(index.header("Content-Type") == "text/html; charset=utf-8");
  REQUIRE(index.header("Cache-Control") == "no-cache");
  REQUIRE_THAT(index.body, Catch::Contains("<title>gatherd</title>"));

  Reply script = get(port, "/assets/index-4f2a9c.js");
  REQUIRE(script.status == 200);
  REQUIRE(script.header("Content-Type") == "text/javascript; charset=utf-8");
  REQUIRE(script.header("Cache-Control") == "public, max-age=31536000, immutable");
  REQUIRE(get(port, "/assets/index-4f2a9c.css").header("Content-Type") ==
          "text/css; charset=utf-8");
  REQUIRE(get(port, "/favicon.svg").header("Content-Type") == "image/svg+xml");

  Reply route = get(port, "/sources/acct-a");
  REQUIRE(route.status == 200);
  REQUIRE(route.body == index.body);
  REQUIRE(get(port, "/assets/missing-123.js").status == 404);
  REQUIRE(get(port, "/missing.png").status == 404);

  // A precompressed copy is sent to clients that accept gzip, with the original's type.
  writeFile(root / "assets" / "index-4f2a9c.js.gz", "GZIPPED-BYTES");
  Reply zipped = get(port, "/assets/index-4f2a9c.js", {{"Accept-Encoding", "gzip, deflate"}});
  REQUIRE(zipped.status == 200);
  REQUIRE(zipped.body == "GZIPPED-BYTES");
  REQUIRE(zipped.header("Content-Encoding") == "gzip");
  REQUIRE(zipped.header("Content-Type") == "text/javascript; charset=utf-8");
  REQUIRE(zipped.header("Vary") == "Accept-Encoding");
  Reply plain = get(port, "/assets/index-4f2a9c.js");
  REQUIRE(plain.body == "console.log(1)");
  REQUIRE(plain.header("Content-Encoding").empty());

  Reply head = request(port, "HEAD", "/assets/index-4f2a9c.js");
  REQUIRE(head.status == 200);
  REQUIRE(head.body.empty());
  REQUIRE(head.header("Content-Length") == "14");

  // Raw requests: a real client would normalise these before sending.
  for (const std::string path :
       {"/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt", "/..%5csecret.txt", "/%252e%252e/secret.txt",
        "/link.txt", "/assets/up/secret.txt", "/../dist-evil/x.txt", "/.%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt", "/%00/secret.txt", "/./../secret.txt"}) {
    INFO(path);
    const std::string answer = rawExchange(
        port, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    const int status = statusOf(answer);
    REQUIRE(status >= 400);
    REQUIRE(status < 500);
    REQUIRE_THAT(answer, !Catch::Contains("SECRET"));
  }
  // An absolute-looking path is still relative to the root: the SPA answers, not /etc.
  const std::string passwd = rawExchange(
      port, "GET //etc/passwd HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  REQUIRE_THAT(passwd, !Catch::Contains("root:"));
  REQUIRE_THAT(passwd, Catch::Contains("<title>gatherd</title>"));
}

TEST_CASE("request size bounds, idle timeout, and many idle clients", "[http]") {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  options.header_timeout_ms = 300;
  options.keepalive_timeout_ms = 300;
  options.max_header_bytes = 4096;
  Fixture fixture(options);
  const auto port = fixture.start();

  Reply big = request(port, "POST", "/api/login", {{"Content-Type", "application/json"}},
                      std::string(4096, 'x'));
  REQUIRE(big.status == 413);
  const std::string chunked = rawExchange(
      port,
      "POST /api/login HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
      "800\r\n" +
          std::string(2048, 'y') + "\r\n0\r\n\r\n");
  REQUIRE(statusOf(chunked) == 413);

  const std::string long_uri = rawExchange(port, "GET /api/stats?x=" + std::string(20'000, 'a') +
                                                     " HTTP/1.1\r\nHost: localhost\r\n\r\n");
  REQUIRE(statusOf(long_uri) == 414);
  const std::string long_header = rawExchange(
      port,
      "GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + std::string(10'000, 'h') + "\r\n\r\n");
  REQUIRE(statusOf(long_header) == 431);
  std::string many_headers = "GET /health HTTP/1.1\r\nHost: localhost\r\n";
  for (int i = 0; i < 200; ++i) many_headers += "X-H" + std::to_string(i) + ": v\r\n";
  REQUIRE(statusOf(rawExchange(port, many_headers + "\r\n")) == 431);

  // An idle connection is closed by the server.
  RawClient idle(port);
  REQUIRE(idle.connected());
  REQUIRE(idle.readUntilClosed(10'000));

  // More silent connections than threads: each is dropped at the idle timeout, and a real
  // request still gets its answer.
  std::vector<std::unique_ptr<RawClient>> silent;
  for (int i = 0; i < 24; ++i) silent.push_back(std::make_unique<RawClient>(port));
  Reply health = get(port, "/health");
  REQUIRE(health.status == 200);
  for (auto& client : silent) REQUIRE(client->readUntilClosed(10'000));
}

TEST_CASE("bind failures are clear errors, stop is prompt with open connections", "[http]") {
  Fixture first;
  const auto port = first.start();
  HttpServerOptions options;
  SourceStatusRegistry registry;
  options.bind = "127.0.0.1:" + std::to_string(port);
  HttpServer clash(options, registry, [] { return nullptr; });
  try {
    clash.start();
    FAIL("binding a used port must throw");
  } catch (const std::runtime_error& error) {
    REQUIRE_THAT(error.what(), Catch::Contains("127.0.0.1:" + std::to_string(port)));
  }
  options.bind = "not-an-address";
  HttpServer bad(options, registry, [] { return nullptr; });
  REQUIRE_THROWS_AS(bad.start(), std::runtime_error);

  RawClient keep_alive(port);
  REQUIRE(keep_alive.send("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  REQUIRE(keep_alive.readUntil("{\"status\":\"ok\"}"));
  RawClient half(port);
  REQUIRE(half.send("GET /health HTTP/1.1\r\nHo"));
  first.server->stop();
  REQUIRE(keep_alive.readUntilClosed(5'000));
  REQUIRE(half.readUntilClosed(5'000));
  first.server->stop();
}

TEST_CASE("sessions expire, failed logins and bad tokens are rate-limited per address", "[http]") {
  LogCapture logs;
  const std::string token = "s3cret-token-value-0123456789";
  HttpServerOptions options;
  options.token = token;
  options.session_ttl_ms = 1'000;
  options.max_auth_failures = 3;
  options.auth_block_ms = 1'500;
  options.trusted_proxies = {"127.0.0.1"};
  Fixture fixture(options);
  const auto port = fixture.start();
  const std::vector<std::pair<std::string, std::string>> form = {
      {"Content-Type", "application/x-www-form-urlencoded"}};
  Reply login = request(port, "POST", "/api/login", form, "token=" + token);
  REQUIRE(login.status == 200);
  const std::string pair =
      login.header("Set-Cookie").substr(0, login.header("Set-Cookie").find(';'));
  REQUIRE_THAT(login.header("Set-Cookie"), Catch::Contains("Max-Age=1"));
  REQUIRE(get(port, "/api/version", {{"Cookie", pair}}).status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1'200));
  REQUIRE(get(port, "/api/version", {{"Cookie", pair}}).status == 401);

  // Through a trusted proxy that terminated TLS the cookie is Secure.
  auto with_proxy = form;
  with_proxy.emplace_back("X-Forwarded-Proto", "https");
  with_proxy.emplace_back("X-Forwarded-For", "203.0.113.9");
  REQUIRE_THAT(
      request(port, "POST", "/api/login", with_proxy, "token=" + token).header("Set-Cookie"),
      Catch::Contains("; Secure"));

  // Three bad attempts from one address: then 429 with Retry-After, even with the right token.
  REQUIRE(get(port, "/api/version", {{"Authorization", "Bearer nope-1"}}).status == 401);
  REQUIRE(request(port, "POST", "/api/login", form, "token=nope-2").status == 401);
  REQUIRE(get(port, "/api/version", {{"Authorization", "Bearer nope-3"}}).status == 401);
  Reply blocked = get(port, "/api/version", {{"Authorization", "Bearer " + token}});
  REQUIRE(blocked.status == 429);
  REQUIRE_FALSE(blocked.header("Retry-After").empty());
  REQUIRE(request(port, "POST", "/api/login", form, "token=" + token).status == 429);
  // Another address (as the trusted proxy reports it) is not affected.
  auto other = form;
  other.emplace_back("X-Forwarded-For", "198.51.100.7");
  REQUIRE(request(port, "POST", "/api/login", other, "token=" + token).status == 200);
  // Requests without credentials are not counted and not blocked: /health answers.
  REQUIRE(get(port, "/health").status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1'600));
  REQUIRE(get(port, "/api/version", {{"Authorization", "Bearer " + token}}).status == 200);
  spdlog::default_logger()->flush();
  REQUIRE_THAT(logs.text(), Catch::Contains("a wrong bearer token from 127.0.0.1"));
  REQUIRE_THAT(logs.text(), Catch::Contains("answering 429"));
  REQUIRE_THAT(logs.text(), !Catch::Contains("nope-"));
  REQUIRE_THAT(logs.text(), !Catch::Contains(token));
}

TEST_CASE("the serving threads carry names to count them apart from the process", "[http]") {
  HttpServerOptions options;
  options.io_threads = 3;
  options.worker_threads = 2;
  REQUIRE(threadNames("http-").empty());
  {
    Fixture fixture(options);
    const auto port = fixture.start();
    REQUIRE(get(port, "/health").status == 200);
    REQUIRE(threadNames("http-") == std::vector<std::string>{"http-handler-0", "http-handler-1",
                                                             "http-io-0", "http-io-1",
                                                             "http-io-2"});
    fixture.server->stop();
    REQUIRE(threadNames("http-").empty());
  }
}
