#pragma once
// systemd's readiness protocol (sd_notify(3)), written out: one datagram of "KEY=VALUE" lines
// to the AF_UNIX socket named by $NOTIFY_SOCKET. No libsystemd needed; without the variable
// (not started by systemd with Type=notify) every call does nothing.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace gatherd::core {

class ServiceNotifier {
 public:
  /// Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment.
  ServiceNotifier();
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  /// True when $NOTIFY_SOCKET names a socket (a path, or "@name" for the abstract namespace).
  bool enabled() const { return fd_ >= 0; }
  /// How often to send WATCHDOG=1: half of $WATCHDOG_USEC (as sd_watchdog_enabled(3)
  /// advises), 0 when systemd expects no pings (unset, or WATCHDOG_PID names another process).
  std::int64_t watchdogPingIntervalMs() const { return enabled() ? watchdog_ping_ms_ : 0; }

  /// Sends `state` ("READY=1\nSTATUS=..."). Thread-safe; false when disabled or not sent.
  bool notify(const std::string& state) const;
  bool ready(const std::string& status) const;
  bool reloading() const;
  bool stopping() const;
  bool watchdog() const;
  bool status(const std::string& text) const;

 private:
  int fd_ = -1;
  std::string address_;  // sockaddr_un path; a leading '\0' for the abstract namespace
  std::int64_t watchdog_ping_ms_ = 0;
};

/// While it exists, asks systemd every `period` for three periods more start-up time
/// (EXTEND_TIMEOUT_USEC), so that TimeoutStartSec does not kill a start that is working (the
/// sqlite sink upgrading a large file takes about a minute per million rows) and then start it
/// again into the same upgrade. Sends nothing when `notifier` is null or disabled, or when the
/// start ends within one period; stops asking after `limit` (a start that long is stuck).
class StartExtension {
 public:
  explicit StartExtension(const ServiceNotifier* notifier,
                          std::chrono::milliseconds period = std::chrono::seconds(10),
                          std::chrono::milliseconds limit = std::chrono::hours(1));
  ~StartExtension();
  StartExtension(const StartExtension&) = delete;
  StartExtension& operator=(const StartExtension&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace gatherd::core
