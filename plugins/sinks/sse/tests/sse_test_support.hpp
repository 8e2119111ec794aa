#pragma once
// Test support for the SSE sink: a real SQLite store, batches, an HttpExchange over a socketpair
// and an event-stream reader.

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/streams.hpp"
#include "gatherd/sdk/testing/fake_host.hpp"
#include "gatherd/sdk/testing/temp_dir.hpp"
#include "sqlite_sink.hpp"
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gatherd::plugins::sse::testing {

/// The sqlite sink, opened on a temp file, as the store every SSE test reads.
struct StoreFixture {
  explicit StoreFixture(std::map<std::string, std::string, std::less<>> extra = {})
      : host("db", dir.path().string()) {
    extra["path"] = dir.file("gatherd.db");
    if (!sink.init(sdk::Config("db", extra), host).ok() || !sink.start().ok()) {
      throw std::runtime_error("sqlite sink did not start: " + host.allLogText());
    }
  }
  ~StoreFixture() { sink.stop(); }
  sdk::Store& store() { return *sink.store(); }
  void write(const sdk::Batch& batch) {
    if (sink.write(batch) != sdk::WriteResult::kOk) throw std::runtime_error("sqlite write failed");
  }
  gatherd::sdk::testing::TempDir dir{"gatherd-sse"};
  sdk::testing::FakeHost host;
  plugins::sqlite::SqliteSink sink;
};

inline std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline sdk::Record invocation(const std::string& request_id, std::int64_t time_ms,
                              const std::string& status = "success", std::int64_t tokens = 100,
                              const std::string& raw = {}) {
  namespace f = sdk::streams::invocation;
  sdk::Record record;
  record.stream = sdk::streams::kInvocation;
  const std::string iso = json::formatIsoUtc(time_ms);
  record.key = request_id + "|" + iso;
  record.time_ms = time_ms;
  record.fields = {
      {f::kRequestId, request_id},
      {f::kRequestTime, iso},
      {f::kOccurredAt, iso},
      {f::kModel, std::string("gpt-5-codex")},
      {f::kStatus, status},
      {f::kErrorMessage, std::string(status == "success" ? "" : "upstream 502 after 30s")},
      {f::kInputTokens, tokens},
      {f::kOutputTokens, tokens / 2},
      {f::kTotalTokens, tokens + tokens / 2},
      {f::kCostUsd, 0.01 * static_cast<double>(tokens) / 100.0}};
  record.raw_json = raw;
  return record;
}

inline sdk::Record quota(double used_usd, std::int64_t time_ms) {
  namespace q = sdk::streams::quota;
  sdk::Record record;
  record.stream = sdk::streams::kQuota;
  record.key = "codex";
  record.time_ms = time_ms;
  record.fields = {{q::kService, std::string("codex")},
                   {q::kPlanName, std::string("Pro")},
                   {q::kBillingType, std::string("amount")},
                   {q::kAmountLimitUsd, 100.0},
                   {q::kAmountUsedUsd, used_usd},
                   {q::kAmountRemainingUsd, 100.0 - used_usd}};
  return record;
}

/// What the core adds to a window's batch when the source's state changed (Runtime).
inline sdk::Record sourceStatus(const std::string& source, const std::string& auth_state,
                                std::int64_t failures, const std::string& hint,
                                std::int64_t time_ms) {
  namespace s = sdk::streams::source_status;
  sdk::Record record;
  record.stream = sdk::streams::kSourceStatus;
  record.key = source;
  record.time_ms = time_ms;
  record.fields = {{s::kState, std::string("running")},
                   {s::kStateReason, std::string()},
                   {s::kAuthState, auth_state},
                   {s::kAuthHint, hint},
                   {s::kConsecutiveFailures, failures}};
  return record;
}

inline sdk::Batch batch(const std::string& source, std::int64_t window_ms,
                        std::vector<sdk::Record> records, sdk::AuthState auth = sdk::AuthState::kOk,
                        sdk::Outcome outcome = sdk::Outcome::kOk) {
  sdk::Batch result;
  result.window.source = source;
  result.window.window_ms = window_ms;
  result.window.started_ms = window_ms + 3;
  result.window.finished_ms = window_ms + 250;
  result.window.outcome = outcome;
  result.window.auth_state = auth;
  if (outcome == sdk::Outcome::kAuthError) {
    result.window.message = "the session cookie expired: log in and update XY_SESSION_COOKIE_VALUE";
    result.window.http_status = 401;
  }
  result.window.records_seen = static_cast<std::int64_t>(records.size());
  result.window.records_emitted = result.window.records_seen;
  result.records = std::move(records);
  return result;
}

/// What the core does for a stream, over one end of a socketpair: a bounded buffer that a thread
/// writes out as the test reads the other end, on_writable after a refused write once it drained
/// to half, on_closed when the peer leaves or the stream is dropped. (The real one is the core's
/// HTTP server, tested in tests/core/http.)
class SocketStream final : public sdk::Stream {
 public:
  SocketStream(int fd, sdk::StreamOptions options) : fd_(fd), options_(std::move(options)) {
    thread_ = std::thread([this] { run(); });
  }
  ~SocketStream() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
    ::close(fd_);
  }
  using sdk::Stream::write;
  sdk::StreamWrite write(std::shared_ptr<const std::string> data,
                         sdk::StreamOverflow overflow) override {
    std::lock_guard lock(mutex_);
    if (!open_ || closing_) return sdk::StreamWrite::kClosed;
    if (!pending_.empty() && pending_.size() + data->size() > options_.buffer_bytes) {
      if (overflow == sdk::StreamOverflow::kRefuse) {
        want_writable_ = true;
        return sdk::StreamWrite::kFull;
      }
      open_ = false;
      dropped_ = true;
      ::shutdown(fd_, SHUT_RDWR);
      wake_.notify_all();
      return sdk::StreamWrite::kDropped;
    }
    if (!pending_.empty()) {
      max_buffered_ = std::max(max_buffered_, pending_.size() + data->size());
      pending_ += *data;
    } else {
      // As the core does: what the kernel takes at once is not queued.
      const ssize_t sent = ::send(fd_, data->data(), data->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      pending_.assign(*data, sent > 0 ? static_cast<std::size_t>(sent) : 0);
    }
    wake_.notify_all();
    return sdk::StreamWrite::kQueued;
  }
  std::size_t bufferedBytes() const override {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }
  std::size_t capacityBytes() const override { return options_.buffer_bytes; }
  void close() override {
    std::lock_guard lock(mutex_);
    closing_ = true;
    wake_.notify_all();
  }
  bool isOpen() const override {
    std::lock_guard lock(mutex_);
    return open_ && !closing_;
  }
  const sdk::StreamOptions& options() const { return options_; }
  std::size_t maxBuffered() const {
    std::lock_guard lock(mutex_);
    return max_buffered_;
  }

 private:
  void run() {
    bool notified_closed = false;
    while (true) {
      bool fire_writable = false;
      bool fire_closed = false;
      {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, std::chrono::milliseconds(5));
        if (stop_) return;
        if (open_ && !pending_.empty()) {
          const ssize_t sent =
              ::send(fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          if (sent > 0) {
            pending_.erase(0, static_cast<std::size_t>(sent));
          } else if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            open_ = false;
          }
        }
        if (open_) {
          char scratch[256];
          const ssize_t got = ::recv(fd_, scratch, sizeof(scratch), MSG_DONTWAIT);
          if (got == 0) open_ = false;
        }
        if (closing_ && pending_.empty() && open_) {
          ::shutdown(fd_, SHUT_RDWR);
          open_ = false;
        }
        if (want_writable_ && open_ && pending_.size() <= options_.buffer_bytes / 2) {
          want_writable_ = false;
          fire_writable = true;
        }
        if (!open_ && !notified_closed) fire_closed = notified_closed = true;
      }
      if (fire_writable && options_.on_writable) options_.on_writable();
      if (fire_closed && options_.on_closed) options_.on_closed();
    }
  }

  int fd_;
  sdk::StreamOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::string pending_;
  std::size_t max_buffered_ = 0;
  bool open_ = true;
  bool closing_ = false;
  bool dropped_ = false;
  bool want_writable_ = false;
  bool stop_ = false;
  std::thread thread_;
};

