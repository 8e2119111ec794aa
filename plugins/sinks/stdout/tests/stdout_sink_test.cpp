#include "stdout_sink.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <catch2/catch.hpp>

#include "gatherd/sdk/streams.hpp"
#include "gatherd/sdk/testing/fake_host.hpp"
#include "gatherd/sdk/testing/temp_dir.hpp"

namespace sdk = gatherd::sdk;
using gatherd::plugins::stdout_sink::StdoutSink;

namespace {

sdk::Batch sampleBatch() {
  sdk::Batch batch;
  batch.window.source = "acct";
  batch.window.window_ms = 1'772'000'000'000;
  sdk::Record record;
  record.stream = sdk::streams::kInvocation;
  record.key = "id-1|2026-02-25T02:09:41Z";
  record.time_ms = 1'771'985'381'000;
  record.fields[sdk::streams::invocation::kModel] = std::string("gpt-5.3-codex \"quoted\" 月卡");
  record.fields[sdk::streams::invocation::kCostUsd] = 0.04722;
  record.fields[sdk::streams::invocation::kInputTokens] = std::int64_t{48175};
  record.raw_json = R"({"requestId":"id-1"})";
  batch.records.push_back(record);
  return batch;
}

}  // namespace

TEST_CASE("stdout sink lines are valid JSON with the source and camelCase fields") {
  sdk::testing::FakeHost host;
  StdoutSink sink;
  REQUIRE(sink.init(sdk::Config("out", {{"windows", "true"}, {"raw", "true"}}), host));
  const std::string text = sink.format(sampleBatch());
  std::istringstream lines(text);
  std::string line;
  REQUIRE(std::getline(lines, line));
  Poco::JSON::Parser parser;
  auto object = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
  CHECK(object->getValue<std::string>("source") == "acct");
  CHECK(object->getValue<std::string>("time") == "2026-02-25T02:09:41Z");
  auto fields = object->getObject("fields");
  CHECK(fields->getValue<std::string>("model") == "gpt-5.3-codex \"quoted\" 月卡");
  CHECK(fields->getValue<double>("costUsd") == Approx(0.04722));
  CHECK(fields->getValue<std::int64_t>("inputTokens") == 48175);
  CHECK(object->getObject("raw")->getValue<std::string>("requestId") == "id-1");
  REQUIRE(std::getline(lines, line));
  auto window = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
  CHECK(window->getValue<std::string>("stream") == "window");
  CHECK(window->getObject("window")->getValue<std::string>("outcome") == "ok");
  CHECK_FALSE(std::getline(lines, line));
}

TEST_CASE("stdout sink appends to a file when a path is configured") {
  const sdk::testing::TempDir dir("gatherd-stdout");
  const auto path = dir.path() / "out.jsonl";
  sdk::testing::FakeHost host;
  {
    StdoutSink sink;
    REQUIRE(sink.init(sdk::Config("out", {{"path", path.string()}}), host));
    REQUIRE(sink.start());
    CHECK(sink.write(sampleBatch()) == sdk::WriteResult::kOk);
    CHECK(sink.write(sampleBatch()) == sdk::WriteResult::kOk);
    sink.stop();
  }
  std::ifstream in(path);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  CHECK(lines == 2);
  std::filesystem::remove(path);
}

TEST_CASE("stdout sink refuses an unwritable path at start") {
  sdk::testing::FakeHost host;
  StdoutSink sink;
  REQUIRE(sink.init(sdk::Config("out", {{"path", "/nonexistent-dir/x.jsonl"}}), host));
  auto status = sink.start();
  CHECK_FALSE(status);
  CHECK(status.message().find("/nonexistent-dir/x.jsonl") != std::string::npos);
}
