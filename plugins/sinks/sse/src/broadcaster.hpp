#pragma once
// Feeds every SSE stream from the store: live changes serialised once for all clients, and each
// reconnect's replay paged from the store as that client drains its buffer. The core owns the
// sockets (sdk::Stream): their buffers, heartbeats, timeouts and shutdown.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/store.hpp"
#include "sse_events.hpp"

namespace gatherd::plugins::sse {

/// What the sse sink's keys say (their defaults are in sseSchema(), sse_sink.cpp).
struct BroadcasterOptions {
  std::int64_t heartbeat_ms = 0;
  std::int64_t retry_ms = 0;
  std::size_t client_buffer_bytes = 0;  ///< a client further behind is dropped
  std::size_t max_clients = 0;
  int replay_limit = 0;  ///< more missed events than this -> `reset` instead of a replay
};

/// Thread-safe: addClient()/notify() from any thread; start()/stop() from the owner.
class Broadcaster {
 public:
  Broadcaster(BroadcasterOptions options, sdk::Store& store, sdk::Logger& logger,
              sdk::Metrics& metrics, sdk::Clock& clock);
  ~Broadcaster();
  Broadcaster(const Broadcaster&) = delete;
  Broadcaster& operator=(const Broadcaster&) = delete;

  /// Starts the feeding thread (the only one: it also watches the store's sequence). Throws
  /// std::system_error if it cannot be made.
  void start();
  /// Closes every stream and joins the feeding thread. Idempotent.
  void stop();
  /// Accepts `exchange` as a stream (or answers 503 when full or stopped). `last_event_id` is
  /// the client's Last-Event-ID, if it sent one. Called on a server worker thread.
  void addClient(sdk::StreamExchange& exchange, std::optional<std::int64_t> last_event_id);
  /// Something has been, or is about to be, committed: look at the store now, and again shortly
  /// if it does not show yet.
  void notify();
  std::size_t clientCount() const { return client_count_.load(); }
  std::int64_t droppedCount() const { return dropped_.load(); }
  bool running() const { return running_.load(); }

 private:
  /// Wakes the feeding thread. Shared with the stream callbacks, which the core may still call
  /// after this Broadcaster is gone (a stream outlives its sink until the server closes it): they
  /// hold this, never the Broadcaster.
  struct Wakeup {
    std::mutex mutex;
    std::condition_variable cv;
    bool woken = false;
    std::atomic<bool> commit_expected{false};  ///< set by Broadcaster::notify()
    void notify();
  };
  /// Set from the core's threads (stream callbacks), read by the feeding thread.
  struct Signals {
    std::atomic<bool> writable{true};
    std::atomic<bool> closed{false};
  };
  struct Client {
    std::shared_ptr<sdk::Stream> stream;
    std::shared_ptr<Signals> signals;
    std::int64_t cursor = 0;  ///< the last change this client has been sent (replay position)
    bool explicit_id = false;
    bool live = false;     ///< caught up: gets the live broadcast
    std::string pending;   ///< a replay chunk that did not fit yet
    EventBuilder builder;  ///< the replay's own dedup state
    int replayed = 0;
    bool invocations = false;
  };

  void run();
  void acceptNewClients();
  /// Turns the store's changes after cursor_ into live events (called when there are some).
  void pumpChanges();
  /// Continues one client's replay while its buffer has room; returns true if it wants more
  /// turns (it still has work and room).
  bool continueReplay(Client& client);
  void finishReplay(Client& client);
  void sendReset(Client& client, const std::string& reason);
  void broadcast(const std::shared_ptr<const std::string>& text);
  void countDrop(const Client& client);
  void reapClosed();
  std::string statsEvent(std::int64_t id);

  BroadcasterOptions options_;
  sdk::Store& store_;
  sdk::Logger& logger_;
  sdk::Metrics& metrics_;
  sdk::Clock& clock_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> client_count_{0};
  std::atomic<std::int64_t> dropped_{0};
  std::thread loop_thread_;
  std::shared_ptr<Wakeup> wakeup_ = std::make_shared<Wakeup>();
  std::mutex mutex_;  ///< guards new_clients_
  std::vector<Client> new_clients_;
  // Owned by the feeding thread only.
  std::list<Client> clients_;
  std::int64_t cursor_ = 0;
  EventBuilder live_builder_;
};

}  // namespace gatherd::plugins::sse