/// A StreamExchange whose accept() serves the stream over a socketpair; the test reads the other
/// end.
class SocketExchange final : public sdk::StreamExchange {
 public:
  explicit SocketExchange(std::optional<std::string> last_event_id = std::nullopt) {
    request_.method = "GET";
    request_.path = "/events";
    if (last_event_id) request_.headers["last-event-id"] = *last_event_id;
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
      throw std::runtime_error("socketpair");
    client_fd_ = fds[0];
    server_fd_ = fds[1];
  }
  ~SocketExchange() override {
    stream_.reset();
    if (client_fd_ >= 0) ::close(client_fd_);
    if (server_fd_ >= 0) ::close(server_fd_);
  }
  const sdk::HttpRequest& request() const override { return request_; }
  void respond(const sdk::HttpResponse& response) override { response_ = response; }
  std::shared_ptr<sdk::Stream> accept(const sdk::HttpResponse& head,
                                      sdk::StreamOptions options) override {
    head_ = head;
    options_ = options;
    const std::string text = "HTTP/1.1 200 OK\r\nContent-Type: " + head.content_type + "\r\n\r\n";
    if (::send(server_fd_, text.data(), text.size(), MSG_NOSIGNAL) < 0) return nullptr;
    stream_ = std::make_shared<SocketStream>(server_fd_, std::move(options));
    server_fd_ = -1;
    if (!head.body.empty() &&
        stream_->write(head.body, sdk::StreamOverflow::kDrop) != sdk::StreamWrite::kQueued) {
      return nullptr;
    }
    return stream_;
  }
  int clientFd() const { return client_fd_; }
  void setQuery(std::string query) { request_.query = std::move(query); }
  void closeClient() {
    ::close(client_fd_);
    client_fd_ = -1;
  }
  const std::optional<sdk::HttpResponse>& response() const { return response_; }
  const std::optional<sdk::HttpResponse>& head() const { return head_; }
  const std::optional<sdk::StreamOptions>& options() const { return options_; }
  SocketStream* stream() const { return stream_.get(); }

