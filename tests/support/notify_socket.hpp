#pragma once
// A bound AF_UNIX datagram socket, what systemd offers as $NOTIFY_SOCKET, for tests that read
// what gatherd tells systemd.

#include <cstring>
#include <string>

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

namespace gatherd::testing {

/// A datagram socket bound at `path` whose recv() gives up after `timeout_us`; -1 on failure.
inline int bindNotifySocket(const std::string& path, long timeout_us) {
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    ::close(fd);
    return -1;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{timeout_us / 1'000'000, timeout_us % 1'000'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

}  // namespace gatherd::testing
