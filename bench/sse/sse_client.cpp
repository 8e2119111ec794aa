// bench_sse_client: opens N Server-Sent Events streams to gatherd on loopback from one epoll
// thread and measures how long each `invocation` event takes to reach each client (receive time
// minus the event's createdAt, i.e. from the store's write to the client). Prints figures.
// With --pull PATH it is the same number of keep-alive connections that all GET PATH once a
// second instead (nginx serving a file of the event's size, for the side-by-side figure): each
// response is timed from the start of its round.
//
// By default it does not sleep in epoll_wait but naps 1 ms whenever nothing is ready: a client
// asleep in epoll_wait makes every send() the server does wake it (an IPI from the server's core
// into the client's), a cost that clients on other machines do not put on the server. The
// figures are then at most 1 ms late. --nap-ms 0 gives the blocking client.

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

#include "loopback/loopback.hpp"
#include <sys/epoll.h>
#include <unistd.h>

namespace {

using gatherd::bench::connectLoopback;
using gatherd::bench::percentile;
using gatherd::bench::wallMs;

struct Options {
  int port = 8080;
  int clients = 10'000;
  int seconds = 30;
  int wave = 250;
  std::string token;
  std::string pull;  ///< a path: keep-alive GETs of it instead of streams (the nginx side)
  /// >0: never block in epoll_wait, nap this long when nothing is ready (see the top); 0 blocks.
  int nap_ms = 1;
};

struct Client {
  int fd = -1;
  bool connected = false;  ///< ": connected" seen (pull: the first response arrived)
  bool closed = false;
  std::string buffer;
  std::int64_t events = 0;
  bool waiting = false;  ///< pull: a request is out
};

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

// Bytes of the first complete HTTP response in `buffer` (Content-Length framing), or 0.
std::size_t completeResponse(const std::string& buffer) {
  const auto header_end = buffer.find("\r\n\r\n");
  if (header_end == std::string::npos) return 0;
  std::size_t length = 0;
  const auto field = buffer.find("Content-Length: ");
  if (field != std::string::npos && field < header_end) {
    length = static_cast<std::size_t>(std::atoll(buffer.c_str() + field + 16));
  }
  const std::size_t total = header_end + 4 + length;
  return buffer.size() >= total ? total : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!gatherd::bench::parseFlags(
          argc, argv,
          {{"--port", &options.port},
           {"--clients", &options.clients},
           {"--seconds", &options.seconds},
           {"--wave", &options.wave},
           {"--token", &options.token},
           {"--pull", &options.pull},
           {"--nap-ms", &options.nap_ms}},
          "bench_sse_client [--port P] [--clients N] [--seconds S] [--wave W] [--token T] "
          "[--pull PATH] [--nap-ms MS]")) {
    return 2;
  }
  if (!gatherd::bench::raiseFileLimit(options.clients + 64)) return 2;
  const bool pull = !options.pull.empty();
  std::string request =
      pull ? "GET " + options.pull + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           : "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
  if (!options.token.empty()) request += "Authorization: Bearer " + options.token + "\r\n";
  request += "\r\n";

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
  std::size_t event_bytes = 0;  // of the last invocation event seen
  std::int64_t round = 0;       // pull: the request round (the "event id")
  std::int64_t round_start_ms = 0;
  int outstanding = 0;  // pull: requests of this round not answered yet
  std::vector<epoll_event> events(1024);
  char chunk[65536];

  // One delivery of event (or round) `id` to `client`.
  auto record = [&](Client& client, std::int64_t id, double latency_ms) {
    latencies.push_back(latency_ms);
    auto& entry = per_event[id];
    ++entry.first;
    entry.second = std::max(entry.second, latency_ms);
    ++client.events;
  };
  // Stream mode: an `invocation` event, timed from its createdAt (the store's write).
  auto onEvent = [&](Client& client, std::string_view block, std::int64_t now) {
    if (!client.connected && block.find(": connected") != std::string::npos) {
      client.connected = true;
      ++connected;
      return;
    }
    if (!measuring || block.find("\nevent: invocation\n") == std::string::npos) return;
    const auto id_at = block.find("id: ");
    const auto created = block.find("\"createdAt\":\"");
    if (id_at == std::string::npos || created == std::string::npos) return;
    event_bytes = block.size() + 2;
    const std::int64_t id = std::atoll(block.data() + id_at + 4);
    const std::int64_t created_ms = parseIsoMs(std::string(block.substr(created + 13, 24)));
    record(client, id, static_cast<double>(now - created_ms));
  };
  // Pull mode: a complete response, timed from the start of its round.
  auto onResponse = [&](Client& client, std::size_t bytes, std::int64_t now) {
    client.waiting = false;
    if (!client.connected) {
      client.connected = true;
      ++connected;
      event_bytes = bytes;
      return;
    }
    if (!measuring) return;
    --outstanding;
    record(client, round, static_cast<double>(now - round_start_ms));
  };

