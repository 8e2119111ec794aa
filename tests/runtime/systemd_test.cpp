// The real gatherd binary under systemd's protocols: a datagram socket as NOTIFY_SOCKET
// (READY, STATUS, WATCHDOG pings at the rate WATCHDOG_USEC asks, RELOADING around a reload,
// STOPPING), and `gatherd health` against /ready.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "gatherd_process.hpp"
#include "notify_socket.hpp"
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace gatherd::testing;
using namespace std::chrono_literals;

namespace {

// Receives every datagram sent to a socket in `dir`, with the time it arrived.
class NotifySocket {
 public:
  struct Message {
    std::chrono::steady_clock::time_point at;
    std::string text;
  };

  explicit NotifySocket(const std::filesystem::path& dir) : path_((dir / "notify.sock").string()) {
    fd_ = bindNotifySocket(path_, 100'000);
    REQUIRE(fd_ >= 0);
    reader_ = std::thread([this] {
      char buffer[4096];
      while (!stop_) {
        const ssize_t size = ::recv(fd_, buffer, sizeof(buffer), 0);
        if (size <= 0) continue;
        std::lock_guard lock(mutex_);
        messages_.push_back({std::chrono::steady_clock::now(), std::string(buffer, size)});
      }
    });
  }
  ~NotifySocket() {
    stop_ = true;
    reader_.join();
    ::close(fd_);
  }
  const std::string& path() const { return path_; }

  std::vector<Message> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::vector<Message> containing(const std::string& text) const {
    std::vector<Message> selected;
    for (const auto& message : messages()) {
      if (message.text.find(text) != std::string::npos) selected.push_back(message);
    }
    return selected;
  }
  bool waitFor(const std::string& text, std::size_t count,
               std::chrono::milliseconds timeout) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (containing(text).size() < count) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<Message> messages_;
  std::thread reader_;
};

std::string demoWithStore(const TempDir& dir, const std::string& bind) {
  std::string text = baseConfig(dir.path(), "200ms") +
                     "[source.demo]\nplugin = demo\ncalls_per_minute = 600\nseed = 7\n\n"
                     "[sink.db]\nplugin = sqlite\n";
  // A bind beyond loopback needs a token or allow_open (the service refuses it otherwise).
  const std::string open = bind.rfind("0.0.0.0:", 0) == 0 ? "\nallow_open = true" : "";
  text.replace(text.find("bind = 127.0.0.1:0"), 18, "bind = " + bind + open);
  return text;
}

int boundPort(const ChildProcess& gatherd) {
  std::smatch match;
  const std::string log = gatherd.err();
  REQUIRE(std::regex_search(log, match, std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)")));
  return std::stoi(match[1]);
}

}  // namespace

TEST_CASE(
    "systemd notify: READY once serving, STATUS per window, WATCHDOG at half of "
    "WATCHDOG_USEC, RELOADING/READY around a reload, STOPPING") {
  TempDir dir;
  NotifySocket notify(dir.path());
  const auto config = dir.write("gatherd.ini", demoWithStore(dir, "127.0.0.1:0"));
  // systemd would kill the service after 1 s without a ping: gatherd pings every 500 ms.
  GatherdProcess gatherd(config, {}, {"NOTIFY_SOCKET=" + notify.path(), "WATCHDOG_USEC=1000000"});
  REQUIRE(notify.waitFor("READY=1", 1, 20s));
  // READY comes after HTTP listens (the log line is written before it).
  CHECK_THAT(gatherd.err(), Catch::Contains("listening on"));
  CHECK_THAT(gatherd.err(), Catch::Contains("systemd watchdog: the scheduler pings every 500 ms"));
  const auto ready_at = notify.containing("READY=1").front().at;

  REQUIRE(notify.waitFor("STATUS=demo ok at ", 3, 20s));
  CHECK_THAT(notify.containing("STATUS=demo ok at ").back().text,
             Catch::Matches("STATUS=demo ok at \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z \\(\\d+ records\\)"));

  // Watchdog pings: at least 3 s of them. Waited for by count, not by a fixed sleep: on a
  // loaded CI machine (a Debug build beside the tests) fewer than 5 came within 3 s once.
  std::this_thread::sleep_for(3s);
  REQUIRE(notify.waitFor("WATCHDOG=1", 7, 20s));
  std::vector<std::chrono::steady_clock::time_point> pings;
  for (const auto& message : notify.containing("WATCHDOG=1")) {
    if (message.at >= ready_at) pings.push_back(message.at);
  }
  REQUIRE(pings.size() >= 5);
  // The typical gap, not the largest: on a loaded CI machine one ping can be late, which is
  // what pinging at half of WATCHDOG_USEC leaves room for.
  std::vector<std::chrono::steady_clock::duration> gaps;
  for (std::size_t i = 1; i < pings.size(); ++i) gaps.push_back(pings[i] - pings[i - 1]);
  std::sort(gaps.begin(), gaps.end());
  const auto median = gaps[gaps.size() / 2];
  INFO("median gap between pings: "
       << std::chrono::duration_cast<std::chrono::milliseconds>(median).count() << " ms");
  CHECK(median > 300ms);
  CHECK(median < 800ms);
  // About one ping per 500 ms, not a ping per window (200 ms) or per loop turn.
  const auto span = pings.back() - pings.front();
  INFO("pings: " << pings.size() << " in "
                 << std::chrono::duration_cast<std::chrono::milliseconds>(span).count() << " ms");
  CHECK(static_cast<double>(pings.size() - 1) <= 1.5 * (span / 500ms) + 2);

  gatherd.signal(SIGHUP);
  REQUIRE(notify.waitFor("RELOADING=1", 1, 10s));
  REQUIRE(notify.waitFor("READY=1", 2, 10s));
  const auto messages = notify.messages();
  const auto reloading = std::find_if(messages.begin(), messages.end(), [](const auto& m) {
    return m.text.find("RELOADING=1") != std::string::npos;
  });
  CHECK_THAT(reloading->text, Catch::Matches("RELOADING=1\nMONOTONIC_USEC=\\d+\n(.|\n)*"));
  const auto ready_again = std::find_if(reloading, messages.end(), [](const auto& m) {
    return m.text.find("READY=1") != std::string::npos;
  });
  REQUIRE(ready_again != messages.end());
  CHECK_THAT(ready_again->text, Catch::Contains("STATUS=reloaded: "));

  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(20s) == 0);
  CHECK(notify.containing("STOPPING=1").size() == 1);
}

TEST_CASE("no WATCHDOG pings when systemd asks for none, or asks another process") {
  TempDir dir;
  NotifySocket notify(dir.path());
  const auto config = dir.write("gatherd.ini", demoWithStore(dir, "127.0.0.1:0"));
  GatherdProcess gatherd(
      config, {}, {"NOTIFY_SOCKET=" + notify.path(), "WATCHDOG_USEC=200000", "WATCHDOG_PID=1"});
  REQUIRE(notify.waitFor("READY=1", 1, 20s));
  REQUIRE(notify.waitFor("STATUS=demo ok", 3, 20s));
  CHECK(notify.containing("WATCHDOG=1").empty());
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(20s) == 0);
}

