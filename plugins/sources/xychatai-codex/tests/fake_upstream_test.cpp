// The xychatai-fake-upstream executable, as the runtime and e2e tests start it.

#include <fstream>
#include <string>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <catch2/catch.hpp>

#include "fake_upstream/test_certificates.hpp"
#include "gatherd/sdk/testing/fake_host.hpp"
#include "gatherd/sdk/testing/temp_dir.hpp"
#include "xychatai_source.hpp"

namespace {

using gatherd::plugins::xychatai::XychataiSource;
using gatherd::sdk::Outcome;
using gatherd::sdk::testing::TempDir;

class RunningProcess {
 public:
  explicit RunningProcess(const std::vector<std::string>& arguments)
      : handle_(Poco::Process::launch(XYCHATAI_FAKE_UPSTREAM_EXE, arguments, nullptr, &output_,
                                      nullptr)),
        stream_(output_) {}
  ~RunningProcess() {
    if (!stopped_) {
      Poco::Process::kill(handle_);
      handle_.wait();
    }
  }
  std::string readLine() {
    std::string line;
    std::getline(stream_, line);
    return line;
  }
  int stop() {
    Poco::Process::requestTermination(handle_.id());
    return wait();
  }
  int wait() {
    stopped_ = true;
    return handle_.wait();
  }

 private:
  Poco::Pipe output_;
  Poco::ProcessHandle handle_;
  Poco::PipeInputStream stream_;
  bool stopped_ = false;
};

gatherd::sdk::Batch pollOnce(XychataiSource& source, gatherd::sdk::testing::FakeHost& host) {
  gatherd::sdk::CancelToken token;
  gatherd::sdk::PollContext context;
  context.deadline_steady_ms = host.clock().steadyNowMs() + 30'000;
  context.cancel = &token;
  gatherd::sdk::Batch batch;
  source.poll(context, batch);
  return batch;
}

/// GET /__fake/stats over plain HTTP: {"connections":N,"requests":M}.
Poco::JSON::Object::Ptr fakeStats(const std::string& port) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(std::stoi(port)));
  Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/__fake/stats",
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::istream& body = session.receiveResponse(response);
  REQUIRE(response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK);
  return Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace

TEST_CASE("xychatai-fake-upstream serves a scenario over HTTPS and stops on SIGINT",
          "[fake_upstream]") {
  TempDir directory("gatherd-xychatai");
  const std::string scenario = directory.file("scenario.json");
  {
    std::ofstream out(scenario);
    out << R"({"responses":[{"fixture":")" << GATHERD_PLUGIN_SOURCE_DIR
        << R"(/tests/testdata/quota-happy.json","gzip":true},)"
        << R"({"status":502,"body":"bad gateway","content_type":"text/plain"},)"
        << R"({"body":"{\"code\":-1,\"msg\":\"expired\"}"}]})";
  }
  RunningProcess process(
      {"--port", "0", "--tls", directory.file("certs"), "--scenario", scenario, "--print-port"});
  const std::string port = process.readLine();
  REQUIRE_FALSE(port.empty());
  REQUIRE(std::stoi(port) > 0);

  gatherd::sdk::testing::FakeHost host("xy");
  XychataiSource source;
  std::map<std::string, std::string, std::less<>> values = {
      {"base_url", "https://localhost:" + port},
      {"endpoint", "/frontend-api/vibe-code/quota"},
      {"cookie_name", "share-session"},
      {"cookie", "SYNTHETIC-cookie"},
      {"service", "codex"},
      {"utc_offset", "+08:00"},
      {"shared_connections", "2"},
      {"ca_file", directory.file("certs/ca.crt")}};
  REQUIRE(source.init(gatherd::sdk::Config("xy", values), host));
  const auto ok = pollOnce(source, host);
  INFO(ok.window.message);
  CHECK(ok.window.outcome == Outcome::kOk);
  CHECK(ok.records.size() == 21);
  CHECK(pollOnce(source, host).window.outcome == Outcome::kHttpError);
  CHECK(pollOnce(source, host).window.outcome == Outcome::kAuthError);
  CHECK(pollOnce(source, host).window.outcome == Outcome::kAuthError);  // the last one repeats
  source.stop();
  CHECK(process.stop() == 0);
}

TEST_CASE("xychatai-fake-upstream refuses unknown arguments", "[fake_upstream]") {
  RunningProcess process({"--no-such-flag"});
  CHECK(process.wait() == 2);
}

TEST_CASE("xychatai-fake-upstream's stats count the collector's requests, not the stats requests",
          "[fake_upstream]") {
  RunningProcess process({"--port", "0", "--rolling", "1", "--print-port"});
  const std::string port = process.readLine();
  REQUIRE_FALSE(port.empty());
  CHECK(fakeStats(port)->getValue<long long>("requests") == 0);

  gatherd::sdk::testing::FakeHost host("xy");
  XychataiSource source;
  std::map<std::string, std::string, std::less<>> values = {
      {"base_url", "http://127.0.0.1:" + port}, {"cookie", "SYNTHETIC-cookie"}};
  REQUIRE(source.init(gatherd::sdk::Config("xy", values), host));
  CHECK(pollOnce(source, host).window.outcome == Outcome::kOk);
  CHECK(pollOnce(source, host).window.outcome == Outcome::kOk);
  const auto stats = fakeStats(port);
  CHECK(stats->getValue<long long>("requests") == 2);
  CHECK(stats->getValue<long long>("connections") == 1);  // the source's kept-alive connection
  source.stop();
  CHECK(process.stop() == 0);
}
