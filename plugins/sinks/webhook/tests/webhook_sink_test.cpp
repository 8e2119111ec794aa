#include "webhook_sink.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>
#include <catch2/catch.hpp>

#include "fake_upstream/connect_proxy.hpp"
#include "fake_upstream/test_certificates.hpp"
#include "gatherd/sdk/testing/fake_host.hpp"
#include "gatherd/sdk/testing/http_receiver.hpp"
#include "gatherd/sdk/testing/temp_dir.hpp"
#include "messages.hpp"

using namespace gatherd;
using namespace gatherd::plugins::webhook;
using gatherd::sdk::testing::TempDir;
using Receiver = gatherd::sdk::testing::HttpReceiver;
using gatherd::plugins::xychatai::testing::TestCertificates;

namespace {

constexpr const char* kUrlToken = "CANARY-url-token-5f1e";
constexpr const char* kSecret = "CANARY-sign-secret-77aa";

sdk::Record alert(const std::string& rule, const std::string& state, sdk::Fields details = {},
                  const std::string& key = "") {
  sdk::Record record;
  record.stream = "alert";
  record.key = key.empty() ? rule + "|xychatai||1772000000000" : key;
  record.time_ms = 1'772'000'000'000;
  record.fields = std::move(details);
  record.fields["rule"] = rule;
  record.fields["source"] = std::string("xychatai");
  record.fields["subject"] = std::string("");
  record.fields["state"] = state;
  record.fields["fired_at"] = std::string("2026-02-25T06:13:20Z");
  record.fields["resolved_at"] = state == "resolved"
                                     ? sdk::FieldValue{std::string("2026-02-25T07:00:00Z")}
                                     : sdk::FieldValue{};
  return record;
}

sdk::Record authAlert(const std::string& state = "firing") {
  return alert("auth", state,
               {{"auth_state", std::string("expired")},
                {"message", std::string("the upstream asks for a new login")}});
}

sdk::Batch batchWith(std::vector<sdk::Record> records) {
  sdk::Batch batch;
  batch.window.source = "xychatai";
  batch.records = std::move(records);
  return batch;
}

sdk::Config config(std::map<std::string, std::string, std::less<>> values) {
  return sdk::Config("hook", std::move(values));
}

// GATHERD_WRITE_FIXTURES=1 rewrites the files from the code; review the diff against the
// documentation pages named in tests/testdata/README.md before committing it.
std::string fixture(const std::string& name, const std::string& actual) {
  const std::string path = std::string(GATHERD_PLUGIN_SOURCE_DIR) + "/tests/testdata/" + name;
  if (std::getenv("GATHERD_WRITE_FIXTURES") != nullptr) {
    Poco::JSON::Parser parser;
    std::ostringstream pretty;
    parser.parse(actual).extract<Poco::JSON::Object::Ptr>()->stringify(pretty, 2);
    std::ofstream(path) << pretty.str() << "\n";
  }
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  // Compared as parsed JSON (key order and white space of the file do not matter).
  Poco::JSON::Parser parser;
  std::ostringstream expected;
  parser.parse(text.str()).extract<Poco::JSON::Object::Ptr>()->stringify(expected);
  return expected.str();
}

std::string normalised(const std::string& body) {
  Poco::JSON::Parser parser;
  std::ostringstream out;
  parser.parse(body).extract<Poco::JSON::Object::Ptr>()->stringify(out);
  return out.str();
}

Settings settingsFor(Format format, Language language = Language::kEn) {
  Settings settings;
  settings.url = "https://receiver.example/hook";
  settings.format = format;
  settings.language = language;
  settings.dashboard_url = "http://127.0.0.1:8080/";
  settings.chat_id = "-100123";
  return settings;
}

std::string query(const std::string& path_and_query, const std::string& name) {
  const Poco::URI uri(path_and_query);
  for (const auto& [key, value] : uri.getQueryParameters()) {
    if (key == name) return value;
  }
  return {};
}

}  // namespace

