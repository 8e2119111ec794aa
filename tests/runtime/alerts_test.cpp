// Alerts end to end: the real gatherd, the fake upstream answering "session expired" (so the
// core's auth rule fires), and a webhook sink posting to a receiver the test runs.
#include <filesystem>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "gatherd/sdk/testing/eventually.hpp"
#include "gatherd/sdk/testing/http_receiver.hpp"
#include "gatherd_process.hpp"
#include <signal.h>

using namespace gatherd::testing;
using namespace std::chrono_literals;
using gatherd::sdk::testing::HttpReceiver;
namespace fs = std::filesystem;

namespace {

constexpr const char* kCookie = "alert-suite-cookie-CANARY-3c1d";

bool hasJournal(const fs::path& dir) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (entry.path().extension() == ".journal" && entry.file_size() > 0) return true;
  }
  return false;
}

}  // namespace

TEST_CASE(
    "alerts: an alert that fired while the receiver was down survives kill -9 and is sent "
    "once after the restart",
    "[alerts]") {
  TempDir dir;
  HttpReceiver receiver;
  receiver.answerAlways(503);
  fs::create_directories(dir.path() / "upstream");
  ChildProcess upstream({FAKE_UPSTREAM_BIN, "--port", "0", "--print-port", "--expired"},
                        dir.path() / "upstream");
  const std::string ini =
      dir.write("gatherd.ini",
                baseConfig(dir.path(), "200ms") +
                    "[source.acct]\nplugin = xychatai-codex\nbase_url = http://127.0.0.1:" +
                    printedPort(upstream) + "\ncookie = ${ALERT_TEST_COOKIE}\n\n" +
                    "[sink.hook]\nplugin = webhook\nurl = " + receiver.url() +
                    "\nformat = generic\nlanguage = en\nrules = auth\n")
          .string();
  const std::vector<std::string> environment{std::string("ALERT_TEST_COOKIE=") + kCookie};
  {
    GatherdProcess gatherd(ini, {}, environment);
    // The auth alert fires on the first window; the receiver refuses it (503) and the core
    // retries with backoff. Then the process dies without any chance to flush.
    REQUIRE(gatherd::sdk::testing::eventually([&] { return receiver.requests().size() >= 2; }, 30s,
                                              20ms));
    CHECK(hasJournal(dir.path() / "data" / "spool" / "hook"));
    gatherd.signal(SIGKILL);
    REQUIRE(gatherd.wait(10s) != -1);
  }
  const std::size_t refused = receiver.requests().size();
  receiver.answerAlways(200);
  GatherdProcess gatherd(ini, {}, environment);
  REQUIRE(gatherd.waitForLog("sent 1 alert(s)", 30s));
  // More windows of the same expired session: the alert is still open, nothing new is sent.
  std::this_thread::sleep_for(2s);
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(30s) == 0);
  INFO(gatherd.err());
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == refused + 1);
  const std::string& body = requests[refused].body;
  CHECK(requests[refused].method == "POST");
  CHECK(body.find("\"auth\"") != std::string::npos);
  CHECK(body.find("firing") != std::string::npos);
  for (const auto& request : requests) CHECK(request.body.find(kCookie) == std::string::npos);
  CHECK(gatherd.err().find(kCookie) == std::string::npos);
}
