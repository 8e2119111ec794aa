// StartExtension against a real datagram socket named by NOTIFY_SOCKET, as systemd provides one.
#include "core/app/service_notifier.hpp"

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "gatherd/sdk/testing/temp_dir.hpp"
#include "notify_socket.hpp"
#include <sys/socket.h>
#include <unistd.h>

using gatherd::core::ServiceNotifier;
using gatherd::core::StartExtension;
using namespace std::chrono_literals;

namespace {

// A bound datagram socket; NOTIFY_SOCKET names it while this exists.
class NotifySocket {
 public:
  explicit NotifySocket(const gatherd::sdk::testing::TempDir& dir)
      : path_(dir.file("notify.sock")) {
    fd_ = gatherd::testing::bindNotifySocket(path_, 50'000);
    REQUIRE(fd_ >= 0);
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  /// The datagrams received within `wait`, or as soon as `count` arrived.
  std::vector<std::string> receive(std::size_t count, std::chrono::milliseconds wait) {
    std::vector<std::string> received;
    const auto until = std::chrono::steady_clock::now() + wait;
    char buffer[512];
    while (received.size() < count && std::chrono::steady_clock::now() < until) {
      const ssize_t size = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (size > 0) received.emplace_back(buffer, static_cast<std::size_t>(size));
    }
    return received;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

TEST_CASE("a long start asks systemd for more time every period, and stops asking when done") {
  gatherd::sdk::testing::TempDir dir;
  NotifySocket socket(dir);
  const ServiceNotifier notifier;
  REQUIRE(notifier.enabled());
  std::vector<std::string> received;
  {
    const StartExtension extension(&notifier, 20ms);
    received = socket.receive(2, 10s);
  }
  REQUIRE(received.size() == 2);
  for (const std::string& message : received) {
    CHECK(message == "EXTEND_TIMEOUT_USEC=60000\nSTATUS=starting: opening the stores");
  }
  socket.receive(100, 100ms);  // what was on its way when the start ended
  CHECK(socket.receive(1, 200ms).empty());
}

TEST_CASE("a start shorter than one period asks for nothing") {
  gatherd::sdk::testing::TempDir dir;
  NotifySocket socket(dir);
  const ServiceNotifier notifier;
  { const StartExtension extension(&notifier, 10s); }
  CHECK(socket.receive(1, 200ms).empty());
}

TEST_CASE("a start that outlasts the limit is left to systemd's timeout") {
  gatherd::sdk::testing::TempDir dir;
  NotifySocket socket(dir);
  const ServiceNotifier notifier;
  const StartExtension extension(&notifier, 10ms, 35ms);
  // At most one request per whole period before the limit, however late the thread runs.
  CHECK(socket.receive(10, 500ms).size() <= 3);
}

TEST_CASE("without systemd nothing is sent and nothing waits") {
  ::unsetenv("NOTIFY_SOCKET");
  const ServiceNotifier notifier;
  CHECK_FALSE(notifier.enabled());
  const StartExtension without_socket(&notifier, 1ms);
  const StartExtension without_notifier(nullptr, 1ms);
}