  auto pump = [&](int timeout_ms) {
    const int count = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()),
                                   options.nap_ms > 0 ? 0 : timeout_ms);
    if (count == 0 && options.nap_ms > 0) {
      ::usleep(static_cast<useconds_t>(options.nap_ms) * 1000);
      return;
    }
    const std::int64_t now = wallMs();
    for (int i = 0; i < count; ++i) {
      Client& client = clients[by_fd[static_cast<std::size_t>(events[i].data.fd)]];
      while (true) {
        const ssize_t n = ::recv(client.fd, chunk, sizeof(chunk), 0);
        if (n > 0) {
          client.buffer.append(chunk, static_cast<std::size_t>(n));
          // A short read drained the socket: no second recv() only to hear EAGAIN (epoll is
          // level-triggered, so anything that arrives later is reported again).
          if (static_cast<std::size_t>(n) < sizeof(chunk)) break;
          continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
          if (!client.closed) {
            client.closed = true;
            ++closed;
            if (client.waiting && measuring) --outstanding;
            ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, client.fd, nullptr);
          }
        }
        break;
      }
      if (pull) {
        while (const std::size_t bytes = completeResponse(client.buffer)) {
          client.buffer.erase(0, bytes);
          onResponse(client, bytes, now);
        }
        continue;
      }
      std::size_t begin = 0;
      std::size_t end;
      while ((end = client.buffer.find("\n\n", begin)) != std::string::npos) {
        onEvent(client, std::string_view(client.buffer.data() + begin, end - begin), now);
        begin = end + 2;
      }
      client.buffer.erase(0, begin);
    }
  };

  const auto connect_start = std::chrono::steady_clock::now();
  for (int started = 0; started < options.clients;) {
    const int wave_end = std::min(options.clients, started + options.wave);
    for (; started < wave_end; ++started) {
      const int fd = connectLoopback(options.port, request);
      if (fd < 0) {
        ++failed;
        continue;
      }
      Client& client = clients[static_cast<std::size_t>(started)];
      client.fd = fd;
      client.waiting = pull;
      if (by_fd.size() <= static_cast<std::size_t>(fd))
        by_fd.resize(static_cast<std::size_t>(fd) + 1);
      by_fd[static_cast<std::size_t>(fd)] = static_cast<std::size_t>(started);
      epoll_event event{};
      event.events = EPOLLIN | EPOLLRDHUP;
      event.data.fd = fd;
      ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
    }
    // Let the server take in this wave before the next (its accept queue is bounded).
    const auto wave_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (connected + failed + closed < started &&
           std::chrono::steady_clock::now() < wave_deadline)
      pump(50);
  }
  const double connect_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - connect_start).count();
  std::printf("connected %d of %d %s in %.1f s (%d failed to connect, %d closed)\n", connected,
              options.clients, pull ? "keep-alive connections" : "streams", connect_s, failed,
              closed);
  std::fflush(stdout);

  measuring = true;
  const auto stop_at = std::chrono::steady_clock::now() + std::chrono::seconds(options.seconds);
  if (!pull) {
    while (std::chrono::steady_clock::now() < stop_at) pump(100);
  } else {
    // One round a second: every connection asks for the file at once, as a push would deliver.
    while (std::chrono::steady_clock::now() < stop_at) {
      const auto next_round = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      ++round;
      round_start_ms = wallMs();
      outstanding = 0;
      for (auto& client : clients) {
        if (!client.connected || client.closed || client.waiting) continue;
        if (::send(client.fd, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size())) {
          client.waiting = true;
          ++outstanding;
        }
      }
      while (outstanding > 0 && std::chrono::steady_clock::now() < next_round) pump(10);
      while (std::chrono::steady_clock::now() < next_round) pump(10);
    }
  }

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
  std::printf("%s: %zu distinct, %d reached every open %s; %zu deliveries; fewest per %s %lld\n",
              pull ? "request rounds" : "invocation events", per_event.size(), complete,
              pull ? "connection" : "stream", latencies.size(), pull ? "connection" : "stream",
              static_cast<long long>(min_events == INT64_MAX ? 0 : min_events));
  std::printf("delivery latency (%s -> client), ms: min %.0f  p50 %.0f  p99 %.0f  max %.0f\n",
              pull ? "round start" : "store write", percentile(all, 0.0), percentile(all, 0.50),
              percentile(all, 0.99), percentile(all, 1.0));
  std::printf("per %s, last client reached after, ms: p50 %.0f  p99 %.0f  max %.0f\n",
              pull ? "round" : "event", percentile(per_event_max, 0.50),
              percentile(per_event_max, 0.99), percentile(per_event_max, 1.0));
  std::printf("%s closed by the server during the run: %d\n", pull ? "connections" : "streams",
              closed);
  std::printf("RESULT clients=%d p99_ms=%.0f event_bytes=%zu\n", connected - closed,
              percentile(all, 0.99), event_bytes);
  return 0;
}