TEST_CASE("each format's body matches the fixture made from the service's documentation") {
  const std::vector<sdk::Record> alerts = {authAlert()};
  const std::int64_t now = 1'772'000'000'000;
  const std::pair<const char*, Settings> cases[] = {
      {"generic.json", settingsFor(Format::kGeneric)},
      {"feishu.json", settingsFor(Format::kFeishu)},
      {"dingtalk.json", settingsFor(Format::kDingtalk)},
      {"wecom.json", settingsFor(Format::kWecom)},
      {"slack.json", settingsFor(Format::kSlack)},
      {"telegram.json", settingsFor(Format::kTelegram)},
      {"feishu-zh-CN.json", settingsFor(Format::kFeishu, Language::kZhCn)},
  };
  for (const auto& [name, settings] : cases) {
    INFO(name);
    const std::string body = buildRequest(alerts, settings, now).body;
    CHECK(normalised(body) == fixture(name, body));
  }
}

TEST_CASE("signatures follow Feishu's and DingTalk's documented schemes") {
  // Feishu (custom bot, "signature verification"): key = timestamp + "\n" + secret, empty
  // message. Computed independently with
  // `printf '' | openssl dgst -sha256 -hmac "$(printf '1599360473\ndemo')" -binary | base64`.
  CHECK(feishuSign(1599360473, "demo") == "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8=");
  // DingTalk: key = secret, message = timestamp_ms + "\n" + secret; computed with
  // `printf '1577262236757\nSEC000' | openssl dgst -sha256 -hmac SEC000 -binary | base64`.
  CHECK(dingtalkSign(1577262236757, "SEC000") == "0mUoy51oaZiRp9zSbtu3Gh7pbwvH33YBGob4MsxeXA4=");
}

TEST_CASE("the webhook sink posts to a real HTTP receiver, signed, and sends each alert once") {
  Receiver receiver;
  sdk::testing::FakeHost host("hook");
  WebhookSink sink;
  REQUIRE(sink.init(config({{"url", receiver.url("/robot/send?access_token=") + kUrlToken},
                            {"format", "dingtalk"},
                            {"secret", kSecret},
                            {"language", "en"},
                            {"min_interval", "0s"}}),
                    host));
  receiver.answer(R"({"errcode":0,"errmsg":"ok"})");
  sdk::Batch batch = batchWith({authAlert()});
  CHECK(sink.write(batch) == sdk::WriteResult::kOk);
  CHECK(sink.write(batch) == sdk::WriteResult::kOk);  // the same batch again: not re-sent
  auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].content_type.find("application/json") == 0);
  const std::string timestamp = query(requests[0].path_and_query, "timestamp");
  const std::string sign = query(requests[0].path_and_query, "sign");
  REQUIRE_FALSE(timestamp.empty());
  CHECK(sign == dingtalkSign(std::stoll(timestamp), kSecret));
  CHECK(requests[0].body.find("XY_SESSION_COOKIE_VALUE") != std::string::npos);
  // The core hands it alerts only, kept in its spool until sent.
  CHECK(host.requestedStreams() == std::vector<std::string>{"alert"});
  CHECK(host.spoolRequested());
  // records of other streams are not alerts
  sdk::Batch other = batchWith({});
  other.records.push_back(sdk::Record{"invocation", "k", 1, {}, ""});
  CHECK(sink.write(other) == sdk::WriteResult::kOk);
  CHECK(receiver.requests().size() == 1);
  // resolved is a second message
  CHECK(sink.write(batchWith({authAlert("resolved")})) == sdk::WriteResult::kOk);
  CHECK(receiver.requests().size() == 2);
  CHECK(host.allLogText().find(kUrlToken) == std::string::npos);
  CHECK(host.allLogText().find(kSecret) == std::string::npos);
}