 private:
  sdk::HttpRequest request_;
  int client_fd_ = -1;
  int server_fd_ = -1;
  std::optional<sdk::HttpResponse> response_;
  std::optional<sdk::HttpResponse> head_;
  std::optional<sdk::StreamOptions> options_;
  std::shared_ptr<SocketStream> stream_;
};

/// A stream that keeps what it is sent and sends it nowhere: thousands of them cost no
/// descriptors and no threads (SocketStream has both).
class RecordingStream final : public sdk::Stream {
 public:
  using sdk::Stream::write;
  sdk::StreamWrite write(std::shared_ptr<const std::string> data, sdk::StreamOverflow) override {
    std::lock_guard lock(mutex_);
    text_ += *data;
    return sdk::StreamWrite::kQueued;
  }
  std::size_t bufferedBytes() const override { return 0; }
  std::size_t capacityBytes() const override { return 1 << 20; }
  void close() override {}
  bool isOpen() const override { return true; }
  std::string text() const {
    std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  mutable std::mutex mutex_;
  std::string text_;
};

class RecordingExchange final : public sdk::StreamExchange {
 public:
  RecordingExchange() {
    request_.method = "GET";
    request_.path = "/events";
  }
  const sdk::HttpRequest& request() const override { return request_; }
  void respond(const sdk::HttpResponse&) override {}
  std::shared_ptr<sdk::Stream> accept(const sdk::HttpResponse& head, sdk::StreamOptions) override {
    stream_ = std::make_shared<RecordingStream>();
    if (!head.body.empty()) (void)stream_->write(head.body, sdk::StreamOverflow::kDrop);
    return stream_;
  }
  const RecordingStream& stream() const { return *stream_; }

