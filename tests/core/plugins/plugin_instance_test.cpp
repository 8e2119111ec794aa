#include "core/plugins/plugin_instance.hpp"

#include <sstream>

#include <catch2/catch.hpp>

#include "gatherd/sdk/testing/manual_clock.hpp"

using namespace gatherd::core;
namespace sdk = gatherd::sdk;

namespace {

struct Services {
  std::ostringstream log_text;
  Logging logging{log_text};
  MetricsRegistry metrics;
  sdk::testing::ManualClock clock;
  SourceStatusRegistry sources;
  HostServices services{logging, metrics, clock, sources, "/tmp", "test", {}, {}, nullptr, {}};
};

LoadedPlugin goodFixture() {
  LoadedPlugin plugin;
  const std::string reason = loadPluginFile(LOADER_FIXTURE_DIR "/good/good.so", HostAbi{}, plugin);
  REQUIRE(reason.empty());
  return plugin;
}

sdk::Batch pollOnce(SourceInstance& instance) {
  sdk::CancelToken cancel;
  sdk::PollContext context{0, 0, &cancel};
  sdk::Batch batch;
  batch.window.source = instance.name();
  instance.poll(context, batch);
  return batch;
}

}  // namespace

TEST_CASE("a plugin that throws is marked failed, logged and counted, the call returns") {
  Services s;
  s.sources.add("bad", "fixture", 10'000);
  SourceInstance instance(goodFixture(), "bad", s.services);
  REQUIRE(instance.init(sdk::Config("bad", {{"mode", "throw"}})));
  sdk::Batch batch = pollOnce(instance);
  CHECK(batch.window.outcome == sdk::Outcome::kTransportError);
  CHECK_THAT(batch.window.message, Catch::Contains("fixture poll exploded"));
  CHECK(batch.records.empty());
  CHECK(instance.failed());
  CHECK(s.metrics.value("plugin_errors", "bad") == 1);
  CHECK_THAT(s.log_text.str(), Catch::Contains("poll failed: fixture poll exploded"));
  CHECK(s.sources.find("bad")->state == InstanceState::kFailed);
}

TEST_CASE("a healthy instance next to a failing one keeps working") {
  Services s;
  s.sources.add("bad", "fixture", 10'000);
  s.sources.add("good", "fixture", 10'000);
  LoadedPlugin plugin = goodFixture();
  SourceInstance bad(plugin, "bad", s.services);
  SourceInstance good(plugin, "good", s.services);
  REQUIRE(bad.init(sdk::Config("bad", {{"mode", "throw"}})));
  REQUIRE(good.init(sdk::Config("good", {{"mode", "ok"}})));
  CHECK(pollOnce(bad).window.outcome == sdk::Outcome::kTransportError);
  sdk::Batch batch = pollOnce(good);
  CHECK(batch.window.outcome == sdk::Outcome::kOk);
  CHECK(batch.records.size() == 1);
  CHECK_FALSE(good.failed());
  CHECK(s.sources.find("good")->state == InstanceState::kRunning);
}

TEST_CASE("auth state changes are logged once per change and masked") {
  Services s;
  s.sources.add("acct", "fixture", 10'000);
  s.logging.secrets().add("s3cret-cookie-value");
  PluginHost host(s.services, "acct", "source.acct");
  host.reportAuthState(sdk::AuthState::kExpired, "renew s3cret-cookie-value");
  host.reportAuthState(sdk::AuthState::kExpired, "renew s3cret-cookie-value");
  host.reportAuthState(sdk::AuthState::kOk, "");
  const std::string text = s.log_text.str();
  CHECK(text.find("s3cret-cookie-value") == std::string::npos);
  std::size_t expired_lines = 0;
  for (std::size_t at = text.find("now expired"); at != std::string::npos;
       at = text.find("now expired", at + 1)) {
    ++expired_lines;
  }
  CHECK(expired_lines == 1);
  CHECK_THAT(text, Catch::Contains("auth state is now ok"));
  CHECK(s.sources.find("acct")->auth_state == sdk::AuthState::kOk);
}

TEST_CASE("a secret a plugin learns at run time is masked in every log line, through reloads") {
  Services s;
  s.logging.secrets().replace({"configured-secret-1"});
  PluginHost host(s.services, "acct", "source.acct");
  const std::string learned = "CANARY-learned-api-key/+=";
  host.addSecret(learned);
  // A reload replaces the configured secrets; what was learned stays masked.
  s.logging.secrets().replace({"configured-secret-2"});
  auto other = s.logging.get("core");
  other->info("plain {} and encoded {} and configured-secret-2", learned,
              "CANARY-learned-api-key%2F%2B%3D");
  host.logger().warn("again " + learned);
  const std::string text = s.log_text.str();
  INFO(text);
  CHECK(text.find("CANARY-learned") == std::string::npos);
  CHECK(text.find("configured-secret-2") == std::string::npos);
  CHECK_THAT(text, Catch::Contains("plain *** and encoded *** and ***"));
}

TEST_CASE("the history calls of gatherd migrate are never made on a plugin older than ABI 2.3") {
  Services s;
  LoadedPlugin plugin;
  REQUIRE(loadPluginFile(LOADER_FIXTURE_DIR "/old_sink/old_sink.so", HostAbi{}, plugin).empty());
  REQUIRE(plugin.descriptor->abi.abi_minor == 1);
  SinkInstance sink(plugin, "old", s.services);
  REQUIRE(sink.init(sdk::Config("old", {{"mode", "ok"}})));
  REQUIRE(sink.start());
  std::int64_t inserted = -1;
  const sdk::Status status = sink.importHistory(sdk::HistoryPage{}, inserted);
  CHECK_FALSE(status);
  CHECK_THAT(status.message(), Catch::Contains("plugin 'old-sink' was built against sdk ABI 2.1"));
  CHECK(inserted == -1);  // the plugin's importHistory did not run
  sdk::HistoryCounts counts;
  CHECK_FALSE(sink.countHistory(counts));
  CHECK_FALSE(sink.failed());
}
