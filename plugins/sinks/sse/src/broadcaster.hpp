#pragma once
// One thread serves every SSE stream: detached sockets, non-blocking writes, a bounded buffer per
// client. A second thread only waits on the store for commits.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/store.hpp"
#include "sse_events.hpp"

namespace gatherd::plugins::sse {

struct BroadcasterOptions {
  std::int64_t heartbeat_ms = 15'000;
  std::int64_t retry_ms = 3'000;
  std::size_t client_buffer_bytes = 256 * 1024;  ///< a client further behind is dropped
  std::size_t max_clients = 20'000;
  int replay_limit = 10'000;  ///< more missed events than this -> `reset` instead of a replay
};

/// Thread-safe: addClient()/notify() from any thread; start()/stop() from the owner.
class Broadcaster {
 public:
  Broadcaster(BroadcasterOptions options, sdk::Store& store, sdk::Logger& logger,
              sdk::Metrics& metrics, sdk::Clock& clock);
  ~Broadcaster();
  Broadcaster(const Broadcaster&) = delete;
  Broadcaster& operator=(const Broadcaster&) = delete;

  /// Starts both threads. Throws std::system_error if a thread or the epoll set cannot be made.
  void start();
  /// Closes every stream and joins the threads (within about 200 ms). Idempotent.
  void stop();
  /// Takes ownership of a connected socket whose response head was already sent. `last_event_id`
  /// is the client's Last-Event-ID, if it sent one. Returns false (and closes `fd`) when full or
  /// stopped.
  bool addClient(int fd, std::optional<std::int64_t> last_event_id);
  /// Something may have been committed: look at the store now.
  void notify();
  std::size_t clientCount() const { return client_count_.load(); }
  std::int64_t droppedCount() const { return dropped_.load(); }
  bool running() const { return running_.load(); }

 private:
  struct Client {
    int fd = -1;
    std::string pending;  ///< bytes not yet accepted by the kernel
    std::size_t offset = 0;
    bool want_write = false;
  };
  enum class WriteOutcome { kOk, kTooSlow, kClosed };
  struct NewClient {
    int fd;
    std::int64_t resume_after;  ///< Last-Event-ID, or the latest sequence when it connected
    bool explicit_id;
  };

  void run();
  void watch();
  void acceptNewClients();
  std::string replayText(std::int64_t last_event_id, bool explicit_id);
  void pumpChanges();
  void broadcast(const std::string& text);
  /// Queues `text` for one client and writes what the socket takes now. Beyond the buffer bound
  /// the client is too slow, unless `unbounded` (a replay, which is bounded by replay_limit).
  WriteOutcome enqueue(Client& client, std::string_view text, bool unbounded = false);
  WriteOutcome flush(Client& client);
  void closeClient(int fd, WriteOutcome why);
  void setWriteInterest(Client& client, bool want);
  std::string statsEvent(std::int64_t id);

  BroadcasterOptions options_;
  sdk::Store& store_;
  sdk::Logger& logger_;
  sdk::Metrics& metrics_;
  sdk::Clock& clock_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> client_count_{0};
  std::atomic<std::int64_t> dropped_{0};
  std::thread loop_thread_;
  std::thread watch_thread_;
  std::mutex new_mutex_;
  std::vector<NewClient> new_clients_;
  // Owned by the loop thread only.
  std::unordered_map<int, Client> clients_;
  std::atomic<bool> changes_pending_{true};
  std::int64_t cursor_ = 0;
  EventBuilder live_builder_;
};

}  // namespace gatherd::plugins::sse
