#include "broadcaster.hpp"

#include <algorithm>
#include <chrono>
#include <system_error>

#include "gatherd/lib/api_json/api_json.hpp"
#include "gatherd/lib/json/json_writer.hpp"
#include <pthread.h>

namespace gatherd::plugins::sse {
namespace {

constexpr int kPageSize = 1000;
constexpr int kReplayPageSize = 200;
constexpr std::int64_t kDayMs = 86'400'000;
// With streams open and nothing to do, the feeding thread looks at the store's sequence once a
// second: commits made elsewhere (other collectors writing the same PostgreSQL) show within
// that. Commits of this process show at once, through notify(). Without streams it sleeps until
// woken (a new stream catches up on what it slept through before it is taken in).
constexpr std::chrono::milliseconds kIdleCheck{1'000};
// A batch reaches this sink and the store sink on their own threads: when notify() comes before
// the store has committed it, the thread waits for the store's next commit in steps of 5, 10,
// 20, ... 640 ms (in practice it shows within the first), instead of polling forever.
constexpr std::chrono::milliseconds kFirstCommitWait{5};
constexpr std::chrono::milliseconds kLastCommitWait{640};
// From this many live streams on, a broadcast's writes are shared with a second thread.
constexpr std::size_t kSplitFanOutAt = 2'000;

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
}

void Broadcaster::start() {
  if (running_ || loop_thread_.joinable()) return;  // one run per object
  cursor_ = store_.latestSequence();
  stopping_ = false;
  running_ = true;
  loop_thread_ = std::thread([this] {
    // Named like the core's threads (top -H, /proc/PID/task/*/comm); Linux keeps 15 bytes.
    ::pthread_setname_np(::pthread_self(), "sse-feed");
    run();
  });
}

void Broadcaster::stop() {
  if (!running_.exchange(false)) return;
  stopping_ = true;
  notify();
  if (loop_thread_.joinable()) loop_thread_.join();
  std::vector<Client> waiting;
  {
    std::lock_guard lock(mutex_);
    waiting.swap(new_clients_);
  }
  for (auto& client : waiting) client.stream->close();
  client_count_ = 0;
  metrics_.setGauge("sse_clients", 0);
}

void Broadcaster::addClient(sdk::StreamExchange& exchange,
                            std::optional<std::int64_t> last_event_id) {
  auto refuse = [&](const std::string& message) {
    sdk::HttpResponse response;
    response.status = 503;
    response.headers.emplace_back("Retry-After", "5");
    response.body = "{\"error\":\"" + message + "\"}";
    exchange.respond(response);
  };
  if (!running_ || stopping_) return refuse("the event stream is not running");
  if (client_count_.fetch_add(1) >= options_.max_clients) {
    --client_count_;
    return refuse("too many event streams");
  }
  // A stream without Last-Event-ID starts at what is committed now, not when the loop gets to it.
  const std::int64_t resume_after = last_event_id.value_or(store_.latestSequence());
  auto signals = std::make_shared<Signals>();
  sdk::StreamOptions stream_options;
  stream_options.buffer_bytes = options_.client_buffer_bytes;
  stream_options.heartbeat_ms = options_.heartbeat_ms;
  stream_options.final_text = "event: shutdown\ndata: {\"reason\":\"the server is stopping\"}\n\n";
  stream_options.on_writable = [wakeup = wakeup_, signals] {
    signals->writable = true;
    wakeup->notify();
  };
  stream_options.on_closed = [wakeup = wakeup_, signals] {
    signals->closed = true;
    wakeup->notify();
  };
  sdk::HttpResponse head;
  head.content_type = "text/event-stream; charset=utf-8";
  head.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  head.body = "retry: " + std::to_string(options_.retry_ms) + "\n: connected\n\n";
  if (!last_event_id) {
    // An id-only message sets the browser's Last-Event-ID at once, so a stream that breaks
    // before its first event still resumes from here instead of losing what came between.
    head.body += "id: " + std::to_string(resume_after) + "\n\n";
  }
  auto stream = exchange.accept(head, std::move(stream_options));
  if (!stream) {
    --client_count_;
    return;
  }
  Client client;
  client.stream = std::move(stream);
  client.signals = std::move(signals);
  client.cursor = resume_after;
  client.explicit_id = last_event_id.has_value();
  {
    std::lock_guard lock(mutex_);
    new_clients_.push_back(std::move(client));
  }
  wakeup_->notify();
}

void Broadcaster::Wakeup::notify() {
  {
    std::lock_guard lock(mutex);
    woken = true;
  }
  cv.notify_one();
}

void Broadcaster::notify() {
  wakeup_->commit_expected = true;
  wakeup_->notify();
}

void Broadcaster::run() {
  bool more = false;
  std::chrono::milliseconds commit_wait{0};  // 0: no commit expected, idle checks only
  while (!stopping_) {
    {
      std::unique_lock lock(wakeup_->mutex);
      if (more) {
        // Replays to continue: no wait.
      } else if (clients_.empty()) {
        // Nobody to send to: only a new client, a commit of this process or stop() wakes it.
        wakeup_->cv.wait(lock, [this] { return wakeup_->woken; });
      } else if (commit_wait.count() > 0) {
        // A commit of this process is on its way: the store says the moment it shows, this step
        // at the latest (a wait of our own would add its whole step to every event's latency:
        // the store sink commits a millisecond or two after this sink's write() woke us). What
        // wakes us meanwhile (a new stream, a drained one) is taken up right after.
        lock.unlock();
        store_.waitForChange(cursor_, commit_wait);
        lock.lock();
      } else {
        wakeup_->cv.wait_for(lock, kIdleCheck, [this] { return wakeup_->woken; });
      }
      wakeup_->woken = false;
    }
    if (stopping_) break;
    const bool notified = wakeup_->commit_expected.exchange(false);
    // Read once per turn: whether there is anything to pump, and how far to skip without streams.
    const std::int64_t latest = store_.latestSequence();
    if (latest > cursor_) {
      commit_wait = std::chrono::milliseconds{0};
    } else if (notified) {
      commit_wait = kFirstCommitWait;
    } else if (commit_wait.count() > 0) {
      commit_wait =
          commit_wait * 2 > kLastCommitWait ? std::chrono::milliseconds{0} : commit_wait * 2;
    }
    if (clients_.empty()) {
      // Nobody to send to: what was committed meanwhile is skipped, not turned into events (a
      // stream taken in below replays from its own position). The builder's dedup state goes
      // with it, so the next quota and source events are sent whether or not they changed.
      cursor_ = std::max(cursor_, latest);
      live_builder_ = EventBuilder{};
    } else if (latest > cursor_) {
      pumpChanges();
    }
    acceptNewClients();
    more = false;
    for (auto& client : clients_) {
      if (!client.live && client.signals->writable && !client.signals->closed) {
        more = continueReplay(client) || more;
      }
    }
    reapClosed();
  }
  for (auto& client : clients_) client.stream->close();
  clients_.clear();
}

void Broadcaster::acceptNewClients() {
  std::vector<Client> incoming;
  {
    std::lock_guard lock(mutex_);
    incoming.swap(new_clients_);
  }
  for (auto& client : incoming) {
    if (client.explicit_id && client.cursor > cursor_) {
      // Only an id from another (or a recreated) database can be ahead of the store.
      metrics_.increment("sse_resets");
      sendReset(client, "Last-Event-ID is newer than the store (was it recreated?)");
    } else if (client.cursor >= cursor_) {
      client.cursor = cursor_;
      client.live = true;
    }
    clients_.push_back(std::move(client));
  }
  if (!incoming.empty()) metrics_.setGauge("sse_clients", static_cast<double>(clients_.size()));
}

bool Broadcaster::continueReplay(Client& client) {
  // The chunk size keeps a page well inside the buffer, so kRefuse always fits after a drain.
  const std::size_t chunk_bytes =
      std::clamp<std::size_t>(options_.client_buffer_bytes / 4, 2048, 64 * 1024);
  std::size_t sent_this_turn = 0;
  auto send = [&](std::string& text) {
    client.signals->writable = false;  // before the write: on_writable may fire at once
    const sdk::StreamWrite result = client.stream->write(text, sdk::StreamOverflow::kRefuse);
    if (result == sdk::StreamWrite::kFull) {
      client.pending = std::move(text);
      return false;
    }
    client.signals->writable = true;
    sent_this_turn += text.size();
    text.clear();
    return result == sdk::StreamWrite::kQueued;
  };
  if (!client.pending.empty()) {
    std::string text = std::move(client.pending);
    client.pending.clear();
    if (!send(text)) return false;
  }
  while (client.cursor < cursor_) {
    if (sent_this_turn >= 4 * chunk_bytes) return true;  // let the other clients have a turn
    sdk::ChangeList list;
    const sdk::Status status = store_.changesSince(client.cursor, kReplayPageSize, list);
    if (!status.ok() || list.too_old || list.changes.empty()) {
      if (!status.ok()) logger_.warn("SSE replay: the store failed: " + status.message());
      metrics_.increment("sse_resets");
      sendReset(client, list.too_old ? "the missed events were pruned" : "replay failed");
      return false;
    }
    std::string text;
    bool consumed = false;
    for (const auto& change : list.changes) {
      if (change.sequence > cursor_) break;
      client.replayed += client.builder.add(change, text);
      client.invocations = client.invocations || isInvocation(change);
      client.cursor = change.sequence;
      consumed = true;
      if (text.size() >= chunk_bytes) break;
    }
    if (!consumed) client.cursor = cursor_;  // nothing between its id and the live cursor
    if (client.replayed > options_.replay_limit) {
      metrics_.increment("sse_resets");
      sendReset(client, "too many missed events");
      return false;
    }
    if (!text.empty() && !send(text)) return false;
  }
  finishReplay(client);
  return false;
}

void Broadcaster::finishReplay(Client& client) {
  client.live = true;
  client.cursor = cursor_;
  if (client.explicit_id) metrics_.increment("sse_replayed_events", client.replayed);
  if (client.invocations) {
    const std::string stats = statsEvent(cursor_);
    if (!stats.empty() &&
        client.stream->write(stats, sdk::StreamOverflow::kDrop) == sdk::StreamWrite::kDropped) {
      countDrop(client);
    }
  }
  client.builder = EventBuilder{};
  client.pending.clear();
  client.pending.shrink_to_fit();
}

void Broadcaster::sendReset(Client& client, const std::string& reason) {
  client.live = true;
  client.cursor = cursor_;
  client.pending.clear();
  if (client.stream->write(resetEvent(cursor_, reason), sdk::StreamOverflow::kDrop) ==
      sdk::StreamWrite::kDropped) {
    countDrop(client);
  }
}

void Broadcaster::pumpChanges() {
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
      broadcast(std::make_shared<const std::string>(
          resetEvent(cursor_, "the server fell behind the store")));
      for (auto& client : clients_) {
        if (!client.live) sendReset(client, "the server fell behind the store");
      }
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
    const bool anyone_live = std::any_of(clients_.begin(), clients_.end(),
                                         [](const Client& client) { return client.live; });
    if (anyone_live) {
      if (invocations) text += statsEvent(cursor_);
      broadcast(std::make_shared<const std::string>(std::move(text)));
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

void Broadcaster::broadcast(const std::shared_ptr<const std::string>& text) {
  if (text->empty()) return;
  std::vector<Client*> live;
  live.reserve(clients_.size());
  for (auto& client : clients_) {
    if (client.live && !client.signals->closed) live.push_back(&client);
  }
  // Writes live[first, last); the sizes of the buffers of clients that had to be dropped go to
  // `behind`.
  auto writeRange = [&text, &live](std::size_t first, std::size_t last,
                                   std::vector<std::size_t>& behind) {
    for (std::size_t i = first; i < last; ++i) {
      Client& client = *live[i];
      if (client.stream->write(text, sdk::StreamOverflow::kDrop) == sdk::StreamWrite::kDropped) {
        behind.push_back(client.stream->bufferedBytes());
      }
    }
  };
  // Each write is a send() whose kernel work (the TCP stack, on loopback the receiver's too) is
  // about 10 us: with thousands of streams, a second thread takes half of them, so the last
  // stream has the event about half as late (bench/sse). Below kSplitFanOutAt the whole loop is
  // short and the thread's start would not pay.
  std::vector<std::size_t> behind;
  std::vector<std::size_t> behind_second;
  std::size_t half = live.size();
  std::thread second;
  if (live.size() >= kSplitFanOutAt) {
    try {
      second = std::thread([&writeRange, &behind_second, from = live.size() / 2, to = live.size()] {
        ::pthread_setname_np(::pthread_self(), "sse-fan-out");
        writeRange(from, to, behind_second);
      });
      half = live.size() / 2;
    } catch (const std::system_error&) {
      // No thread to be had (a thread limit): this one writes them all.
    }
  }
  writeRange(0, half, behind);
  if (second.joinable()) second.join();
  behind.insert(behind.end(), behind_second.begin(), behind_second.end());
  if (behind.empty()) return;
  // Gone from the count before the drop is counted, so the two never disagree.
  reapClosed();
  for (const std::size_t bytes : behind) {
    ++dropped_;
    metrics_.increment("sse_clients_dropped");
    logger_.warn("SSE: dropped a client that fell " + std::to_string(bytes) +
                 " bytes behind (it may reconnect with Last-Event-ID)");
  }
}

void Broadcaster::countDrop(const Client& client) {
  ++dropped_;
  metrics_.increment("sse_clients_dropped");
  logger_.warn("SSE: dropped a client that fell " + std::to_string(client.stream->bufferedBytes()) +
               " bytes behind (it may reconnect with Last-Event-ID)");
}

void Broadcaster::reapClosed() {
  const std::size_t before = clients_.size();
  clients_.remove_if([](const Client& client) {
    return client.signals->closed.load() || !client.stream->isOpen();
  });
  const std::size_t removed = before - clients_.size();
  if (removed > 0) {
    client_count_ -= removed;
    metrics_.setGauge("sse_clients", static_cast<double>(clients_.size()));
  }
}

}  // namespace gatherd::plugins::sse
