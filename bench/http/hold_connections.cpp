// bench_hold_connections: holds N idle connections (connect, send nothing) and M slow-header
// connections (a request line, then one header byte every --trickle-ms) open against a server
// on 127.0.0.1 from one epoll thread, until SIGTERM or SIGINT. A connection the server closes
// (or answers) is opened again, so the count stays up while another client measures the
// server. Prints "ready" once all are open and a summary at the end (see README.md, run.sh).

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "loopback/loopback.hpp"
#include <sys/epoll.h>
#include <unistd.h>

namespace {

using gatherd::bench::connectLoopback;
using gatherd::bench::percentile;
using gatherd::bench::wallMs;

enum class Kind { kIdle, kSlow };

struct Options {
  int port = 8080;
  int idle = 5'000;
  int slow = 500;
  int wave = 250;
  int trickle_ms = 1'000;
  std::string path = "/health";
};

struct Connection {
  int fd = -1;
  Kind kind = Kind::kIdle;
  std::int64_t opened_ms = 0;
  std::int64_t next_byte_ms = 0;
  std::size_t header_bytes = 0;  ///< trickled so far
};

volatile std::sig_atomic_t stop_requested = 0;

void onSignal(int) {
  stop_requested = 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!gatherd::bench::parseFlags(
          argc, argv,
          {{"--port", &options.port},
           {"--idle", &options.idle},
           {"--slow", &options.slow},
           {"--wave", &options.wave},
           {"--trickle-ms", &options.trickle_ms},
           {"--path", &options.path}},
          "bench_hold_connections [--port P] [--idle N] [--slow M] [--wave W] [--trickle-ms T] "
          "[--path /health]")) {
    return 2;
  }
  const int total = options.idle + options.slow;
  if (!gatherd::bench::raiseFileLimit(total + 64)) return 2;
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);

  const std::string request_line = "GET " + options.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  const std::string trickle = "X-Trickle: ";  // then 'a' forever: the header never ends
  const int epoll_fd = ::epoll_create1(0);
  std::vector<Connection> connections(static_cast<std::size_t>(total));
  std::vector<std::size_t> by_fd;
  std::vector<std::size_t> closed;  // indexes to open (again)
  for (int i = 0; i < total; ++i) {
    connections[static_cast<std::size_t>(i)].kind = i < options.idle ? Kind::kIdle : Kind::kSlow;
    closed.push_back(static_cast<std::size_t>(i));
  }
  std::reverse(closed.begin(), closed.end());
  std::map<std::string, int> answers;  // status line of what the server sent before closing
  std::vector<double> lifetimes_s[2];  // how long the server kept each one, by kind
  int open = 0;
  int failed_connects = 0;
  int reopened = 0;
  bool ready = false;
  std::vector<epoll_event> events(1024);
  char chunk[4096];

  auto openOne = [&](std::size_t index, std::int64_t now) {
    Connection& connection = connections[index];
    connection.fd =
        connectLoopback(options.port, connection.kind == Kind::kSlow ? request_line : "");
    if (connection.fd < 0) return false;
    connection.opened_ms = now;
    connection.header_bytes = 0;
    // Spread the slow connections' bytes over the trickle period.
    connection.next_byte_ms = now + static_cast<std::int64_t>(index) % options.trickle_ms;
    const auto fd = static_cast<std::size_t>(connection.fd);
    if (by_fd.size() <= fd) by_fd.resize(fd + 1);
    by_fd[fd] = index;
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP;
    event.data.fd = connection.fd;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, connection.fd, &event);
    ++open;
    return true;
  };
  auto closeOne = [&](Connection& connection, std::size_t index, std::int64_t now) {
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, connection.fd, nullptr);
    ::close(connection.fd);
    connection.fd = -1;
    --open;
    lifetimes_s[connection.kind == Kind::kSlow ? 1 : 0].push_back(
        static_cast<double>(now - connection.opened_ms) / 1000.0);
    closed.push_back(index);
  };

  const std::int64_t start_ms = wallMs();
  while (!stop_requested) {
    std::int64_t now = wallMs();
    for (int n = 0; n < options.wave && !closed.empty(); ++n) {
      const std::size_t index = closed.back();
      if (!openOne(index, now)) {
        ++failed_connects;
        break;  // try again next round
      }
      closed.pop_back();
      if (ready) ++reopened;
    }
    if (!ready && open == total) {
      ready = true;
      std::printf("ready: %d idle and %d slow-header connections open after %.1f s\n", options.idle,
                  options.slow, static_cast<double>(wallMs() - start_ms) / 1000.0);
      std::fflush(stdout);
    }
    const int count = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 20);
    now = wallMs();
    for (int i = 0; i < count; ++i) {
      const std::size_t index = by_fd[static_cast<std::size_t>(events[i].data.fd)];
      Connection& connection = connections[index];
      if (connection.fd < 0) continue;
      std::string status = "(closed without an answer)";
      const ssize_t n = ::recv(connection.fd, chunk, sizeof(chunk) - 1, 0);
      if (n > 0) {
        chunk[n] = '\0';
        status.assign(chunk, strcspn(chunk, "\r\n"));
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        continue;
      }
      ++answers[status];
      closeOne(connection, index, now);
    }
    for (std::size_t index = static_cast<std::size_t>(options.idle); index < connections.size();
         ++index) {
      Connection& connection = connections[index];
      if (connection.fd < 0 || connection.next_byte_ms > now) continue;
      const std::size_t sent = connection.header_bytes++;
      const char byte = sent < trickle.size() ? trickle[sent] : 'a';
      connection.next_byte_ms += options.trickle_ms;
      if (::send(connection.fd, &byte, 1, MSG_NOSIGNAL) != 1) {
        ++answers["(send failed)"];
        closeOne(connection, index, now);
      }
    }
  }

  std::printf(
      "held for %.1f s: %d open at the end, %d reopened after the server closed them, "
      "%d connects failed\n",
      static_cast<double>(wallMs() - start_ms) / 1000.0, open, reopened, failed_connects);
  for (auto& [status, n] : answers)
    std::printf("  closed by the server: %d x %s\n", n, status.c_str());
  for (int kind = 0; kind < 2; ++kind) {
    auto& lifetimes = lifetimes_s[kind];
    if (lifetimes.empty()) continue;
    std::printf("  %s connections the server closed lived: p50 %.1f s, max %.1f s\n",
                kind == 0 ? "idle" : "slow-header", percentile(lifetimes, 0.5),
                percentile(lifetimes, 1.0));
  }
  return 0;
}