 private:
  sdk::HttpRequest request_;
  std::shared_ptr<RecordingStream> stream_;
};

struct Event {
  std::optional<std::int64_t> id;
  std::string name;
  std::string data;
  std::string comment;
};

/// Parses an event stream read from a socket, with bounded waits.
class EventReader {
 public:
  explicit EventReader(int fd) : fd_(fd) {}

  /// Reads until `predicate(events())` holds, the peer closes, or the timeout passes.
  template <class Predicate>
  bool readUntil(Predicate predicate, int timeout_ms = 10'000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!predicate(events_)) {
      if (!readSome(deadline)) return predicate(events_);
    }
    return true;
  }
  bool readUntilEvent(const std::string& name, int timeout_ms = 10'000) {
    return readUntil(
        [&](const std::vector<Event>& events) {
          for (const auto& event : events) {
            if (event.name == name) return true;
          }
          return false;
        },
        timeout_ms);
  }
  bool readUntilId(std::int64_t id, int timeout_ms = 10'000) {
    return readUntil(
        [&](const std::vector<Event>& events) {
          for (const auto& event : events) {
            if (event.id && *event.id >= id) return true;
          }
          return false;
        },
        timeout_ms);
  }
  /// True when the peer closed within the timeout.
  bool readUntilClosed(int timeout_ms = 10'000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!closed_) {
      if (!readSome(deadline) && !closed_) return false;
    }
    return true;
  }
  const std::vector<Event>& events() const { return events_; }
  std::vector<Event> named(const std::string& name) const {
    std::vector<Event> out;
    for (const auto& event : events_) {
      if (event.name == name) out.push_back(event);
    }
    return out;
  }
  const std::string& rawText() const { return raw_; }
  bool closed() const { return closed_; }

 private:
  bool readSome(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0 || closed_) return false;
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(left)) <= 0) return false;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    raw_.append(buffer, static_cast<std::size_t>(n));
    pending_.append(buffer, static_cast<std::size_t>(n));
    if (!head_done_) {
      const auto end = pending_.find("\r\n\r\n");
      if (end == std::string::npos) return true;
      pending_.erase(0, end + 4);
      head_done_ = true;
    }
    std::size_t end;
    while ((end = pending_.find("\n\n")) != std::string::npos) {
      parseBlock(pending_.substr(0, end));
      pending_.erase(0, end + 2);
    }
    return true;
  }
  void parseBlock(const std::string& block) {
    Event event;
    std::size_t pos = 0;
    while (pos <= block.size()) {
      std::size_t end = block.find('\n', pos);
      if (end == std::string::npos) end = block.size();
      const std::string line = block.substr(pos, end - pos);
      pos = end + 1;
      if (line.rfind(": ", 0) == 0)
        event.comment = line.substr(2);
      else if (line.rfind("id: ", 0) == 0)
        event.id = std::stoll(line.substr(4));
      else if (line.rfind("event: ", 0) == 0)
        event.name = line.substr(7);
      else if (line.rfind("data: ", 0) == 0)
        event.data += (event.data.empty() ? "" : "\n") + line.substr(6);
      else if (line.rfind("retry: ", 0) == 0)
        event.name = "(retry " + line.substr(7) + ")";
    }
    events_.push_back(std::move(event));
  }

  int fd_;
  bool head_done_ = false;
  bool closed_ = false;
  std::string raw_;
  std::string pending_;
  std::vector<Event> events_;
};

}  // namespace gatherd::plugins::sse::testing
