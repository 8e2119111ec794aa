// The API over a real SQLite store (the sqlite sink, through the sdk), and /events end to end.
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "core/alerts/alert_engine.hpp"
#include "core/http/http_server.hpp"
#include "http_test_client.hpp"
#include "sse_sink.hpp"
#include "sse_test_support.hpp"
#include <sys/wait.h>

using gatherd::core::HttpServer;
using gatherd::core::HttpServerOptions;
using gatherd::core::SourceStatusRegistry;
using namespace gatherd::core::testing;
using namespace gatherd::plugins::sse::testing;
namespace sdk = gatherd::sdk;

namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 60 * kMinute;

struct ApiFixture {
  ApiFixture() {
    registry.add("acct", "xychatai-codex", 10'000);
    registry.add("acct2", "xychatai-codex", 10'000);
    HttpServerOptions options;
    options.bind = "127.0.0.1:0";
    sdk::Store* store_pointer = &store.store();
    server =
        std::make_unique<HttpServer>(options, registry, [store_pointer] { return store_pointer; });
  }
  void seed() {
    const std::int64_t window = now - now % 10'000;
    auto slow = invocation("req-1", now - 50 * kMinute);
    slow.fields[sdk::streams::invocation::kResponseTimeMs] = std::int64_t{1200};
    slow.fields[sdk::streams::invocation::kFirstByteTimeMs] = std::int64_t{300};
    auto fast = invocation("req-2", now - 40 * kMinute);
    fast.fields[sdk::streams::invocation::kResponseTimeMs] = std::int64_t{800};
    auto other_model = invocation("req-3", now - 20 * kMinute);
    other_model.fields[sdk::streams::invocation::kModel] = std::string("gpt-5-mini");
    store.write(batch("acct", window - 30'000,
                      {slow, fast, other_model, invocation("req-4", now - 10 * kMinute, "failed"),
                       invocation("req-5", now - 5 * kMinute, "failed"),
                       invocation("req-old", now - 72 * kHour), quota(42.0, now - kMinute)}));
    auto expired =
        batch("acct", window - 20'000, {}, sdk::AuthState::kExpired, sdk::Outcome::kAuthError);
    // What the core adds to the batch of a window that changed the source's state.
    expired.records.push_back(
        sourceStatus("acct", "expired", 1, expired.window.message, expired.window.finished_ms));
    store.write(expired);
    store.write(batch("acct2", window - 10'000, {invocation("req-6", now - 2 * kMinute)}));
  }
  std::uint16_t start() {
    server->start();
    return server->port();
  }
  const std::int64_t now = nowMs();
  StoreFixture store;
  SourceStatusRegistry registry;
  std::unique_ptr<HttpServer> server;
};

std::vector<std::string> requestIds(const Reply& reply) {
  std::vector<std::string> ids;
  auto items = reply.json()->getArray("items");
  for (std::size_t i = 0; i < items->size(); ++i) {
    ids.push_back(items->getObject(static_cast<unsigned>(i))->getValue<std::string>("requestId"));
  }
  return ids;
}

std::string urlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.')
      out.push_back(static_cast<char>(c));
    else {
      char buffer[4];
      std::snprintf(buffer, sizeof(buffer), "%%%02X", c);
      out += buffer;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("invocations: filters, text search and keyset pages", "[http][store]") {
  ApiFixture fixture;
  fixture.seed();
  const auto port = fixture.start();

  Reply all = get(port, "/api/invocations");
  REQUIRE(all.status == 200);
  REQUIRE(requestIds(all) == std::vector<std::string>{"req-6", "req-5", "req-4", "req-3", "req-2",
                                                      "req-1", "req-old"});
  REQUIRE(all.json()->isNull("nextCursor"));
  auto first = all.json()->getArray("items")->getObject(5);
  REQUIRE(first->getValue<std::string>("source") == "acct");
  REQUIRE(first->getValue<std::int64_t>("responseTimeMs") == 1200);
  REQUIRE(first->getValue<std::int64_t>("firstByteTimeMs") == 300);
  REQUIRE(first->getValue<std::string>("occurredAt").back() == 'Z');
  REQUIRE(all.json()->getArray("items")->getObject(4)->isNull("firstByteTimeMs"));

  // Pages of 3 cover everything exactly once.
  std::vector<std::string> paged;
  std::string cursor;
  int pages = 0;
  do {
    Reply page = get(
        port, "/api/invocations?limit=3" + (cursor.empty() ? "" : "&cursor=" + urlEncode(cursor)));
    REQUIRE(page.status == 200);
    for (const auto& id : requestIds(page)) paged.push_back(id);
    cursor =
        page.json()->isNull("nextCursor") ? "" : page.json()->getValue<std::string>("nextCursor");
    ++pages;
  } while (!cursor.empty() && pages < 10);
  REQUIRE(paged == requestIds(all));
  REQUIRE(pages == 3);

  REQUIRE(requestIds(get(port, "/api/invocations?source=acct2")) ==
          std::vector<std::string>{"req-6"});
  REQUIRE(requestIds(get(port, "/api/invocations?status=failure")) ==
          std::vector<std::string>{"req-5", "req-4"});
  REQUIRE(requestIds(get(port, "/api/invocations?model=gpt-5-mini")) ==
          std::vector<std::string>{"req-3"});
  REQUIRE(requestIds(get(port, "/api/invocations?q=502+after")).size() == 2);
  REQUIRE(requestIds(get(port, "/api/invocations?q=req-ol")) ==
          std::vector<std::string>{"req-old"});
  const std::string from = std::to_string(fixture.now - 45 * kMinute);
  const std::string to = std::to_string(fixture.now - 15 * kMinute);
  REQUIRE(requestIds(get(port, "/api/invocations?from=" + from + "&to=" + to)) ==
          std::vector<std::string>{"req-3", "req-2"});
  const std::string iso_from = urlEncode(gatherd::json::formatIsoUtc(fixture.now - 3 * kMinute));
  REQUIRE(requestIds(get(port, "/api/invocations?from=" + iso_from)) ==
          std::vector<std::string>{"req-6"});

  Reply bad_cursor = get(port, "/api/invocations?cursor=garbage");
  REQUIRE(bad_cursor.status == 400);
  REQUIRE(bad_cursor.json()->getValue<std::string>("parameter") == "cursor");
}

TEST_CASE("windows, sources, quota and readiness from the store", "[http][store]") {
  ApiFixture fixture;
  fixture.seed();
  const auto port = fixture.start();

  Reply windows = get(port, "/api/windows");
  REQUIRE(windows.status == 200);
  REQUIRE(windows.json()->getArray("items")->size() == 3);
  auto newest = windows.json()->getArray("items")->getObject(0);
  REQUIRE(newest->getValue<std::string>("source") == "acct2");
  REQUIRE(newest->getValue<std::int64_t>("id") > 0);
  Reply auth = get(port, "/api/windows?outcome=auth_error&source=acct");
  REQUIRE(auth.json()->getArray("items")->size() == 1);
  REQUIRE(auth.json()->getArray("items")->getObject(0)->getValue<std::string>("authState") ==
          "expired");
  Reply one = get(port, "/api/windows?limit=1");
  REQUIRE(one.json()->getArray("items")->size() == 1);
  const std::string next = one.json()->getValue<std::string>("nextCursor");
  Reply rest = get(port, "/api/windows?limit=5&cursor=" + urlEncode(next));
  REQUIRE(rest.json()->getArray("items")->size() == 2);
  REQUIRE(get(port, "/api/windows?cursor=zz").status == 400);

  Reply quota = get(port, "/api/quota/latest");
  REQUIRE(quota.status == 200);
  auto items = quota.json()->getArray("items");
  REQUIRE(items->size() == 1);
  REQUIRE(items->getObject(0)->getValue<std::string>("source") == "acct");
  REQUIRE(items->getObject(0)->getValue<double>("amountUsedUsd") == Approx(42.0));
  REQUIRE(items->getObject(0)->getValue<std::string>("planName") == "Pro");
  REQUIRE(get(port, "/api/quota/latest?source=acct2").json()->getArray("items")->size() == 0);

  Reply ready = get(port, "/ready");
  REQUIRE(ready.status == 200);
  REQUIRE(ready.json()->getValue<bool>("ready"));
}

TEST_CASE("stats: totals per window, summary, time series, errors, models, latency",
          "[http][store]") {
  ApiFixture fixture;
  fixture.seed();
  const auto port = fixture.start();

  Reply stats = get(port, "/api/stats");
  REQUIRE(stats.status == 200);
  auto json = stats.json();
  REQUIRE(json->getObject("allTime")->getValue<std::int64_t>("count") == 7);
  REQUIRE(json->getObject("allTime")->getValue<std::int64_t>("failure") == 2);
  auto windows = json->getObject("windows");
  REQUIRE(windows->getObject("30m")->getValue<std::int64_t>("count") == 4);
  REQUIRE(windows->getObject("1h")->getValue<std::int64_t>("count") == 6);
  REQUIRE(windows->getObject("1d")->getValue<std::int64_t>("count") == 6);
  REQUIRE(windows->getObject("7d")->getValue<std::int64_t>("count") == 7);
  REQUIRE(windows->getObject("30d")->getValue<std::int64_t>("count") == 7);
  for (const char* name : {"today", "month"}) REQUIRE(windows->has(name));
  REQUIRE(windows->getObject("1h")->getValue<double>("successRate") == Approx(4.0 / 6.0));
  REQUIRE(get(port, "/api/stats?source=acct2")
              .json()
              ->getObject("allTime")
              ->getValue<std::int64_t>("count") == 1);
  REQUIRE(get(port, "/api/stats?tz=%2B08:00").status == 200);

  Reply summary = get(port, "/api/stats/summary?window=1h&source=acct");
  REQUIRE(summary.status == 200);
  REQUIRE(summary.json()->getValue<std::string>("window") == "1h");
  REQUIRE(summary.json()->getObject("totals")->getValue<std::int64_t>("count") == 5);
  REQUIRE(summary.json()->getValue<std::string>("from").back() == 'Z');

  Reply series = get(port, "/api/stats/timeseries?range=1d&bucket=1h&tz=-05:30");
  REQUIRE(series.status == 200);
  REQUIRE(series.json()->getValue<std::int64_t>("bucketMs") == kHour);
  auto points = series.json()->getArray("points");
  REQUIRE(points->size() >= 24);
  std::int64_t counted = 0;
  for (std::size_t i = 0; i < points->size(); ++i) {
    auto point = points->getObject(static_cast<unsigned>(i));
    REQUIRE(point->getValue<std::string>("t").back() == 'Z');
    counted += point->getValue<std::int64_t>("count");
  }
  REQUIRE(counted == 6);

  Reply errors = get(port, "/api/stats/errors?range=1d");
  REQUIRE(errors.status == 200);
  auto buckets = errors.json()->getArray("items");
  REQUIRE(buckets->size() == 1);
  REQUIRE(buckets->getObject(0)->getValue<std::int64_t>("count") == 2);
  REQUIRE(buckets->getObject(0)->getValue<std::string>("example") == "upstream 502 after 30s");

  Reply models = get(port, "/api/stats/models?range=7d");
  auto rows = models.json()->getArray("items");
  REQUIRE(rows->size() == 2);
  REQUIRE(rows->getObject(0)->getValue<std::string>("model") == "gpt-5-codex");
  REQUIRE(rows->getObject(0)->getValue<std::int64_t>("count") == 6);

  Reply latency = get(port, "/api/stats/latency?range=1d");
  REQUIRE(latency.status == 200);
  REQUIRE(latency.json()->getValue<std::int64_t>("samples") == 2);
  REQUIRE_FALSE(latency.json()->getObject("responseMs")->isNull("p50"));
}

TEST_CASE("a fresh /api/stats answers while every handler thread is held by slow requests",
          "[http][store]") {
  ApiFixture fixture;
  fixture.seed();
  // A plugin route that holds its handler thread until released: two of them take both workers.
  std::mutex mutex;
  std::condition_variable changed;
  int holding = 0;
  bool released = false;
  REQUIRE(fixture.server
              ->registerRoute("/hold",
                              [&](sdk::HttpExchange& exchange) {
                                std::unique_lock lock(mutex);
                                ++holding;
                                changed.notify_all();
                                changed.wait(lock, [&] { return released; });
                                exchange.respond(sdk::HttpResponse{200, "text/plain", {}, "done"});
                              })
              .ok());
  const auto port = fixture.start();
  const Reply computed = get(port, "/api/stats");  // computes it and fills the cache
  REQUIRE(computed.status == 200);
  auto release = [&] {
    std::lock_guard lock(mutex);
    released = true;
    changed.notify_all();
  };
  std::vector<std::thread> holders;
  for (int i = 0; i < 2; ++i) holders.emplace_back([port] { get(port, "/hold"); });
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return holding == 2; });
  }
  // Answered from the cache on the I/O thread: without that it would wait behind the holders.
  Reply cached;
  try {
    cached = get(port, "/api/stats");
  } catch (...) {
    release();
    for (auto& holder : holders) holder.join();
    throw;
  }
  release();
  for (auto& holder : holders) holder.join();
  REQUIRE(cached.status == 200);
  REQUIRE(cached.body == computed.body);
  // A bad parameter is still the route's 400 (it needs no handler thread to say so either way).
  REQUIRE(get(port, "/api/stats?bogus=1").status == 400);
}

TEST_CASE("/events through the real server: live, Last-Event-ID replay, curl -N", "[http][sse]") {
  ApiFixture fixture;
  sdk::testing::FakeHost host("live");
  host.setStore(&fixture.store.store());
  host.manualClock().jumpWall(nowMs() - host.clock().utcNowMs());
  gatherd::plugins::sse::SseSink sse;
  REQUIRE(sse.init(sdk::Config("live", {{"heartbeat", "15s"}}), host).ok());
  REQUIRE(fixture.server->registerStreamRoute("/events", host.streamRoute("/events")).ok());
  REQUIRE(sse.start().ok());
  const auto port = fixture.start();

  RawClient stream(port);
  REQUIRE(
      stream.send("GET /events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n"));
  REQUIRE(stream.readUntil(": connected\n\n"));
  REQUIRE(statusOf(stream.received()) == 200);
  REQUIRE_THAT(stream.received(), Catch::Contains("Content-Type: text/event-stream"));
  REQUIRE_THAT(stream.received(), Catch::Contains("retry: 3000"));
  // The API keeps answering while the stream is open (it holds no server thread).
  REQUIRE(get(port, "/health").status == 200);

  fixture.seed();
  REQUIRE(sse.write(sdk::Batch{}) == sdk::WriteResult::kOk);
  const std::int64_t latest = fixture.store.store().latestSequence();
  REQUIRE(stream.readUntil("id: " + std::to_string(latest) + "\n"));
  REQUIRE_THAT(stream.received(), Catch::Contains("event: invocation\n"));
  REQUIRE_THAT(stream.received(), Catch::Contains("event: quota\n"));
  REQUIRE_THAT(stream.received(), Catch::Contains("event: source\n"));
  // The stats event follows the changes it sums up; on a loaded machine it may come after the
  // last change's id line.
  REQUIRE(stream.readUntil("event: stats\n"));

  RawClient resumed(port);
  REQUIRE(resumed.send("GET /events HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: " +
                       std::to_string(latest - 2) + "\r\n\r\n"));
  REQUIRE(resumed.readUntil("id: " + std::to_string(latest) + "\n"));
  REQUIRE_THAT(resumed.received(), !Catch::Contains("id: " + std::to_string(latest - 2) + "\n"));
  REQUIRE_THAT(resumed.received(), Catch::Contains("id: " + std::to_string(latest - 1) + "\n"));

  // Smoke test with curl -N: a replay from the start, then the stream stays open until --max-time.
  const std::string command =
      "curl -N -s --max-time 2 -H 'Last-Event-ID: 0' http://127.0.0.1:" + std::to_string(port) +
      "/events";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
  const int status = ::pclose(pipe);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 28);  // the stream never ends by itself
  REQUIRE_THAT(output, Catch::Contains("retry: 3000"));
  REQUIRE_THAT(output, Catch::Contains("event: invocation\ndata: {\"id\":"));
  REQUIRE_THAT(output, Catch::Contains("id: " + std::to_string(latest) + "\n"));

  // Shutdown closes the streams promptly: the server first (no new streams), then the sink.
  fixture.server->stop();
  sse.stop();
  REQUIRE(stream.readUntilClosed(2'000));
  REQUIRE(resumed.readUntilClosed(2'000));
}

TEST_CASE("alerts: the engine's transitions reach /api/alerts and the SSE alert event",
          "[http][alerts]") {
  StoreFixture store;
  SourceStatusRegistry registry;
  sdk::testing::ManualClock clock(nowMs());
  gatherd::core::AlertEngine engine({}, clock);
  HttpServerOptions options;
  options.bind = "127.0.0.1:0";
  options.alerts_json = [&engine](std::size_t limit) { return engine.toJson(limit); };
  sdk::Store* store_pointer = &store.store();
  HttpServer server(options, registry, [store_pointer] { return store_pointer; });
  sdk::testing::FakeHost host("live");
  host.setStore(store_pointer);
  gatherd::plugins::sse::SseSink sse;
  REQUIRE(sse.init(sdk::Config("live", {{"heartbeat", "15s"}}), host).ok());
  REQUIRE(server.registerStreamRoute("/events", host.streamRoute("/events")).ok());
  REQUIRE(sse.start().ok());
  server.start();
  const auto port = server.port();

  RawClient stream(port);
  REQUIRE(stream.send("GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  REQUIRE(stream.readUntil(": connected\n\n"));

  // What Runtime does: the window's alert records travel in its batch.
  sdk::Batch expired =
      batch("acct", clock.utcNowMs(), {}, sdk::AuthState::kExpired, sdk::Outcome::kAuthError);
  for (auto& record : engine.observe(expired, 1)) expired.records.push_back(std::move(record));
  REQUIRE(expired.records.size() == 1);
  store.write(expired);
  REQUIRE(sse.write(expired) == sdk::WriteResult::kOk);
  REQUIRE(stream.readUntil("event: alert\n"));
  REQUIRE(stream.readUntil("\n\n"));
  REQUIRE_THAT(stream.received(), Catch::Contains("\"rule\":\"auth\",\"source\":\"acct\""));
  REQUIRE_THAT(stream.received(), Catch::Contains("\"state\":\"firing\""));

  Reply open = get(port, "/api/alerts");
  REQUIRE(open.status == 200);
  auto alert = open.json()->getArray("open")->getObject(0);
  REQUIRE(alert->getValue<std::string>("rule") == "auth");
  REQUIRE(alert->getObject("details")->getValue<std::string>("authState") == "expired");
  REQUIRE(open.json()->getArray("recent")->size() == 0);

  clock.advance(10'000);
  sdk::Batch ok = batch("acct", clock.utcNowMs(), {});
  for (auto& record : engine.observe(ok, 0)) ok.records.push_back(std::move(record));
  REQUIRE(ok.records.size() == 1);
  store.write(ok);
  REQUIRE(sse.write(ok) == sdk::WriteResult::kOk);
  REQUIRE(stream.readUntil("\"state\":\"resolved\""));
  Reply resolved = get(port, "/api/alerts?limit=5");
  REQUIRE(resolved.json()->getArray("open")->size() == 0);
  auto recent = resolved.json()->getArray("recent")->getObject(0);
  REQUIRE(recent->getValue<std::string>("id") == alert->getValue<std::string>("id"));
  REQUIRE_FALSE(recent->getValue<std::string>("resolvedAt").empty());
  REQUIRE(get(port, "/api/alerts?limit=5000").status == 400);
  sse.stop();
  server.stop();
}
