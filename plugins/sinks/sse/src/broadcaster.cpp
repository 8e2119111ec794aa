#include "broadcaster.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>

#include "api_json/api_json.hpp"
#include "json/json_writer.hpp"

namespace gatherd::plugins::sse {
namespace {

constexpr int kPageSize = 1000;
constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::chrono::milliseconds kWatchWait{200};

std::int64_t steadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool isInvocation(const sdk::Change& change) {
  return change.kind == sdk::Change::Kind::kInvocationNew ||
         change.kind == sdk::Change::Kind::kInvocationUpdated;
}

std::string resetEvent(std::int64_t id, const std::string& reason) {
  std::string data;
  json::Writer writer(data);
  writer.beginObject().key("reason").string(reason).endObject();
  return formatEvent(id, "reset", data);
}

}  // namespace

Broadcaster::Broadcaster(BroadcasterOptions options, sdk::Store& store, sdk::Logger& logger,
                         sdk::Metrics& metrics, sdk::Clock& clock)
    : options_(options), store_(store), logger_(logger), metrics_(metrics), clock_(clock) {}

Broadcaster::~Broadcaster() {
  stop();
  // Closed only here: a route handler holding this object may still call notify() after stop().
  {
    std::lock_guard lock(new_mutex_);
    for (const auto& client : new_clients_) ::close(client.fd);
    new_clients_.clear();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void Broadcaster::start() {
  if (running_ || epoll_fd_ >= 0) return;  // one run per object
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    ::close(epoll_fd_);
    epoll_fd_ = -1;
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event);
  cursor_ = store_.latestSequence();
  stopping_ = false;
  changes_pending_ = true;
  running_ = true;
  loop_thread_ = std::thread([this] { run(); });
  watch_thread_ = std::thread([this] { watch(); });
}

void Broadcaster::stop() {
  if (!running_.exchange(false)) return;
  stopping_ = true;
  notify();
  if (loop_thread_.joinable()) loop_thread_.join();
  if (watch_thread_.joinable()) watch_thread_.join();
  {
    std::lock_guard lock(new_mutex_);
    for (const auto& client : new_clients_) ::close(client.fd);
    new_clients_.clear();
  }
  client_count_ = 0;
  metrics_.setGauge("sse_clients", 0);
}

bool Broadcaster::addClient(int fd, std::optional<std::int64_t> last_event_id) {
  if (!running_ || stopping_ || client_count_.load() >= options_.max_clients) {
    ::close(fd);
    return false;
  }
  // A stream without Last-Event-ID starts at what is committed now, not when the loop gets to it.
  const std::int64_t resume_after = last_event_id.value_or(store_.latestSequence());
  {
    std::lock_guard lock(new_mutex_);
    new_clients_.push_back({fd, resume_after, last_event_id.has_value()});
    ++client_count_;
  }
  notify();
  return true;
}

void Broadcaster::notify() {
  changes_pending_ = true;
  const std::uint64_t one = 1;
  if (wake_fd_ >= 0) {
    [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof(one));
  }
}

void Broadcaster::watch() {
  std::int64_t seen = cursor_;
  while (!stopping_) {
    const std::int64_t latest = store_.waitForChange(seen, kWatchWait);
    if (latest != seen) {
      seen = latest;
      notify();
    }
  }
}

void Broadcaster::run() {
  std::int64_t next_heartbeat = steadyNowMs() + options_.heartbeat_ms;
  std::vector<epoll_event> events(512);
  char scratch[512];
  while (!stopping_) {
    const std::int64_t wait_ms = std::clamp<std::int64_t>(next_heartbeat - steadyNowMs(), 0, 1000);
    const int count = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                                   static_cast<int>(wait_ms));
    for (int i = 0; i < count; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        std::uint64_t value = 0;
        [[maybe_unused]] auto got = ::read(wake_fd_, &value, sizeof(value));
        continue;
      }
      auto it = clients_.find(fd);
      if (it == clients_.end()) continue;
      const std::uint32_t flags = events[i].events;
      if (flags & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
        closeClient(fd, WriteOutcome::kClosed);
        continue;
      }
      if (flags & EPOLLIN) {
        // Clients have nothing to say on an event stream: a read of 0 means they left.
        const ssize_t got = ::recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          closeClient(fd, WriteOutcome::kClosed);
          continue;
        }
      }
      if (flags & EPOLLOUT) {
        const WriteOutcome outcome = flush(it->second);
        if (outcome != WriteOutcome::kOk) closeClient(fd, outcome);
      }
    }
    if (stopping_) break;
    acceptNewClients();
    pumpChanges();
    if (steadyNowMs() >= next_heartbeat) {
      broadcast(": heartbeat\n\n");
      next_heartbeat = steadyNowMs() + options_.heartbeat_ms;
    }
  }
  for (auto& [fd, client] : clients_) ::close(fd);
  clients_.clear();
}