TEST_CASE("gatherd health asks /ready on the configured bind: 0 when ready, 1 when not") {
  TempDir dir;
  const auto config = dir.write("gatherd.ini", demoWithStore(dir, "127.0.0.1:0"));
  GatherdProcess gatherd(config);
  REQUIRE(gatherd.waitForLog("started", 20s));
  const int port = boundPort(gatherd);
  // The same config with the port the service got (as a fixed bind would name it).
  const auto fixed = dir.write("fixed.ini", demoWithStore(dir, "0.0.0.0:" + std::to_string(port)));
  {
    GatherdProcess health(fixed, {"health"});
    REQUIRE(health.wait(20s) == 0);
    CHECK_THAT(health.out(), Catch::Contains("/ready: 200"));
    CHECK_THAT(health.out(), Catch::Contains(R"("ready":true)"));
  }
  gatherd.signal(SIGTERM);
  REQUIRE(gatherd.wait(20s) == 0);
  {
    GatherdProcess health(fixed, {"health"});
    CHECK(health.wait(20s) == 1);
    CHECK_THAT(health.err(), Catch::Contains("no answer from 127.0.0.1:" + std::to_string(port)));
  }
  {
    GatherdProcess health(config, {"health"});  // port 0: nothing to ask
    CHECK(health.wait(20s) == 2);
  }
}

TEST_CASE("gatherd health fails while /ready says not ready (no store)") {
  TempDir dir;
  std::string text = baseConfig(dir.path(), "1s") + "[source.demo]\nplugin = demo\n";
  const auto config = dir.write("gatherd.ini", text);
  GatherdProcess gatherd(config);
  REQUIRE(gatherd.waitForLog("started", 20s));
  const int port = boundPort(gatherd);
  text.replace(text.find("bind = 127.0.0.1:0"), 18, "bind = 127.0.0.1:" + std::to_string(port));
  const auto fixed = dir.write("fixed.ini", text);
  GatherdProcess health(fixed, {"health"});
  REQUIRE(health.wait(20s) == 1);
  CHECK_THAT(health.out(), Catch::Contains("/ready: 503"));
  CHECK_THAT(health.out(), Catch::Contains("the store is not open"));
  gatherd.signal(SIGTERM);
  CHECK(gatherd.wait(20s) == 0);
}
