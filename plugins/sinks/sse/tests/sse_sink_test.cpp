#include "sse_sink.hpp"

#include <algorithm>
#include <set>
#include <thread>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <catch2/catch.hpp>

#include "gatherd/sdk/testing/eventually.hpp"
#include "sse_events.hpp"
#include "sse_test_support.hpp"

using namespace gatherd::plugins::sse;
using namespace gatherd::plugins::sse::testing;
using gatherd::sdk::testing::eventually;
namespace sdk = gatherd::sdk;

namespace {

Poco::JSON::Object::Ptr parse(const std::string& text) {
  Poco::JSON::Parser parser;
  return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

using Settings = std::map<std::string, std::string, std::less<>>;

struct SseFixture {
  explicit SseFixture(Settings config = {}, Settings store_config = {})
      : store(std::move(store_config)), host("live") {
    host.setStore(&store.store());
    // Stats windows are computed against the host's clock; the test data uses the real time.
    host.manualClock().jumpWall(nowMs() - host.clock().utcNowMs());
    if (!config.count("heartbeat")) config["heartbeat"] = "15s";
    REQUIRE(sink.init(sdk::Config("live", config), host).ok());
    REQUIRE(sink.start().ok());
  }
  ~SseFixture() { sink.stop(); }

  /// Connects a client through the registered route, as the HTTP server would.
  std::unique_ptr<SocketExchange> connect(std::optional<std::string> last_event_id = std::nullopt) {
    auto exchange = std::make_unique<SocketExchange>(last_event_id);
    host.streamRoute("/events")(*exchange);
    return exchange;
  }
  void write(const sdk::Batch& batch) {
    store.write(batch);
    REQUIRE(sink.write(batch) == sdk::WriteResult::kOk);
  }

  StoreFixture store;
  sdk::testing::FakeHost host;
  SseSink sink;
};

std::vector<std::int64_t> ids(const std::vector<Event>& events) {
  std::vector<std::int64_t> out;
  for (const auto& event : events) {
    if (event.id && event.name != "stats") out.push_back(*event.id);
  }
  return out;
}

std::vector<std::string> keyed(const std::vector<Event>& events, std::int64_t after) {
  std::vector<std::string> out;
  for (const auto& event : events) {
    if (event.id && *event.id > after && event.name != "stats") {
      out.push_back(std::to_string(*event.id) + " " + event.name + " " + event.data);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("formatEvent splits multi-line data and ends with a blank line", "[sse]") {
  REQUIRE(formatEvent(7, "window", "{\"a\":1}") == "id: 7\nevent: window\ndata: {\"a\":1}\n\n");
  REQUIRE(formatEvent(8, "x", "one\ntwo\r\nthree") ==
          "id: 8\nevent: x\ndata: one\ndata: two\ndata: three\n\n");
  REQUIRE(parseLastEventId("42") == 42);
  REQUIRE_FALSE(parseLastEventId("-1"));
  REQUIRE_FALSE(parseLastEventId("4x"));
  REQUIRE_FALSE(parseLastEventId(""));
}

TEST_CASE("the sse sink needs a store and sane settings", "[sse]") {
  sdk::testing::FakeHost host("live");
  SseSink sink;
  REQUIRE(sink.init(sdk::Config("live", {{"heartbeat", "15s"}}), host).ok());
  REQUIRE(host.streamRoute("/events"));
  const sdk::Status started = sink.start();
  REQUIRE_FALSE(started.ok());
  REQUIRE_THAT(started.message(), Catch::Contains("needs a store sink"));

  // Before start() the route answers 503 instead of hanging the client.
  SocketExchange exchange;
  host.streamRoute("/events")(exchange);
  REQUIRE(exchange.response());
  REQUIRE(exchange.response()->status == 503);

  sdk::testing::FakeHost other("slow");
  SseSink bad;
  const sdk::Status slow = bad.init(sdk::Config("slow", {{"heartbeat", "60s"}}), other);
  REQUIRE_FALSE(slow.ok());
  // The core adds "[sink.slow]" in front; the plugin must not say it a second time.
  CHECK(slow.message() == "heartbeat must be between 10ms and 15s");
  SseSink tiny;
  REQUIRE_FALSE(tiny.init(sdk::Config("slow", {{"client_buffer", "10"}}), other).ok());
}

TEST_CASE("live clients get named events with store ids, once per change", "[sse]") {
  SseFixture fixture;
  auto client = fixture.connect();
  REQUIRE(client->head());
  REQUIRE(client->head()->content_type.rfind("text/event-stream", 0) == 0);
  EventReader reader(client->clientFd());
  REQUIRE(reader.readUntil([](const auto& events) { return !events.empty(); }));
  REQUIRE(reader.events().front().name == "(retry 3000)");
  // The client is registered once the broadcaster has taken it in.
  REQUIRE(reader.events().front().comment == "connected");

  const std::int64_t now = nowMs();
  const std::int64_t window = now - now % 10'000;
  fixture.write(batch("acct", window,
                      {invocation("req-1", now - 2'000), invocation("req-2", now - 1'000, "failed"),
                       quota(12.5, now)}));
  const std::int64_t latest = fixture.store.store().latestSequence();
  REQUIRE(reader.readUntilEvent("stats"));
  REQUIRE(reader.readUntilId(latest));

  auto invocations = reader.named("invocation");
  REQUIRE(invocations.size() == 2);
  auto first = parse(invocations[0].data);
  REQUIRE(first->getValue<std::string>("requestId") == "req-1");
  REQUIRE(first->getValue<std::string>("source") == "acct");
  REQUIRE(first->getValue<std::string>("model") == "gpt-5-codex");
  REQUIRE(parse(invocations[1].data)->getValue<std::string>("status") == "failed");
  auto quotas = reader.named("quota");
  REQUIRE(quotas.size() == 1);
  REQUIRE(parse(quotas[0].data)->getValue<double>("amountUsedUsd") == Approx(12.5));
  REQUIRE(parse(quotas[0].data)->getValue<std::string>("source") == "acct");
  auto windows = reader.named("window");
  REQUIRE(windows.size() == 1);
  REQUIRE(parse(windows[0].data)->getValue<std::string>("outcome") == "ok");
  auto stats = reader.named("stats");
  REQUIRE(stats.size() == 1);
  auto day = parse(stats[0].data)->getObject("windows")->getObject("1d");
  REQUIRE(day->getValue<std::int64_t>("count") == 2);
  REQUIRE(day->getValue<std::int64_t>("failure") == 1);

  const auto seen = ids(reader.events());
  REQUIRE(std::is_sorted(seen.begin(), seen.end()));
  REQUIRE(seen.back() == latest);

  // A changed invocation is an update; an unchanged quota is no event at all.
  const std::size_t before = reader.events().size();
  fixture.write(batch("acct", window + 10'000,
                      {invocation("req-2", now - 1'000, "success"), quota(12.5, now + 10'000)}));
  REQUIRE(reader.readUntilId(fixture.store.store().latestSequence()));
  REQUIRE(reader.readUntilEvent("invocation-updated"));
  REQUIRE(reader.readUntil([](const auto& events) {
    return std::count_if(events.begin(), events.end(),
                         [](const Event& event) { return event.name == "stats"; }) == 2;
  }));
  REQUIRE(reader.named("quota").size() == 1);
  REQUIRE(reader.named("invocation").size() == 2);
  REQUIRE(reader.events().size() > before);
  REQUIRE(parse(reader.named("invocation-updated")[0].data)->getValue<std::string>("status") ==
          "success");
}

TEST_CASE(
    "a batch that reaches the sink before the store commits it, and a commit made elsewhere, both "
    "go live",
    "[sse]") {
  SseFixture fixture;
  auto client = fixture.connect();
  EventReader reader(client->clientFd());
  REQUIRE(reader.readUntil([](const auto& events) { return !events.empty(); }));
  const std::int64_t now = nowMs();
  const std::int64_t window = now - now % 10'000;
  // The sse sink's write() runs before the store sink's commit (they are on their own threads).
  const auto early = batch("acct", window, {invocation("req-early", now - 1'000)});
  REQUIRE(fixture.sink.write(early) == sdk::WriteResult::kOk);
  fixture.store.write(early);
  REQUIRE(reader.readUntilId(fixture.store.store().latestSequence()));
  // Another writer of the same store (a second collector on one PostgreSQL): no write() at all.
  fixture.store.write(batch("acct", window + 10'000, {invocation("req-elsewhere", now)}));
  REQUIRE(reader.readUntilId(fixture.store.store().latestSequence()));
  std::vector<std::string> request_ids;
  for (const auto& event : reader.named("invocation")) {
    request_ids.push_back(parse(event.data)->getValue<std::string>("requestId"));
  }
  REQUIRE(request_ids == std::vector<std::string>{"req-early", "req-elsewhere"});
}

TEST_CASE("the core's source_status records become source events, as they are", "[sse]") {
  SseFixture fixture;
  auto client = fixture.connect();
  EventReader reader(client->clientFd());
  const std::int64_t window = nowMs() / 10'000 * 10'000;
  fixture.write(batch("acct", window, {}, sdk::AuthState::kOk));
  auto expired_window =
      batch("acct", window + 10'000, {}, sdk::AuthState::kExpired, sdk::Outcome::kAuthError);
  expired_window.records.push_back(
      sourceStatus("acct", "expired", 1, expired_window.window.message, window + 10'000));
  fixture.write(expired_window);
  // The store keeps one row per source and a change points at it: a stream that reads the change
  // later gets the state of then (a replay gets the newest state). Read this one live.
  REQUIRE(reader.readUntilId(fixture.store.store().latestSequence()));
  fixture.write(
      batch("acct", window + 20'000, {}, sdk::AuthState::kExpired, sdk::Outcome::kAuthError));
  auto ok = batch("acct", window + 30'000, {}, sdk::AuthState::kOk);
  ok.records.push_back(sourceStatus("acct", "ok", 0, "", window + 30'000));
  fixture.write(ok);
  const bool got = reader.readUntilId(fixture.store.store().latestSequence());
  INFO(reader.rawText());
  INFO(fixture.store.store().latestSequence());
  REQUIRE(got);
  REQUIRE(reader.named("window").size() == 4);
  auto sources = reader.named("source");
  REQUIRE(sources.size() == 2);
  auto expired = parse(sources[0].data);
  REQUIRE(expired->getValue<std::string>("name") == "acct");
  REQUIRE(expired->getValue<std::string>("authState") == "expired");
  REQUIRE_THAT(expired->getValue<std::string>("authHint"), Catch::Contains("log in"));
  REQUIRE(expired->getValue<std::int64_t>("consecutiveFailures") == 1);
  REQUIRE(parse(sources[1].data)->getValue<std::string>("authState") == "ok");
  // No invocation changed: no stats event was computed.
  REQUIRE(reader.named("stats").empty());
}

TEST_CASE("a reconnect with Last-Event-ID gets exactly what it missed", "[sse]") {
  SseFixture fixture;
  auto witness = fixture.connect();  // connected the whole time
  EventReader all(witness->clientFd());
  auto client = fixture.connect();
  EventReader first(client->clientFd());
  const std::int64_t now = nowMs();
  const std::int64_t window = now - now % 10'000;
  fixture.write(
      batch("acct", window, {invocation("a", now - 5'000), invocation("b", now - 4'000)}));
  const std::int64_t last_seen = fixture.store.store().latestSequence();
  REQUIRE(first.readUntilId(last_seen));
  client->closeClient();

  fixture.write(batch("acct", window + 10'000, {invocation("c", now - 3'000), quota(3.0, now)}));
  fixture.write(batch("acct", window + 20'000,
                      {invocation("a", now - 5'000, "failed"), invocation("d", now - 1'000)},
                      sdk::AuthState::kExpired, sdk::Outcome::kAuthError));
  const std::int64_t latest = fixture.store.store().latestSequence();
  REQUIRE(all.readUntilId(latest));

  auto again = fixture.connect(std::to_string(last_seen));
  EventReader resumed(again->clientFd());
  REQUIRE(resumed.readUntilId(latest));
  const auto missed = keyed(resumed.events(), last_seen);
  REQUIRE(missed == keyed(all.events(), last_seen));
  REQUIRE_FALSE(missed.empty());
  const auto resumed_ids = ids(resumed.events());
  REQUIRE(std::set<std::int64_t>(resumed_ids.begin(), resumed_ids.end()).count(last_seen) == 0);
  REQUIRE(resumed_ids.front() > last_seen);

  // Then it continues live, without repeating anything.
  fixture.write(batch("acct", window + 30'000, {invocation("e", now)}));
  const std::int64_t newest = fixture.store.store().latestSequence();
  REQUIRE(resumed.readUntilId(newest));
  REQUIRE(all.readUntilId(newest));
  REQUIRE(keyed(resumed.events(), last_seen) == keyed(all.events(), last_seen));

  // An id from another database (newer than the store) gets a reset.
  auto future = fixture.connect("999999");
  EventReader reset(future->clientFd());
  REQUIRE(reset.readUntilEvent("reset"));
  REQUIRE(*reset.named("reset")[0].id == newest);
}

TEST_CASE("a fresh stream learns its id at once, a reconnect by hand passes it in the URL",
          "[sse]") {
  SseFixture fixture;
  const std::int64_t now = nowMs();
  const std::int64_t window = now - now % 10'000;
  fixture.write(batch("acct", window, {invocation("before", now - 5'000)}));
  const std::int64_t connected_at = fixture.store.store().latestSequence();
  auto fresh = fixture.connect();
  EventReader first(fresh->clientFd());
  // No event has happened on this stream yet, but the client already knows where it stands.
  REQUIRE(first.readUntilId(connected_at));
  REQUIRE(first.named("invocation").empty());
  fresh->closeClient();

  fixture.write(batch("acct", window + 10'000, {invocation("while-away", now - 1'000)}));
  const std::int64_t latest = fixture.store.store().latestSequence();
  auto exchange = std::make_unique<SocketExchange>();
  exchange->setQuery("lastEventId=" + std::to_string(connected_at));
  fixture.host.streamRoute("/events")(*exchange);
  EventReader resumed(exchange->clientFd());
  REQUIRE(resumed.readUntilId(latest));
  const auto missed = resumed.named("invocation");
  REQUIRE(missed.size() == 1);
  CHECK(missed[0].data.find("while-away") != std::string::npos);
  CHECK(*missed[0].id > connected_at);
}

TEST_CASE("a Last-Event-ID older than the kept changes gets a reset event", "[sse]") {
  SseFixture fixture(Settings{}, Settings{{"changes_keep", "2"}});
  const std::int64_t now = nowMs();
  const std::int64_t window = now - now % 10'000;
  for (int i = 0; i < 5; ++i) {
    fixture.write(batch("acct", window + i * 10'000,
                        {invocation("r" + std::to_string(i), now - 10'000 + i)}));
  }
  REQUIRE(fixture.store.sink.runMaintenance().ok());
  auto client = fixture.connect("1");
  EventReader reader(client->clientFd());
  REQUIRE(reader.readUntilEvent("reset"));
  REQUIRE(reader.named("invocation").empty());
  REQUIRE(parse(reader.named("reset")[0].data)->has("reason"));
}

TEST_CASE("a client that stops reading is dropped without holding up the others", "[sse]") {
  SseFixture fixture(Settings{{"client_buffer", "8192"}});
  auto slow = fixture.connect();
  auto fast = fixture.connect();
  EventReader reader(fast->clientFd());
  const std::int64_t now = nowMs();
  const std::int64_t window = now - now % 10'000;
  const std::string raw = "{\"padding\":\"" + std::string(4'000, 'p') + "\"}";
  int round = 0;
  // Each round adds ~100 KB to the slow client's backlog; its socket buffer fills within a few.
  for (; round < 200 && fixture.sink.droppedCount() == 0; ++round) {
    std::vector<sdk::Record> records;
    for (int i = 0; i < 25; ++i) {
      records.push_back(invocation("bulk-" + std::to_string(round) + "-" + std::to_string(i),
                                   now - 100'000 + round * 25 + i, "success", 10, raw));
    }
    fixture.write(batch("acct", window + round * 10'000, records));
    REQUIRE(reader.readUntilId(fixture.store.store().latestSequence()));
  }
  REQUIRE(fixture.sink.droppedCount() == 1);
  REQUIRE(fixture.host.counter("sse_clients_dropped") == 1);
  REQUIRE_THAT(fixture.host.allLogText(), Catch::Contains("dropped a client"));
  EventReader slow_reader(slow->clientFd());
  REQUIRE(slow_reader.readUntilClosed());
  // The fast client saw every invocation.
  REQUIRE(reader.named("invocation").size() == static_cast<std::size_t>(round * 25));
  REQUIRE(fixture.sink.clientCount() == 1);
}

std::size_t occurrences(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

TEST_CASE("a broadcast to thousands of streams, shared by two threads, reaches each once",
          "[sse]") {
  // From 2,000 live streams on (kSplitFanOutAt) a second thread writes half of them: an odd
  // count, so that a half that lost or repeated the middle stream shows.
  constexpr std::size_t kClients = 2'101;
  SseFixture fixture;
  std::vector<std::unique_ptr<RecordingExchange>> clients;
  for (std::size_t i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<RecordingExchange>());
    fixture.host.streamRoute("/events")(*clients.back());
  }
  auto all = [&clients](const std::string& part) {
    return std::all_of(clients.begin(), clients.end(), [&part](const auto& client) {
      return client->stream().text().find(part) != std::string::npos;
    });
  };
  // A stream taken in after a commit replays it on its own; once every stream has the first
  // invocation, all are live, and the second is one broadcast to all of them.
  const std::int64_t now = nowMs();
  const std::int64_t window = now - now % 10'000;
  fixture.write(batch("acct", window, {invocation("req-first", now - 2'000)}));
  REQUIRE(eventually([&] { return all("\"requestId\":\"req-first\""); }, std::chrono::seconds(30)));
  fixture.write(batch("acct", window + 10'000, {invocation("req-wide", now - 1'000)}));
  REQUIRE(eventually([&] { return all("\"requestId\":\"req-wide\""); }, std::chrono::seconds(30)));
  for (const auto& client : clients) {
    REQUIRE(occurrences(client->stream().text(), "\"requestId\":\"req-wide\"") == 1);
    REQUIRE(occurrences(client->stream().text(), "event: invocation\n") == 2);
  }
  REQUIRE(fixture.sink.droppedCount() == 0);
  REQUIRE(fixture.sink.clientCount() == kClients);
}

TEST_CASE("streams get the configured heartbeat and buffer, stop closes every stream", "[sse]") {
  SseFixture fixture(Settings{{"heartbeat", "200ms"}, {"client_buffer", "65536"}});
  std::vector<std::unique_ptr<SocketExchange>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(fixture.connect());
  // The core sends the heartbeats (tested in tests/core/http); the sink asks for them.
  REQUIRE(clients[0]->options());
  REQUIRE(clients[0]->options()->heartbeat_ms == 200);
  REQUIRE(clients[0]->options()->buffer_bytes == 65536);
  REQUIRE_THAT(clients[0]->options()->final_text, Catch::Contains("event: shutdown"));
  EventReader reader(clients[0]->clientFd());
  REQUIRE(reader.readUntil([](const auto& events) { return !events.empty(); }));
  REQUIRE(fixture.sink.clientCount() == 3);
  fixture.sink.stop();
  for (auto& client : clients) {
    EventReader closing(client->clientFd());
    REQUIRE(closing.readUntilClosed(2'000));
  }
  // After stop the route refuses new streams.
  auto late = fixture.connect();
  REQUIRE(late->response());
  REQUIRE(late->response()->status == 503);
}

TEST_CASE("max_clients bounds the number of streams", "[sse]") {
  SseFixture fixture(Settings{{"max_clients", "2"}});
  auto a = fixture.connect();
  auto b = fixture.connect();
  auto c = fixture.connect();
  REQUIRE_FALSE(a->response());
  REQUIRE_FALSE(b->response());
  REQUIRE(c->response());
  REQUIRE(c->response()->status == 503);
}

TEST_CASE("a replay of 10,000 events to a slow reader is paged within the stream's buffer",
          "[sse]") {
  SseFixture fixture(Settings{{"client_buffer", "16384"}, {"replay_limit", "20000"}});
  const std::int64_t now = nowMs();
  const std::int64_t window = now - now % 10'000;
  for (int round = 0; round < 20; ++round) {
    std::vector<sdk::Record> records;
    for (int i = 0; i < 500; ++i) {
      records.push_back(invocation("replay-" + std::to_string(round * 500 + i),
                                   now - 1'000'000 + round * 500 + i));
    }
    fixture.store.write(batch("acct", window - (20 - round) * 10'000, records));
  }
  auto client = fixture.connect("0");
  EventReader reader(client->clientFd());
  int reads = 0;
  REQUIRE(reader.readUntil(
      [&](const std::vector<Event>& events) {
        // A slow reader: a pause after every read lets the server side fill up to its bound.
        if (++reads % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        return std::count_if(events.begin(), events.end(), [](const Event& event) {
                 return event.name == "invocation";
               }) >= 10'000;
      },
      120'000));  // a bound, not a speed target: under TSan on 2 shared cores it takes 30-70 s
  const auto replayed = reader.named("invocation");
  REQUIRE(replayed.size() == 10'000);
  REQUIRE(std::is_sorted(replayed.begin(), replayed.end(),
                         [](const Event& a, const Event& b) { return *a.id < *b.id; }));
  REQUIRE(reader.named("reset").empty());
  // Never more than the stream's buffer was queued on the server side.
  REQUIRE(client->stream()->maxBuffered() <= 16384);
  REQUIRE(fixture.sink.droppedCount() == 0);
  // Then it is live.
  fixture.write(batch("acct", window, {invocation("after-replay", now)}));
  REQUIRE(reader.readUntilId(fixture.store.store().latestSequence()));
}