void Broadcaster::acceptNewClients() {
  std::vector<NewClient> incoming;
  {
    std::lock_guard lock(new_mutex_);
    incoming.swap(new_clients_);
  }
  if (incoming.empty()) return;
  // Catch up with every commit first, so each new stream's replay ends where live events begin.
  changes_pending_ = true;
  pumpChanges();
  const std::string preamble = "retry: " + std::to_string(options_.retry_ms) + "\n: connected\n\n";
  for (const auto& incoming_client : incoming) {
    const int fd = incoming_client.fd;
    const int flags = ::fcntl(fd, F_GETFL, 0);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP;
    event.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      ::close(fd);
      --client_count_;
      continue;
    }
    Client& client = clients_[fd];
    client.fd = fd;
    std::string text = preamble;
    if (!incoming_client.explicit_id) {
      // An id-only message sets the browser's Last-Event-ID at once, so a stream that breaks
      // before its first event still resumes from here instead of losing what came between.
      text += "id: " + std::to_string(incoming_client.resume_after) + "\n\n";
    }
    text += replayText(incoming_client.resume_after, incoming_client.explicit_id);
    const WriteOutcome outcome = enqueue(client, text, true);
    if (outcome != WriteOutcome::kOk) closeClient(fd, outcome);
  }
  metrics_.setGauge("sse_clients", static_cast<double>(clients_.size()));
}

std::string Broadcaster::replayText(std::int64_t last_event_id, bool explicit_id) {
  if (last_event_id == cursor_) return {};
  if (last_event_id > cursor_ && explicit_id) {
    metrics_.increment("sse_resets");
    return resetEvent(cursor_, "Last-Event-ID is newer than the store (was it recreated?)");
  }
  EventBuilder builder;
  std::string text;
  std::int64_t after = last_event_id;
  int replayed = 0;
  bool invocations = false;
  while (after < cursor_) {
    sdk::ChangeList list;
    const sdk::Status status = store_.changesSince(after, kPageSize, list);
    if (!status.ok() || list.too_old || list.changes.empty()) {
      if (!status.ok()) logger_.warn("SSE replay: the store failed: " + status.message());
      metrics_.increment("sse_resets");
      return resetEvent(cursor_, list.too_old ? "the missed events were pruned" : "replay failed");
    }
    for (const auto& change : list.changes) {
      if (change.sequence > cursor_) break;
      replayed += builder.add(change, text);
      invocations = invocations || isInvocation(change);
      after = change.sequence;
    }
    if (replayed > options_.replay_limit) {
      metrics_.increment("sse_resets");
      return resetEvent(cursor_, "too many missed events");
    }
    if (static_cast<int>(list.changes.size()) < kPageSize) break;
  }
  if (explicit_id) metrics_.increment("sse_replayed_events", replayed);
  if (invocations) text += statsEvent(cursor_);
  return text;
}

void Broadcaster::pumpChanges() {
  if (!changes_pending_.exchange(false)) return;
  while (!stopping_) {
    sdk::ChangeList list;
    const sdk::Status status = store_.changesSince(cursor_, kPageSize, list);
    if (!status.ok()) {
      logger_.warn("SSE: reading the store's changes failed: " + status.message());
      return;
    }
    if (list.too_old) {
      // Only possible if this thread stalled for the whole retention: clients must refetch.
      cursor_ = store_.latestSequence();
      metrics_.increment("sse_resets");
      broadcast(resetEvent(cursor_, "the server fell behind the store"));
      return;
    }
    if (list.changes.empty()) return;
    std::string text;
    bool invocations = false;
    int events = 0;
    for (const auto& change : list.changes) {
      events += live_builder_.add(change, text);
      invocations = invocations || isInvocation(change);
      cursor_ = change.sequence;
    }
    if (!clients_.empty()) {
      if (invocations) text += statsEvent(cursor_);
      broadcast(text);
      metrics_.increment("sse_events", events);
    }
    if (static_cast<int>(list.changes.size()) < kPageSize) return;
  }
}

