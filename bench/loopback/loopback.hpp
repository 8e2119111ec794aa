#pragma once
// Shared by the bench clients that hold thousands of sockets to a server on 127.0.0.1
// (bench_sse_client, bench_hold_connections): connect, the wall clock, percentiles, the
// open-file limit. Header-only; nothing here is gatherd code.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <variant>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gatherd::bench {

inline std::int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A blocking connect to 127.0.0.1:port that sends `request` (may be empty), then makes the
/// socket non-blocking. Returns the descriptor, or -1 (nothing left open).
inline int connectLoopback(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  if (!request.empty() && ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
                              static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  return fd;
}

/// The p-quantile (0..1) of `values` (reorders them); 0 when empty.
inline double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<long>(index), values.end());
  return values[index];
}

/// Raises the soft open-file limit to the hard one; false (with a message) when that leaves
/// fewer than `needed` descriptors.
inline bool raiseFileLimit(int needed) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  if (static_cast<long long>(limit.rlim_cur) >= needed) return true;
  std::fprintf(stderr, "open-file limit %llu is too low for %d sockets\n",
               static_cast<unsigned long long>(limit.rlim_cur), needed);
  return false;
}

/// One "--name value" command-line flag and where its value goes.
struct Flag {
  const char* name;
  std::variant<int*, std::string*> target;
};

/// Sets the flags given as "--name value" pairs; prints `usage` and returns false on anything
/// else.
inline bool parseFlags(int argc, char** argv, std::initializer_list<Flag> flags,
                       const char* usage) {
  for (int i = 1; i < argc; i += 2) {
    const Flag* found = nullptr;
    for (const Flag& flag : flags) {
      if (argv[i] == std::string(flag.name)) found = &flag;
    }
    if (found == nullptr || i + 1 >= argc) {
      std::fprintf(stderr, "usage: %s\n", usage);
      return false;
    }
    if (auto* number = std::get_if<int*>(&found->target))
      **number = std::atoi(argv[i + 1]);
    else
      *std::get<std::string*>(found->target) = argv[i + 1];
  }
  return true;
}

}  // namespace gatherd::bench