TEST_CASE("Feishu signing goes into the body and verifies") {
  Receiver receiver;
  sdk::testing::FakeHost host("hook");
  WebhookSink sink;
  REQUIRE(sink.init(config({{"url", receiver.url("/open-apis/bot/v2/hook/") + kUrlToken},
                            {"format", "feishu"},
                            {"secret", kSecret}}),
                    host));
  receiver.answer(R"({"code":0,"msg":"success"})");
  CHECK(sink.write(batchWith({authAlert()})) == sdk::WriteResult::kOk);
  auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  Poco::JSON::Parser parser;
  auto body = parser.parse(requests[0].body).extract<Poco::JSON::Object::Ptr>();
  const std::string timestamp = body->getValue<std::string>("timestamp");
  CHECK(body->getValue<std::string>("sign") == feishuSign(std::stoll(timestamp), kSecret));
  CHECK(body->getValue<std::string>("msg_type") == "text");
  // zh-CN is the default language
  CHECK(requests[0].body.find("会话") != std::string::npos);
}

TEST_CASE("5xx and transport errors ask the core to retry, 4xx and body refusals are errors") {
  Receiver receiver;
  sdk::testing::FakeHost host("hook");
  WebhookSink sink;
  REQUIRE(sink.init(config({{"url", receiver.url("/") + kUrlToken}, {"format", "wecom"}}), host));
  receiver.script({503, 502});
  sdk::Batch batch = batchWith({authAlert()});
  CHECK(sink.write(batch) == sdk::WriteResult::kRetry);
  CHECK(sink.write(batch) == sdk::WriteResult::kRetry);  // the core re-delivers the batch
  CHECK(sink.write(batch) == sdk::WriteResult::kOk);
  REQUIRE(receiver.requests().size() == 3);
  CHECK(receiver.requests()[2].body == receiver.requests()[0].body);
  CHECK(host.counter("webhook_retries") == 2);
  // one warning for the streak, not one per try
  int warnings = 0;
  for (const auto& line : host.logs()) warnings += line.level == sdk::LogLevel::kWarn;
  CHECK(warnings == 1);

  receiver.script({400});
  CHECK(sink.write(batchWith({authAlert("resolved")})) == sdk::WriteResult::kDrop);
  CHECK(sink.lastRefusal().find("HTTP 400") == 0);
  CHECK(host.allLogText().find("refused") != std::string::npos);
  // The refusal shows as the sink's health (Sources page, /ready) until a message goes through.
  CHECK(host.sinkHealth() == sdk::SinkHealth::kDegraded);
  CHECK(host.sinkHealthReason().find("HTTP 400") != std::string::npos);

  receiver.answer(R"({"errcode":93000,"errmsg":"invalid webhook url"})");
  CHECK(sink.write(batchWith({alert("gap", "firing")})) == sdk::WriteResult::kDrop);
  CHECK(sink.lastRefusal().find("93000") != std::string::npos);
  CHECK(host.allLogText().find(kUrlToken) == std::string::npos);
  CHECK(host.sinkHealthReason().find(kUrlToken) == std::string::npos);

  receiver.answer(R"({"errcode":0,"errmsg":"ok"})");
  CHECK(sink.write(batchWith({alert("gap", "resolved")})) == sdk::WriteResult::kOk);
  CHECK(host.sinkHealth() == sdk::SinkHealth::kOk);
  CHECK(sink.lastRefusal().empty());
}

TEST_CASE("an unreachable receiver is a retry, and the log does not show the URL") {
  sdk::testing::FakeHost host("hook");
  WebhookSink sink;
  std::uint16_t port = 0;
  {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = socket.address().port();
  }
  REQUIRE(sink.init(config({{"url", "http://127.0.0.1:" + std::to_string(port) + "/" + kUrlToken},
                            {"timeout", "2s"}}),
                    host));
  CHECK(sink.write(batchWith({authAlert()})) == sdk::WriteResult::kRetry);
  CHECK(host.allLogText().find("cannot reach") != std::string::npos);
  CHECK(host.allLogText().find(kUrlToken) == std::string::npos);
}