std::string Broadcaster::statsEvent(std::int64_t id) {
  const std::int64_t now_ms = clock_.utcNowMs();
  sdk::RangeQuery day;
  day.from_ms = now_ms - kDayMs;
  day.to_ms = now_ms + 1;
  sdk::RangeQuery today;
  today.from_ms = now_ms - ((now_ms % kDayMs) + kDayMs) % kDayMs;
  today.to_ms = now_ms + 1;
  sdk::Totals day_totals;
  sdk::Totals today_totals;
  if (!store_.totals(day, day_totals).ok() || !store_.totals(today, today_totals).ok()) {
    logger_.warn("SSE: computing the stats event failed");
    return {};
  }
  std::string data = "{\"windows\":{\"1d\":" + api_json::totals(day_totals) +
                     ",\"today\":" + api_json::totals(today_totals) + "}}";
  return formatEvent(id, "stats", data);
}

void Broadcaster::broadcast(const std::string& text) {
  if (text.empty()) return;
  std::vector<std::pair<int, WriteOutcome>> failed;
  for (auto& [fd, client] : clients_) {
    const WriteOutcome outcome = enqueue(client, text);
    if (outcome != WriteOutcome::kOk) failed.emplace_back(fd, outcome);
  }
  for (const auto& [fd, outcome] : failed) closeClient(fd, outcome);
}

Broadcaster::WriteOutcome Broadcaster::enqueue(Client& client, std::string_view text,
                                               bool unbounded) {
  if (client.offset == client.pending.size()) {
    // The common case: nothing queued, so the socket usually takes it all at once.
    const ssize_t sent = ::send(client.fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent == static_cast<ssize_t>(text.size())) return WriteOutcome::kOk;
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return WriteOutcome::kClosed;
    }
    client.pending.assign(text.substr(sent > 0 ? static_cast<std::size_t>(sent) : 0));
    client.offset = 0;
    setWriteInterest(client, true);
    return WriteOutcome::kOk;
  }
  if (!unbounded &&
      client.pending.size() - client.offset + text.size() > options_.client_buffer_bytes) {
    return WriteOutcome::kTooSlow;
  }
  client.pending.append(text);
  return flush(client);
}

Broadcaster::WriteOutcome Broadcaster::flush(Client& client) {
  while (client.offset < client.pending.size()) {
    const ssize_t sent = ::send(client.fd, client.pending.data() + client.offset,
                                client.pending.size() - client.offset, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      client.offset += static_cast<std::size_t>(sent);
      continue;
    }
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (client.offset > client.pending.size() / 2) {
        client.pending.erase(0, client.offset);
        client.offset = 0;
      }
      setWriteInterest(client, true);
      return WriteOutcome::kOk;
    }
    return WriteOutcome::kClosed;
  }
  client.pending.clear();
  if (client.pending.capacity() > 64 * 1024) client.pending.shrink_to_fit();
  client.offset = 0;
  setWriteInterest(client, false);
  return WriteOutcome::kOk;
}

void Broadcaster::setWriteInterest(Client& client, bool want) {
  if (client.want_write == want) return;
  client.want_write = want;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u);
  event.data.fd = client.fd;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, client.fd, &event);
}

void Broadcaster::closeClient(int fd, WriteOutcome why) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  if (why == WriteOutcome::kTooSlow) {
    ++dropped_;
    metrics_.increment("sse_clients_dropped");
    logger_.warn("SSE: dropped a client that fell " +
                 std::to_string(it->second.pending.size() - it->second.offset) +
                 " bytes behind (it may reconnect with Last-Event-ID)");
  }
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  clients_.erase(it);
  --client_count_;
  metrics_.setGauge("sse_clients", static_cast<double>(clients_.size()));
}

}  // namespace gatherd::plugins::sse
