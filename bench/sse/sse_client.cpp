// bench_sse_client: opens N Server-Sent Events streams to gatherd on loopback from one epoll
// thread and measures how long each `invocation` event takes to reach each client (receive time
// minus the event's createdAt, i.e. from the store's write to the client). Prints figures.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
  int port = 8080;
  int clients = 10'000;
  int seconds = 30;
  int wave = 250;
  std::string token;
};

struct Client {
  int fd = -1;
  bool connected = false;  ///< ": connected" seen
  bool closed = false;
  std::string buffer;
  std::int64_t events = 0;
};

std::int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-11-29T10:47:26Z" or "2026-11-29T10:47:26.123Z" -> UTC ms.
std::int64_t parseIsoMs(const std::string& text) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return -1;
  }
  const auto dot = text.find('.');
  if (dot != std::string::npos) millis = std::atoi(text.c_str() + dot + 1);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(::timegm(&tm)) * 1000 + millis;
}

int connectOne(int port, const std::string& token) {
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
  std::string request = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  request += "\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  return fd;
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<long>(index), values.end());
  return values[index];
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--port") options.port = std::atoi(argv[i + 1]);
    else if (arg == "--clients") options.clients = std::atoi(argv[i + 1]);
    else if (arg == "--seconds") options.seconds = std::atoi(argv[i + 1]);
    else if (arg == "--wave") options.wave = std::atoi(argv[i + 1]);
    else if (arg == "--token") options.token = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: bench_sse_client [--port P] [--clients N] [--seconds S] [--wave W] [--token T]\n");
      return 2;
    }
  }
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  if (static_cast<int>(limit.rlim_cur) < options.clients + 64) {
    std::fprintf(stderr, "open-file limit %llu is too low for %d clients\n",
                 static_cast<unsigned long long>(limit.rlim_cur), options.clients);
    return 2;
  }

  const int epoll_fd = ::epoll_create1(0);
  std::vector<Client> clients(static_cast<std::size_t>(options.clients));
  std::vector<std::size_t> by_fd;  // descriptor -> client index
  std::vector<double> latencies;
  latencies.reserve(1 << 20);
  std::map<std::int64_t, std::pair<int, double>> per_event;  // id -> (clients reached, max ms)
  int connected = 0;
  int failed = 0;
  int closed = 0;
  bool measuring = false;
  std::vector<epoll_event> events(1024);
  char chunk[65536];

  auto pump = [&](int timeout_ms) {
    const int count = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), timeout_ms);
    const std::int64_t now = wallMs();
    for (int i = 0; i < count; ++i) {
      Client& client = clients[by_fd[static_cast<std::size_t>(events[i].data.fd)]];
      while (true) {
        const ssize_t n = ::recv(client.fd, chunk, sizeof(chunk), 0);
        if (n > 0) {
          client.buffer.append(chunk, static_cast<std::size_t>(n));
          continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
          if (!client.closed) {
            client.closed = true;
            ++closed;
            ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, client.fd, nullptr);
          }
        }
        break;
      }
      std::size_t begin = 0;
      std::size_t end;
      while ((end = client.buffer.find("\n\n", begin)) != std::string::npos) {
        const std::string_view block(client.buffer.data() + begin, end - begin);
        begin = end + 2;
        if (!client.connected && block.find(": connected") != std::string::npos) {
          client.connected = true;
          ++connected;
          continue;
        }
        if (!measuring || block.find("\nevent: invocation\n") == std::string::npos) continue;
        const auto id_at = block.find("id: ");
        const auto created = block.find("\"createdAt\":\"");
        if (id_at == std::string::npos || created == std::string::npos) continue;
        const std::int64_t id = std::atoll(block.data() + id_at + 4);
        const std::int64_t created_ms = parseIsoMs(std::string(block.substr(created + 13, 24)));
        const double latency = static_cast<double>(now - created_ms);
        latencies.push_back(latency);
        auto& entry = per_event[id];
        ++entry.first;
        entry.second = std::max(entry.second, latency);
        ++client.events;
      }
      client.buffer.erase(0, begin);
    }
  };

  const auto connect_start = std::chrono::steady_clock::now();
  for (int started = 0; started < options.clients;) {
    const int wave_end = std::min(options.clients, started + options.wave);
    for (; started < wave_end; ++started) {
      const int fd = connectOne(options.port, options.token);
      if (fd < 0) {
        ++failed;
        continue;
      }
      clients[static_cast<std::size_t>(started)].fd = fd;
      if (by_fd.size() <= static_cast<std::size_t>(fd)) by_fd.resize(static_cast<std::size_t>(fd) + 1);
      by_fd[static_cast<std::size_t>(fd)] = static_cast<std::size_t>(started);
      epoll_event event{};
      event.events = EPOLLIN | EPOLLRDHUP;
      event.data.fd = fd;
      ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
    }
    // Let the server take in this wave before the next (its accept queue is bounded).
    const auto wave_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (connected + failed + closed < started && std::chrono::steady_clock::now() < wave_deadline) pump(50);
  }
  const double connect_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - connect_start).count();
  std::printf("connected %d of %d streams in %.1f s (%d failed to connect, %d closed)\n", connected,
              options.clients, connect_s, failed, closed);
  std::fflush(stdout);

  measuring = true;
  const auto stop_at = std::chrono::steady_clock::now() + std::chrono::seconds(options.seconds);
  while (std::chrono::steady_clock::now() < stop_at) pump(100);

  std::vector<double> per_event_max;
  int complete = 0;
  for (const auto& [id, entry] : per_event) {
    per_event_max.push_back(entry.second);
    if (entry.first >= connected - closed) ++complete;
  }
  std::int64_t min_events = INT64_MAX;
  for (const auto& client : clients) {
    if (client.connected && !client.closed) min_events = std::min(min_events, client.events);
  }
  std::vector<double> all = latencies;
  std::printf("invocation events: %zu distinct, %d reached every open stream; %zu deliveries; "
              "fewest per stream %lld\n",
              per_event.size(), complete, latencies.size(),
              static_cast<long long>(min_events == INT64_MAX ? 0 : min_events));
  std::printf("delivery latency (store write -> client), ms: p50 %.0f  p99 %.0f  max %.0f\n",
              percentile(all, 0.50), percentile(all, 0.99), percentile(all, 1.0));
  std::printf("per event, last client reached after, ms: p50 %.0f  p99 %.0f  max %.0f\n",
              percentile(per_event_max, 0.50), percentile(per_event_max, 0.99),
              percentile(per_event_max, 1.0));
  std::printf("streams closed by the server during the run: %d\n", closed);
  std::printf("RESULT clients=%d p99_ms=%.0f\n", connected - closed, percentile(all, 0.99));
  return 0;
}