TEST_CASE("min_interval holds alerts and sends them together later") {
  Receiver receiver;
  sdk::testing::FakeHost host("hook");
  WebhookSink sink;
  REQUIRE(sink.init(config({{"url", receiver.url()}, {"min_interval", "60s"}, {"language", "en"}}),
                    host));
  CHECK(sink.write(batchWith({authAlert()})) == sdk::WriteResult::kOk);
  CHECK(sink.write(batchWith({alert("gap", "firing")})) == sdk::WriteResult::kOk);
  host.manualClock().advance(30'000);
  CHECK(sink.write(batchWith({alert("source_down", "firing")})) == sdk::WriteResult::kOk);
  CHECK(receiver.requests().size() == 1);
  host.manualClock().advance(31'000);
  CHECK(sink.write(batchWith({})) == sdk::WriteResult::kOk);
  auto requests = receiver.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].body.find("\"rule\":\"gap\"") != std::string::npos);
  CHECK(requests[1].body.find("\"rule\":\"source_down\"") != std::string::npos);
  // what is still held at stop is sent then
  host.manualClock().advance(1'000);
  CHECK(sink.write(batchWith({alert("quota", "firing")})) == sdk::WriteResult::kOk);
  CHECK(receiver.requests().size() == 2);
  sink.stop();
  CHECK(receiver.requests().size() == 3);
}

TEST_CASE("rules choose what a webhook sends, the test message always goes") {
  Receiver receiver;
  sdk::testing::FakeHost host("hook");
  WebhookSink sink;
  REQUIRE(sink.init(config({{"url", receiver.url()}, {"rules", "quota, plan_expiry"}}), host));
  CHECK(sink.write(batchWith({authAlert()})) == sdk::WriteResult::kOk);
  CHECK(receiver.requests().empty());
  CHECK(sink.write(batchWith({alert("quota", "firing")})) == sdk::WriteResult::kOk);
  CHECK(sink.write(batchWith({alert("test", "firing")})) == sdk::WriteResult::kOk);
  CHECK(receiver.requests().size() == 2);

  WebhookSink bad;
  auto status = bad.init(config({{"url", receiver.url()}, {"rules", "auth,nonsense"}}), host);
  CHECK_FALSE(status.ok());
  CHECK(status.message().find("nonsense") != std::string::npos);
  WebhookSink telegram;
  CHECK_FALSE(telegram.init(config({{"url", receiver.url()}, {"format", "telegram"}}), host).ok());
}

TEST_CASE("https receivers are verified against ca_file (VERIFY_STRICT)") {
  TempDir directory("gatherd-webhook");
  const TestCertificates certificates = TestCertificates::create(directory.path().string());
  Receiver receiver(Receiver::Tls{certificates.localhost_key, certificates.localhost_cert});
  sdk::testing::FakeHost host("hook");
  {
    WebhookSink sink;
    REQUIRE(sink.init(config({{"url", receiver.url("/") + kUrlToken},
                              {"format", "slack"},
                              {"ca_file", certificates.ca_file}}),
                      host));
    CHECK(sink.write(batchWith({authAlert()})) == sdk::WriteResult::kOk);
    REQUIRE(receiver.requests().size() == 1);
    CHECK(receiver.requests()[0].body.rfind("{\"text\":\"[gatherd]", 0) == 0);
  }
  {
    // a receiver whose certificate the configured CA did not sign is never sent to
    WebhookSink sink;
    REQUIRE(sink.init(config({{"url", receiver.url("/") + kUrlToken},
                              {"ca_file", certificates.other_ca_file},
                              {"timeout", "3s"}}),
                      host));
    CHECK(sink.write(batchWith({authAlert()})) == sdk::WriteResult::kRetry);
    CHECK(receiver.requests().size() == 1);
  }
  {
    // through an HTTP CONNECT proxy with credentials: the password stays out of the log
    gatherd::plugins::xychatai::testing::ConnectProxy proxy;
    proxy.start();
    WebhookSink sink;
    REQUIRE(sink.init(config({{"url", receiver.url("/") + kUrlToken},
                              {"ca_file", certificates.ca_file},
                              {"proxy", "http://user:CANARY-proxy-pass@127.0.0.1:" +
                                            std::to_string(proxy.port())}}),
                      host));
    CHECK(sink.write(batchWith({alert("gap", "firing")})) == sdk::WriteResult::kOk);
    CHECK(proxy.tunnels() == 1);
    CHECK(receiver.requests().size() == 2);
  }
  CHECK(host.allLogText().find(kUrlToken) == std::string::npos);
  CHECK(host.allLogText().find("CANARY-proxy-pass") == std::string::npos);
}
