#include "core/app/service_notifier.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

namespace gatherd::core {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// One line of a STATUS= value: the protocol separates assignments with newlines.
std::string oneLine(const std::string& text) {
  std::string line = text;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line;
}

}  // namespace

ServiceNotifier::ServiceNotifier() {
  std::string socket = env("NOTIFY_SOCKET");
  if (socket.empty() || (socket[0] != '/' && socket[0] != '@')) return;
  if (socket.size() >= sizeof(sockaddr_un::sun_path)) return;
  if (socket[0] == '@') socket[0] = '\0';
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  address_ = socket;

  const std::string usec = env("WATCHDOG_USEC");
  const std::string pid = env("WATCHDOG_PID");
  char* end = nullptr;
  const long long watchdog_usec = usec.empty() ? 0 : std::strtoll(usec.c_str(), &end, 10);
  const bool for_us = pid.empty() || std::strtoll(pid.c_str(), nullptr, 10) == ::getpid();
  if (watchdog_usec > 0 && end != nullptr && *end == '\0' && for_us) {
    watchdog_ping_ms_ = std::max<std::int64_t>(1, watchdog_usec / 2 / 1000);
  }
}

ServiceNotifier::~ServiceNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

bool ServiceNotifier::notify(const std::string& state) const {
  if (fd_ < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, address_.data(), address_.size());
  // An abstract name's length is exact; a path's includes its terminating zero.
  const socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                                  address_.size() + (address_[0] == '\0' ? 0 : 1));
  for (;;) {
    const ssize_t sent = ::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL,
                                  reinterpret_cast<const sockaddr*>(&address), length);
    if (sent >= 0) return static_cast<std::size_t>(sent) == state.size();
    if (errno != EINTR) return false;
  }
}

bool ServiceNotifier::ready(const std::string& status) const {
  return notify("READY=1\nSTATUS=" + oneLine(status));
}

bool ServiceNotifier::reloading() const {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
  return notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) +
                "\nSTATUS=reloading the configuration");
}

bool ServiceNotifier::stopping() const {
  return notify("STOPPING=1\nSTATUS=stopping");
}

bool ServiceNotifier::watchdog() const {
  return notify("WATCHDOG=1");
}

bool ServiceNotifier::status(const std::string& text) const {
  return notify("STATUS=" + oneLine(text));
}

StartExtension::StartExtension(const ServiceNotifier* notifier, std::chrono::milliseconds period,
                               std::chrono::milliseconds limit) {
  if (notifier == nullptr || !notifier->enabled()) return;
  thread_ = std::thread([this, notifier, period, limit] {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    const std::string request =
        "EXTEND_TIMEOUT_USEC=" +
        std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(period).count() * 3);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, period, [this] { return done_; })) {
      if (std::chrono::steady_clock::now() >= give_up) return;
      notifier->notify(request + "\nSTATUS=starting: opening the stores");
    }
  });
}

StartExtension::~StartExtension() {
  if (!thread_.joinable()) return;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

}  // namespace gatherd::core
