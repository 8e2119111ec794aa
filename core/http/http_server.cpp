// Over 500 lines: the acceptor, the Beast connection state machine and the core-owned event
// streams share Impl's private state (limits, counters, the live-connection registry); splitting
// them would expose it in a header.
#include "core/http/http_server.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <latch>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include "core/http/api_routes.hpp"
#include "core/http/query_params.hpp"
#include "core/http/static_files.hpp"
#include "core/observe/metrics_registry.hpp"
#include <pthread.h>
#include <sys/random.h>
#include <sys/socket.h>

namespace gatherd::core {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Shown in /proc/PID/task/*/comm, top -H and gdb, so the serving threads can be told apart
// from the rest of the process (Linux keeps 15 bytes).
void nameThread(pthread_t thread, const std::string& name) {
  ::pthread_setname_np(thread, name.substr(0, 15).c_str());
}

std::int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

bool constantTimeEquals(const std::string& given, const std::string& expected) {
  // Runs over the expected length whatever is given, so timing reveals neither content nor length.
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char a = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    difference |= static_cast<unsigned char>(a ^ static_cast<unsigned char>(expected[i]));
  }
  return difference == 0;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

std::string cookieValue(const std::string& header, const std::string& name) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string pair = header.substr(pos, end - pos);
    pos = end + 1;
    const auto first = pair.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    pair.erase(0, first);
    const auto equals = pair.find('=');
    if (equals != std::string::npos && pair.compare(0, equals, name) == 0 &&
        equals == name.size()) {
      return pair.substr(equals + 1);
    }
  }
  return {};
}

/// Route classes for the request counters (gatherd_http_requests{route=...}).
enum class RouteClass { kHealth, kApi, kStatic, kPlugin, kStream, kRejected, kCount };
constexpr const char* kRouteClassNames[] = {"health", "api",    "static",
                                            "plugin", "stream", "rejected"};
constexpr int kStatusClasses = 5;  // 1xx..5xx

struct PluginRoute {
  std::string path;
  sdk::RouteHandler handler;
  sdk::StreamRouteHandler stream_handler;
  std::string token;  // accepted besides the API token; when set, a token is always needed
};

/// A once-per-minute log line for events that can come by the thousand.
class ThrottledLog {
 public:
  /// Counts one event; returns how many happened since the last line when a line is due, else 0.
  std::int64_t count() {
    ++pending_;
    const std::int64_t now = steadyMs();
    std::int64_t last = last_ms_.load();
    if (now - last < 60'000 && last != 0) return 0;
    if (!last_ms_.compare_exchange_strong(last, now)) return 0;
    return pending_.exchange(0);
  }

 private:
  std::atomic<std::int64_t> pending_{0};
  std::atomic<std::int64_t> last_ms_{0};
};

bool isLoopbackName(std::string_view host) {
  return host == "localhost" || host == "127.0.0.1" || host == "[::1]";
}

/// The host part of a Host header value ("example.org:8080" -> "example.org", "[::1]:80" ->
/// "[::1]").
std::string hostWithoutPort(std::string_view value) {
  std::string host = lower(value);
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    return close == std::string::npos ? host : host.substr(0, close + 1);
  }
  const auto colon = host.find(':');
  if (colon != std::string::npos) host.erase(colon);
  if (!host.empty() && host.back() == '.') host.pop_back();
  return host;
}

constexpr const char* kSecurityCsp =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
    "data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

}  // namespace

class Connection;
class StreamImpl;

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(HttpServerOptions opts, SourceStatusRegistry& sources,
       std::function<sdk::Store*()> store_provider)
      : options(std::move(opts)), api(sources, std::move(store_provider)), files(options.web_root) {
    for (auto& host : options.hosts) host = hostWithoutPort(host);
    api.setAlertsProvider(options.alerts_json);
  }

  const PluginRoute* findRoute(const std::string& path) const;
  bool hostAllowed(std::string_view host_header) const;
  enum class Auth { kOk, kMissing, kBadToken, kBlocked };
  Auth authorize(const sdk::HttpRequest& request);
  /// A plugin route with its own token accepts it (bearer) besides the API's credentials.
  Auth authorizeRoute(const PluginRoute& route, const sdk::HttpRequest& request);
  sdk::HttpResponse login(const sdk::HttpRequest& request);
  sdk::HttpResponse logout(const sdk::HttpRequest& request);
  /// The client's address for the failed-login limit (the proxy's X-Forwarded-For if trusted).
  std::string clientKey(const sdk::HttpRequest& request) const;
  bool viaTls(const sdk::HttpRequest& request) const;
  /// Seconds until `key` may try again, or 0.
  std::int64_t blockedFor(const std::string& key);
  void recordFailure(const std::string& key, const char* what);
  sdk::HttpResponse tooManyFailures(std::int64_t seconds) const;
  void addCors(const sdk::HttpRequest& request,
               std::vector<std::pair<std::string, std::string>>& headers) const;

  void doAccept();
  void onAccept(const boost::system::error_code& error, tcp::socket socket);
  void refuse(tcp::socket& socket);
  void countRequest(RouteClass route, int status) {
    const int status_class = std::clamp(status / 100, 1, 5) - 1;
    requests[static_cast<int>(route)][status_class].fetch_add(1, std::memory_order_relaxed);
  }
  void increment(std::atomic<std::int64_t>& counter) {
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  void describeMetrics();
  void publishMetrics();
  /// Has the registry call publishMetrics() whenever it is read (a scrape, the core's
  /// telemetry): no timer wakes an idle process for it.
  void publishOnRead();
  void registerConnection(std::uint64_t id, const std::shared_ptr<Connection>& connection);
  void unregisterConnection(std::uint64_t id);

  HttpServerOptions options;
  ApiRoutes api;
  StaticFiles files;
  std::vector<PluginRoute> routes;
  struct Failures {
    int count = 0;
    std::int64_t window_start_ms = 0;
    std::int64_t blocked_until_ms = 0;
  };
  std::mutex auth_mutex;
  std::unordered_map<std::string, std::int64_t> sessions;  ///< id -> expiry (steady ms)
  std::unordered_map<std::string, Failures> failures;      ///< by client address
  bool bound_to_loopback = true;
  std::atomic<bool> stopping{false};
  std::uint16_t port = 0;
  bool started = false;
  bool stopped = false;

  // Counters, published to the MetricsRegistry when it is read (and at stop).
  std::atomic<std::int64_t> requests[static_cast<int>(RouteClass::kCount)][kStatusClasses] = {};
  std::atomic<std::int64_t> refused{0}, fd_exhausted{0}, header_timeouts{0}, body_timeouts{0},
      keepalive_timeouts{0}, streams_dropped{0};
  std::int64_t published_requests[static_cast<int>(RouteClass::kCount)][kStatusClasses] = {};
  std::int64_t published_refused = 0, published_fd_exhausted = 0, published_header_timeouts = 0,
               published_body_timeouts = 0, published_keepalive_timeouts = 0,
               published_streams_dropped = 0;
  std::mutex publish_mutex;
  std::atomic<std::int64_t> connections{0};
  std::atomic<std::int64_t> streams{0};
  ThrottledLog refused_log;
  ThrottledLog fd_log;
  std::int64_t accept_backoff_ms = 0;

  std::mutex registry_mutex;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> live;
  std::atomic<std::uint64_t> next_id{1};

  // Declared last: destroyed first, so pending handlers (which hold connections that refer to
  // this object) go before the members they use.
  std::unique_ptr<asio::thread_pool> workers;
  /// One per I/O thread, each run by that thread alone: a connection lives on one of them (its
  /// handlers are serialised without a strand), and the threads share no epoll set, scheduler
  /// lock or queue (with one shared io_context, 16 busy keep-alive connections spent much of
  /// their time on that lock and in wake-ups). ios[0] also runs the acceptor and the timers.
  std::vector<std::unique_ptr<asio::io_context>> ios;
  /// Keeps each context's run() going while it has no connection yet.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> io_guards;
  std::size_t next_io = 0;  ///< the context the next accepted connection goes to (acceptor only)
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_timer;
  std::vector<std::thread> threads;
};

using Impl = HttpServer::Impl;

/// The socket side of one sdk::Stream: a bounded queue of shared buffers that the connection
/// writes out. Thread-safe.
class StreamImpl final : public sdk::Stream {
 public:
  StreamImpl(std::weak_ptr<Connection> connection, int fd, sdk::StreamOptions options)
      : connection_(std::move(connection)), fd_(fd), options_(std::move(options)) {}

  using sdk::Stream::write;
  sdk::StreamWrite write(std::shared_ptr<const std::string> data,
                         sdk::StreamOverflow overflow) override;
  std::size_t bufferedBytes() const override {
    std::lock_guard lock(mutex_);
    return queued_;
  }
  std::size_t capacityBytes() const override { return options_.buffer_bytes; }
  void close() override;
  bool isOpen() const override {
    std::lock_guard lock(mutex_);
    return open_ && !closing_;
  }

  // Connection side (on its I/O thread).
  /// Queues without the capacity check (the head, the final text).
  void queueUnbounded(std::shared_ptr<const std::string> data);
  /// Moves what is queued into `out` (marks the stream as writing); false when nothing is queued.
  bool takeBatch(std::vector<std::shared_ptr<const std::string>>& out);
  /// The batch was written; returns true when on_writable should fire.
  bool written(std::size_t bytes);
  bool closeRequested() const {
    std::lock_guard lock(mutex_);
    return closing_;
  }
  bool idle() const {
    std::lock_guard lock(mutex_);
    return queued_ == 0;
  }
  /// Marks the stream closed; returns true the first time (the caller fires on_closed).
  bool markClosed() {
    std::lock_guard lock(mutex_);
    const bool first = !closed_notified_;
    open_ = false;
    closed_notified_ = true;
    return first;
  }
  const sdk::StreamOptions& options() const { return options_; }

 private:
  void wake();

  std::weak_ptr<Connection> connection_;
  int fd_;  ///< the connection's socket; open while open_ is true (closing takes mutex_ first)
  sdk::StreamOptions options_;
  mutable std::mutex mutex_;
  // A list, not a deque: most writes go straight to the socket, so the queue is mostly empty,
  // and an empty list allocates nothing (a deque takes about 600 bytes a stream up front).
  std::list<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_ = 0;  ///< queue_ plus what is being written
  bool open_ = true;
  bool closing_ = false;
  bool writing_ = false;
  bool want_writable_ = false;
  bool closed_notified_ = false;

 public:
  /// When a write last went straight to the kernel (for the heartbeat's idle check).
  std::atomic<std::int64_t> last_direct_ms_{0};
};

class Connection final : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Impl> impl, tcp::socket socket, std::uint64_t id)
      : impl_(std::move(impl)),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        id_(id) {
    boost::system::error_code error;
    const auto remote = socket_.remote_endpoint(error);
    if (!error) {
      client_address_ = remote.address().is_v6() ? "[" + remote.address().to_string() + "]"
                                                 : remote.address().to_string();
      client_address_ += ":" + std::to_string(remote.port());
    }
    socket_.set_option(tcp::no_delay(true), error);
  }
  ~Connection() {
    if (stream_ && stream_->markClosed() && stream_->options().on_closed) {
      try {
        stream_->options().on_closed();
      } catch (...) {
      }
    }
    impl_->connections.fetch_sub(1);
    if (stream_) impl_->streams.fetch_sub(1);
    impl_->unregisterConnection(id_);
  }

  /// From the acceptor: starts serving on the connection's I/O thread.
  void begin() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->armTimer(self->impl_->options.header_timeout_ms, Timeout::kHeader);
      self->waitForRequest();
    });
  }
  /// From any thread: the server stops.
  void shutdown() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->onShutdown(); });
  }
  /// From any thread: the stream has bytes queued (or wants to close).
  void wakeStream() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->pumpStream(); });
  }
  std::shared_ptr<sdk::Stream> acceptStream(const sdk::HttpResponse& head,
                                            sdk::StreamOptions options);

 private:
  enum class Phase { kIdle, kReading, kHandling, kWriting, kStream, kClosed };
  enum class Timeout { kHeader, kBody, kKeepAlive, kWrite, kHeartbeat, kFinal };

  void armTimer(std::int64_t ms, Timeout kind) {
    timeout_kind_ = kind;
    timer_.expires_after(std::chrono::milliseconds(ms));
    timer_.async_wait([self = shared_from_this(),
                       generation = ++timer_generation_](const boost::system::error_code& error) {
      if (error || generation != self->timer_generation_) return;
      self->onTimer();
    });
  }
  void disarmTimer() {
    ++timer_generation_;
    timer_.cancel();
  }

  void onTimer() {
    switch (timeout_kind_) {
      case Timeout::kHeader: impl_->increment(impl_->header_timeouts); break;
      case Timeout::kBody: impl_->increment(impl_->body_timeouts); break;
      case Timeout::kKeepAlive: impl_->increment(impl_->keepalive_timeouts); break;
      case Timeout::kHeartbeat: return onHeartbeat();
      case Timeout::kWrite:
      case Timeout::kFinal: break;
    }
    closeSocket();
  }

  void waitForRequest() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kIdle;
    if (impl_->stopping.load()) return closeSocket();
    if (buffer_.size() > 0) {
      // A pipelined request is already here.
      if (!first_request_) armTimer(impl_->options.header_timeout_ms, Timeout::kHeader);
      return readHeader();
    }
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](const boost::system::error_code& error) {
                         if (error) return self->closeSocket();
                         if (self->phase_ != Phase::kIdle) return;
                         if (!self->first_request_) {
                           self->armTimer(self->impl_->options.header_timeout_ms, Timeout::kHeader);
                         }
                         self->readHeader();
                       });
  }

  void readHeader() {
    phase_ = Phase::kReading;
    parser_.emplace();
    const auto& options = impl_->options;
    parser_->header_limit(
        static_cast<std::uint32_t>(options.max_uri_bytes + options.max_header_bytes + 64));
    parser_->body_limit(options.max_body_bytes);
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](const boost::system::error_code& error,
                                                        std::size_t) { self->onHeader(error); });
  }

  void onHeader(const boost::system::error_code& error) {
    if (phase_ == Phase::kClosed) return;
    if (error) return onReadError(error);
    const auto& options = impl_->options;
    const auto& header = parser_->get();
    if (header.target().size() > options.max_uri_bytes) {
      return sendError(
          414, "request target longer than " + std::to_string(options.max_uri_bytes) + " bytes");
    }
    std::size_t fields = 0;
    std::size_t bytes = 0;
    for (const auto& field : header) {
      ++fields;
      bytes += field.name_string().size() + field.value().size() + 4;
    }
    if (fields > options.max_headers || bytes > options.max_header_bytes) {
      return sendError(431, "request header fields too large");
    }
    if (!parser_->is_done()) {
      armTimer(options.body_timeout_ms, Timeout::kBody);
      const auto expect = header[http::field::expect];
      if (!expect.empty() && lower(expect) == "100-continue") {
        static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        asio::async_write(
            socket_, asio::buffer(kContinue),
            [self = shared_from_this()](const boost::system::error_code& error, std::size_t) {
              if (error) return self->closeSocket();
              self->readBody();
            });
        return;
      }
      return readBody();
    }
    handleRequest();
  }

  void readBody() {
    http::async_read(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](const boost::system::error_code& error, std::size_t) {
          if (self->phase_ == Phase::kClosed) return;
          if (error) return self->onReadError(error);
          self->handleRequest();
        });
  }

  void onReadError(const boost::system::error_code& error) {
    if (error == http::error::body_limit) return sendError(413, "request body too large");
    if (error == http::error::header_limit) {
      // Beast counts the request line in the header limit: tell a long URI from long headers.
      const auto data = buffer_.data();
      const std::string_view text(static_cast<const char*>(data.data()), data.size());
      const auto line_end = text.find("\r\n");
      if (line_end == std::string_view::npos || line_end > impl_->options.max_uri_bytes + 16) {
        return sendError(414, "request target too long");
      }
      return sendError(431, "request header fields too large");
    }
    if (error == http::error::end_of_stream || error == asio::error::eof ||
        error == asio::error::operation_aborted || error == asio::error::bad_descriptor ||
        error == asio::error::connection_reset) {
      return closeSocket();
    }
    if (std::string_view(error.category().name()) == "beast.http") {
      return sendError(400, "malformed request: " + error.message());
    }
    closeSocket();
  }

  void handleRequest();
  void respond(RouteClass route, sdk::HttpResponse response, bool head_only);
  void sendError(int status, const std::string& message) {
    keep_alive_ = false;
    request_.method.clear();
    respond(RouteClass::kRejected, jsonError(status, message), false);
  }
  void onWritten(const boost::system::error_code& error) {
    response_.reset();
    if (error) return closeSocket();
    if (!keep_alive_ || impl_->stopping.load()) {
      boost::system::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
      // Give the client a moment to read the answer before the descriptor goes.
      armTimer(1'000, Timeout::kFinal);
      drainThenClose();
      return;
    }
    first_request_ = false;
    armTimer(impl_->options.keepalive_timeout_ms, Timeout::kKeepAlive);
    waitForRequest();
  }
  void drainThenClose() {
    drain_.resize(4096);
    socket_.async_read_some(
        asio::buffer(drain_),
        [self = shared_from_this()](const boost::system::error_code& error, std::size_t) {
          if (error) return self->closeSocket();
          self->drainThenClose();
        });
  }

  void onShutdown() {
    switch (phase_) {
      case Phase::kIdle:
      case Phase::kReading: return closeSocket();
      case Phase::kHandling:
      case Phase::kWriting: keep_alive_ = false; return;
      case Phase::kStream:
        if (stream_) {
          if (!stream_->options().final_text.empty()) {
            stream_->queueUnbounded(
                std::make_shared<const std::string>(stream_->options().final_text));
          }
          stream_->close();
          armTimer(1'000, Timeout::kFinal);
          pumpStream();
        }
        return;
      case Phase::kClosed: return;
    }
  }

  void startStream();
  void pumpStream();
  void readStream();
  void onHeartbeat();

  void closeSocket() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    disarmTimer();
    // Before the descriptor goes: no write() may send on it (or on a reused number) after this.
    const bool notify = stream_ && stream_->markClosed();
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    if (notify && stream_->options().on_closed) {
      try {
        stream_->options().on_closed();
      } catch (...) {
        spdlog::warn("http server: a stream's on_closed callback threw");
      }
    }
  }

  std::shared_ptr<Impl> impl_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::uint64_t id_;
  std::string client_address_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::string_body>> response_;
  sdk::HttpRequest request_;
  Phase phase_ = Phase::kIdle;
  Timeout timeout_kind_ = Timeout::kHeader;
  std::uint64_t timer_generation_ = 0;
  bool first_request_ = true;
  bool keep_alive_ = true;
  std::string drain_;
  // Streams
  std::shared_ptr<StreamImpl> stream_;
  std::shared_ptr<StreamImpl> pending_stream_;  ///< accepted by a worker, not yet started here
  std::vector<std::shared_ptr<const std::string>> batch_;
  std::vector<asio::const_buffer> batch_buffers_;
  bool stream_writing_ = false;
  std::int64_t last_send_ms_ = 0;
  std::int64_t write_started_ms_ = 0;
  char read_scratch_[64];  ///< a stream's client says nothing: reads only tell when it leaves
};

// ---------------------------------------------------------------------------------------------
// StreamImpl

sdk::StreamWrite StreamImpl::write(std::shared_ptr<const std::string> data,
                                   sdk::StreamOverflow overflow) {
  if (!data || data->empty())
    return isOpen() ? sdk::StreamWrite::kQueued : sdk::StreamWrite::kClosed;
  bool drop = false;
  {
    std::lock_guard lock(mutex_);
    if (!open_ || closing_) return sdk::StreamWrite::kClosed;
    // An empty buffer takes any write: the client is not behind, it only gets a big event.
    if (queued_ > 0 && queued_ + data->size() > options_.buffer_bytes) {
      if (overflow == sdk::StreamOverflow::kRefuse) {
        want_writable_ = true;
        return sdk::StreamWrite::kFull;
      }
      open_ = false;
      drop = true;
    } else if (queue_.empty() && !writing_) {
      // Nothing in flight: hand it to the kernel right here (as a blocking-free send), and queue
      // only what it did not take. The buffer bound then counts bytes the client has not read
      // into its socket, and a broadcast to thousands of streams costs no hop per stream.
      const ssize_t sent = ::send(fd_, data->data(), data->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      const std::size_t taken = sent > 0 ? static_cast<std::size_t>(sent) : 0;
      if (taken == data->size()) {
        last_direct_ms_ = steadyMs();
        return sdk::StreamWrite::kQueued;
      }
      if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        // The connection is failing: its read side notices and closes the stream.
        return sdk::StreamWrite::kQueued;
      }
      auto rest =
          taken == 0 ? std::move(data) : std::make_shared<const std::string>(data->substr(taken));
      queued_ += rest->size();
      queue_.push_back(std::move(rest));
    } else {
      queued_ += data->size();
      queue_.push_back(std::move(data));
    }
  }
  if (drop) {
    // The connection closes the socket and fires on_closed on its I/O thread.
    if (auto connection = connection_.lock()) connection->wakeStream();
    return sdk::StreamWrite::kDropped;
  }
  wake();
  return sdk::StreamWrite::kQueued;
}

void StreamImpl::close() {
  {
    std::lock_guard lock(mutex_);
    if (closing_ || !open_) return;
    closing_ = true;
  }
  wake();
}

void StreamImpl::queueUnbounded(std::shared_ptr<const std::string> data) {
  std::lock_guard lock(mutex_);
  if (!open_) return;
  queued_ += data->size();
  queue_.push_back(std::move(data));
}

bool StreamImpl::takeBatch(std::vector<std::shared_ptr<const std::string>>& out) {
  std::lock_guard lock(mutex_);
  if (queue_.empty()) {
    writing_ = false;
    return false;
  }
  // Bounded batches keep one slow gather-write from holding every buffer.
  std::size_t bytes = 0;
  while (!queue_.empty() && out.size() < 64 && bytes < 256 * 1024) {
    bytes += queue_.front()->size();
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  writing_ = true;
  return true;
}

bool StreamImpl::written(std::size_t bytes) {
  std::lock_guard lock(mutex_);
  queued_ -= std::min(bytes, queued_);
  if (want_writable_ && queued_ <= options_.buffer_bytes / 2) {
    want_writable_ = false;
    return open_ && !closing_;
  }
  return false;
}

void StreamImpl::wake() {
  {
    std::lock_guard lock(mutex_);
    if (writing_) return;  // the write loop picks it up when its write completes
    writing_ = true;
  }
  if (auto connection = connection_.lock()) connection->wakeStream();
}

// ---------------------------------------------------------------------------------------------
// Connection: requests

namespace {

class BufferedExchange final : public sdk::HttpExchange {
 public:
  explicit BufferedExchange(const sdk::HttpRequest& request) : request_(request) {}
  const sdk::HttpRequest& request() const override { return request_; }
  void respond(const sdk::HttpResponse& response) override {
    if (!response_) response_ = response;
  }
  std::optional<sdk::HttpResponse>& response() { return response_; }

 private:
  const sdk::HttpRequest& request_;
  std::optional<sdk::HttpResponse> response_;
};

class StreamStart final : public sdk::StreamExchange {
 public:
  StreamStart(const sdk::HttpRequest& request, std::shared_ptr<Connection> connection)
      : request_(request), connection_(std::move(connection)) {}
  const sdk::HttpRequest& request() const override { return request_; }
  void respond(const sdk::HttpResponse& response) override {
    if (!response_ && !stream_) response_ = response;
  }
  std::shared_ptr<sdk::Stream> accept(const sdk::HttpResponse& head,
                                      sdk::StreamOptions options) override {
    if (response_ || stream_) return nullptr;
    options.buffer_bytes = std::max<std::size_t>(options.buffer_bytes, 4096);
    stream_ = connection_->acceptStream(head, std::move(options));
    return stream_;
  }
  std::optional<sdk::HttpResponse>& response() { return response_; }
  bool accepted() const { return stream_ != nullptr; }

 private:
  const sdk::HttpRequest& request_;
  std::shared_ptr<Connection> connection_;
  std::optional<sdk::HttpResponse> response_;
  std::shared_ptr<sdk::Stream> stream_;
};

}  // namespace

std::shared_ptr<sdk::Stream> Connection::acceptStream(const sdk::HttpResponse& head,
                                                      sdk::StreamOptions options) {
  auto stream =
      std::make_shared<StreamImpl>(weak_from_this(), socket_.native_handle(), std::move(options));
  std::string text = "HTTP/1.1 " + std::to_string(head.status) + " " +
                     std::string(http::obsolete_reason(static_cast<http::status>(head.status))) +
                     "\r\nContent-Type: " + head.content_type +
                     "\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n";
  for (const auto& [name, value] : head.headers)
    text.append(name).append(": ").append(value).append("\r\n");
  text.append("\r\n").append(head.body);
  stream->queueUnbounded(std::make_shared<const std::string>(std::move(text)));
  pending_stream_ = stream;  // read by startStream() on the I/O thread, after the handler returned
  return stream;
}

void Connection::handleRequest() {
  phase_ = Phase::kHandling;
  disarmTimer();
  auto message = parser_->release();
  parser_.reset();
  keep_alive_ = message.keep_alive();
  request_ = sdk::HttpRequest{};
  request_.method = std::string(message.method_string());
  const std::string_view target = message.target();
  const auto question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);
  request_.query =
      question == std::string_view::npos ? std::string() : std::string(target.substr(question + 1));
  for (const auto& field : message)
    request_.headers[lower(field.name_string())] = std::string(field.value());
  request_.body = std::move(message.body());
  request_.client_address = client_address_;
  const bool head_only = request_.method == "HEAD";

  const auto host = request_.headers.find("host");
  if (host == request_.headers.end() ? message.version() >= 11
                                     : !impl_->hostAllowed(host->second)) {
    keep_alive_ = false;
    return respond(
        RouteClass::kRejected,
        jsonError(host == request_.headers.end() ? 400 : 421,
                  host == request_.headers.end()
                      ? "a Host header is required"
                      : "this server does not answer for that Host (add it to [http] hosts)"),
        false);
  }
  auto decoded =
      raw_path.empty() || raw_path[0] != '/' ? std::nullopt : percentDecode(raw_path, false);
  if (!decoded) {
    keep_alive_ = false;
    return respond(RouteClass::kRejected, jsonError(400, "malformed request path", "path"), false);
  }
  request_.path = std::move(*decoded);
  if (impl_->stopping.load()) {
    keep_alive_ = false;
    return respond(RouteClass::kRejected, jsonError(503, "shutting down"), false);
  }

  std::vector<std::pair<std::string, std::string>> cors;
  impl_->addCors(request_, cors);
  if (request_.method == "OPTIONS" && request_.headers.count("origin") && !cors.empty()) {
    sdk::HttpResponse preflight{204, "text/plain", cors, {}};
    preflight.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    preflight.headers.emplace_back("Access-Control-Allow-Headers",
                                   "Authorization, Content-Type, Last-Event-ID");
    preflight.headers.emplace_back("Access-Control-Max-Age", "600");
    return respond(RouteClass::kApi, std::move(preflight), false);
  }
  auto withCors = [cors](sdk::HttpResponse response) {
    response.headers.insert(response.headers.end(), cors.begin(), cors.end());
    return response;
  };
  if (request_.path == "/health") {
    return respond(RouteClass::kHealth, withCors(impl_->api.handle(request_)), head_only);
  }
  if (request_.path == "/api/login") {
    return respond(RouteClass::kApi, withCors(impl_->login(request_)), false);
  }
  if (request_.path == "/api/logout") {
    return respond(RouteClass::kApi, withCors(impl_->logout(request_)), false);
  }
  const PluginRoute* route = impl_->findRoute(request_.path);
  const bool is_api = request_.path == "/api" || request_.path.rfind("/api/", 0) == 0;
  const RouteClass route_class = route == nullptr        ? RouteClass::kApi
                                 : route->stream_handler ? RouteClass::kStream
                                                         : RouteClass::kPlugin;
  if (is_api || route != nullptr) {
    const Impl::Auth auth =
        route != nullptr ? impl_->authorizeRoute(*route, request_) : impl_->authorize(request_);
    if (auth == Impl::Auth::kBlocked) {
      return respond(
          route_class,
          withCors(impl_->tooManyFailures(impl_->blockedFor(impl_->clientKey(request_)))),
          head_only);
    }
    if (auth != Impl::Auth::kOk) {
      auto answer = jsonError(401, "missing or invalid token (send Authorization: Bearer <token>)");
      answer.headers.emplace_back("WWW-Authenticate", "Bearer");
      return respond(route_class, withCors(std::move(answer)), head_only);
    }
  }
  if (route == nullptr && !is_api && request_.path != "/ready") {
    if (request_.method != "GET" && request_.method != "HEAD") {
      return respond(RouteClass::kStatic, jsonError(405, "method not allowed"), false);
    }
    const auto encoding = request_.headers.find("accept-encoding");
    const bool accepts_gzip =
        encoding != request_.headers.end() && encoding->second.find("gzip") != std::string::npos;
    auto answer = impl_->files.serve(request_.path, accepts_gzip);
    answer.headers.emplace_back("Content-Security-Policy", kSecurityCsp);
    answer.headers.emplace_back("X-Frame-Options", "DENY");
    answer.headers.emplace_back("Referrer-Policy", "no-referrer");
    return respond(RouteClass::kStatic, std::move(answer), head_only);
  }
  // A cached answer needs no store query: it leaves from this thread, without the two hand-offs
  // (and thread wake-ups) a trip through the worker pool costs.
  if (route == nullptr && is_api) {
    if (auto cached = impl_->api.cachedAnswer(request_)) {
      return respond(route_class, withCors(std::move(*cached)), head_only);
    }
  }
  // API and plugin handlers may block on the store: they run on the worker pool, so the I/O
  // threads keep serving every other connection (and /health) meanwhile.
  asio::post(*impl_->workers, [self = shared_from_this(), route, is_api, route_class, head_only,
                               withCors] {
    if (route != nullptr && route->stream_handler) {
      StreamStart start(self->request_, self);
      try {
        route->stream_handler(start);
      } catch (const std::exception& error) {
        spdlog::warn("http server: stream route {} threw: {}", route->path, error.what());
      } catch (...) {
        spdlog::warn("http server: stream route {} threw an unknown exception", route->path);
      }
      asio::post(self->socket_.get_executor(), [self, accepted = start.accepted(),
                                                response = std::move(start.response()), withCors] {
        if (accepted) return self->startStream();
        self->respond(RouteClass::kStream,
                      withCors(response ? *response : jsonError(500, "internal error")), false);
      });
      return;
    }
    sdk::HttpResponse answer;
    if (route != nullptr) {
      BufferedExchange exchange(self->request_);
      try {
        route->handler(exchange);
      } catch (const std::exception& error) {
        spdlog::warn("http server: route {} threw: {}", route->path, error.what());
      } catch (...) {
        spdlog::warn("http server: route {} threw an unknown exception", route->path);
      }
      answer =
          exchange.response() ? std::move(*exchange.response()) : jsonError(500, "internal error");
    } else if (!is_api || ApiRoutes::isCoreRoute(self->request_.path)) {
      answer = self->impl_->api.handle(self->request_);
    } else {
      answer = jsonError(404, "no such route: " + self->request_.path);
    }
    asio::post(self->socket_.get_executor(),
               [self, route_class, head_only, answer = withCors(std::move(answer))]() mutable {
                 self->respond(route_class, std::move(answer), head_only);
               });
  });
}

void Connection::respond(RouteClass route, sdk::HttpResponse answer, bool head_only) {
  if (phase_ == Phase::kClosed) return;
  impl_->countRequest(route, answer.status);
  phase_ = Phase::kWriting;
  if (impl_->stopping.load()) keep_alive_ = false;
  auto response = std::make_shared<http::response<http::string_body>>();
  response->result(static_cast<unsigned>(answer.status));
  response->version(11);
  response->set(http::field::content_type, answer.content_type);
  response->set("X-Content-Type-Options", "nosniff");
  for (const auto& [name, value] : answer.headers) response->insert(name, value);
  response->content_length(answer.body.size());
  if (!head_only) response->body() = std::move(answer.body);
  response->keep_alive(keep_alive_);
  response_ = response;
  armTimer(impl_->options.body_timeout_ms, Timeout::kWrite);
  http::async_write(
      socket_, *response_,
      [self = shared_from_this()](const boost::system::error_code& error, std::size_t) {
        if (self->phase_ == Phase::kClosed) return;
        self->onWritten(error);
      });
}

// ---------------------------------------------------------------------------------------------
// Connection: streams

void Connection::startStream() {
  stream_ = std::move(pending_stream_);
  if (!stream_) return closeSocket();
  phase_ = Phase::kStream;
  // A stream lives for hours and reads nothing more: the request's copied headers and the read
  // buffer go now (about 1 KB a stream, 10 MB for 10,000 of them).
  request_ = sdk::HttpRequest{};
  buffer_.clear();
  buffer_.shrink_to_fit();
  impl_->countRequest(RouteClass::kStream, 200);
  impl_->streams.fetch_add(1);
  last_send_ms_ = steadyMs();
  if (impl_->stopping.load()) onShutdown();
  pumpStream();
  readStream();
  if (stream_->options().heartbeat_ms > 0)
    armTimer(stream_->options().heartbeat_ms, Timeout::kHeartbeat);
}

void Connection::pumpStream() {
  if (phase_ == Phase::kClosed || !stream_ || stream_writing_) return;
  if (!stream_->isOpen() && !stream_->closeRequested()) {
    // Dropped by a write that did not fit.
    impl_->increment(impl_->streams_dropped);
    return closeSocket();
  }
  batch_.clear();
  if (!stream_->takeBatch(batch_)) {
    if (stream_->closeRequested()) {
      boost::system::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
      closeSocket();
    }
    return;
  }
  batch_buffers_.clear();
  for (const auto& piece : batch_) batch_buffers_.emplace_back(asio::buffer(*piece));
  stream_writing_ = true;
  write_started_ms_ = steadyMs();
  asio::async_write(
      socket_, batch_buffers_,
      [self = shared_from_this()](const boost::system::error_code& error, std::size_t bytes) {
        self->stream_writing_ = false;
        if (self->phase_ == Phase::kClosed) return;
        if (error) return self->closeSocket();
        self->last_send_ms_ = steadyMs();
        self->batch_.clear();
        if (self->stream_->written(bytes) && self->stream_->options().on_writable) {
          try {
            self->stream_->options().on_writable();
          } catch (...) {
            spdlog::warn("http server: a stream's on_writable callback threw");
          }
        }
        self->pumpStream();
      });
}

void Connection::readStream() {
  // Clients have nothing to say on a stream: reading only tells when they leave.
  socket_.async_read_some(
      asio::buffer(read_scratch_),
      [self = shared_from_this()](const boost::system::error_code& error, std::size_t) {
        if (self->phase_ == Phase::kClosed) return;
        if (error) return self->closeSocket();
        self->readStream();
      });
}

void Connection::onHeartbeat() {
  if (phase_ != Phase::kStream || !stream_) return;
  const auto& options = stream_->options();
  const std::int64_t now = steadyMs();
  if (stream_writing_ && now - write_started_ms_ > impl_->options.keepalive_timeout_ms) {
    // The client has taken nothing for a whole keep-alive timeout.
    impl_->increment(impl_->streams_dropped);
    return closeSocket();
  }
  const std::int64_t last_sent = std::max(last_send_ms_, stream_->last_direct_ms_.load());
  if (!stream_writing_ && stream_->idle() && now - last_sent >= options.heartbeat_ms) {
    const auto beat = std::make_shared<const std::string>(options.heartbeat);
    if (stream_->write(beat, sdk::StreamOverflow::kDrop) == sdk::StreamWrite::kDropped) return;
  }
  armTimer(options.heartbeat_ms, Timeout::kHeartbeat);
}

// ---------------------------------------------------------------------------------------------
// Impl

const PluginRoute* Impl::findRoute(const std::string& path) const {
  for (const auto& route : routes) {
    if (path == route.path ||
        (path.size() > route.path.size() && path.compare(0, route.path.size(), route.path) == 0 &&
         path[route.path.size()] == '/')) {
      return &route;
    }
  }
  return nullptr;
}

bool Impl::hostAllowed(std::string_view host_header) const {
  const std::string host = hostWithoutPort(host_header);
  if (isLoopbackName(host)) return true;
  if (bound_to_loopback) return false;
  return std::find(options.hosts.begin(), options.hosts.end(), host) != options.hosts.end();
}

std::string Impl::clientKey(const sdk::HttpRequest& request) const {
  std::string address = request.client_address;
  const auto colon = address.rfind(':');
  if (colon != std::string::npos) address.erase(colon);
  if (address.size() > 2 && address.front() == '[') address = address.substr(1, address.size() - 2);
  if (std::find(options.trusted_proxies.begin(), options.trusted_proxies.end(), address) !=
      options.trusted_proxies.end()) {
    if (auto it = request.headers.find("x-forwarded-for"); it != request.headers.end()) {
      std::string last = it->second.substr(it->second.rfind(',') + 1);
      last.erase(0, last.find_first_not_of(' '));
      if (!last.empty()) return last;
    }
  }
  return address;
}

bool Impl::viaTls(const sdk::HttpRequest& request) const {
  // gatherd itself speaks plain HTTP; TLS ends at a proxy, which says so.
  std::string address = request.client_address.substr(0, request.client_address.rfind(':'));
  if (address.size() > 2 && address.front() == '[') address = address.substr(1, address.size() - 2);
  if (std::find(options.trusted_proxies.begin(), options.trusted_proxies.end(), address) ==
      options.trusted_proxies.end()) {
    return false;
  }
  auto it = request.headers.find("x-forwarded-proto");
  return it != request.headers.end() && lower(it->second) == "https";
}

std::int64_t Impl::blockedFor(const std::string& key) {
  std::lock_guard lock(auth_mutex);
  auto it = failures.find(key);
  if (it == failures.end()) return 0;
  const std::int64_t left = it->second.blocked_until_ms - steadyMs();
  return left > 0 ? (left + 999) / 1000 : 0;
}

void Impl::recordFailure(const std::string& key, const char* what) {
  const std::int64_t now = steadyMs();
  int count = 0;
  bool blocked_now = false;
  {
    std::lock_guard lock(auth_mutex);
    if (failures.size() > 100'000) failures.clear();  // bounded: a flood of addresses resets it
    Failures& entry = failures[key];
    if (now - entry.window_start_ms > 60'000) {
      entry.count = 0;
      entry.window_start_ms = now;
    }
    count = ++entry.count;
    if (count >= options.max_auth_failures && entry.blocked_until_ms <= now) {
      entry.blocked_until_ms = now + options.auth_block_ms;
      blocked_now = true;
    }
  }
  // Never the token: only who, what and how often.
  if (count == 1 || blocked_now) {
    spdlog::warn("http: {} from {} ({} in the last minute{})", what, key, count,
                 blocked_now ? "; answering 429 to it for " +
                                   std::to_string(options.auth_block_ms / 1000) + " s"
                             : std::string());
  }
}

sdk::HttpResponse Impl::tooManyFailures(std::int64_t seconds) const {
  auto answer =
      jsonError(429, "too many failed logins or bad tokens from this address; retry later");
  answer.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(1, seconds)));
  return answer;
}

Impl::Auth Impl::authorizeRoute(const PluginRoute& route, const sdk::HttpRequest& request) {
  if (route.token.empty()) return authorize(request);
  if (auto it = request.headers.find("authorization"); it != request.headers.end()) {
    const std::string& value = it->second;
    if (value.size() > 7 && lower(value.substr(0, 7)) == "bearer " &&
        constantTimeEquals(value.substr(7), route.token)) {
      return Auth::kOk;
    }
  }
  if (options.token.empty()) {
    if (request.headers.count("authorization") != 0) {
      const std::string key = clientKey(request);
      if (blockedFor(key) > 0) return Auth::kBlocked;
      recordFailure(key, "a request with a wrong bearer token");
      return Auth::kBadToken;
    }
    return Auth::kMissing;
  }
  return authorize(request);
}

Impl::Auth Impl::authorize(const sdk::HttpRequest& request) {
  if (options.token.empty()) return Auth::kOk;
  if (auto it = request.headers.find("authorization"); it != request.headers.end()) {
    const std::string& value = it->second;
    if (value.size() > 7 && lower(value.substr(0, 7)) == "bearer ") {
      const std::string key = clientKey(request);
      if (blockedFor(key) > 0) return Auth::kBlocked;
      if (constantTimeEquals(value.substr(7), options.token)) return Auth::kOk;
      recordFailure(key, "a request with a wrong bearer token");
      return Auth::kBadToken;
    }
  }
  if (auto it = request.headers.find("cookie"); it != request.headers.end()) {
    const std::string id = cookieValue(it->second, HttpServer::kSessionCookie);
    if (!id.empty()) {
      std::lock_guard lock(auth_mutex);
      auto session = sessions.find(id);
      if (session != sessions.end()) {
        if (session->second > steadyMs()) return Auth::kOk;
        sessions.erase(session);
      }
    }
  }
  return Auth::kMissing;
}

namespace {

std::string randomSessionId() {
  unsigned char bytes[32];
  std::size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed");
    }
    got += static_cast<std::size_t>(n);
  }
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (unsigned char byte : bytes) {
    id += kHex[byte >> 4];
    id += kHex[byte & 15];
  }
  return id;
}

}  // namespace

sdk::HttpResponse Impl::login(const sdk::HttpRequest& request) {
  if (request.method != "POST") {
    auto response = jsonError(405, "method not allowed; use POST");
    response.headers.emplace_back("Allow", "POST");
    return response;
  }
  const std::string key = clientKey(request);
  if (const auto seconds = blockedFor(key)) return tooManyFailures(seconds);
  // The dashboard's form posts token=<value>; scripts may post {"token": "..."}.
  std::string given;
  const auto type = request.headers.count("content-type")
                        ? lower(request.headers.at("content-type"))
                        : std::string();
  if (type.rfind("application/json", 0) == 0) {
    const auto name = request.body.find("\"token\"");
    const auto open =
        name == std::string::npos ? name : request.body.find('"', request.body.find(':', name));
    const auto close = open == std::string::npos ? open : request.body.find('"', open + 1);
    if (close == std::string::npos)
      return jsonError(400, "body must be {\"token\": \"...\"}", "token");
    given = request.body.substr(open + 1, close - open - 1);
  } else {
    try {
      QueryParams form(request.body);
      given = form.text("token").value_or("");
    } catch (const ParameterError& error) {
      return jsonError(400, error.what(), error.parameter());
    }
  }
  if (given.empty()) return jsonError(400, "token is required", "token");
  if (options.token.empty()) {
    sdk::HttpResponse response;
    response.body = R"({"authenticated":true,"tokenRequired":false})";
    return response;
  }
  if (!constantTimeEquals(given, options.token)) {
    recordFailure(key, "a failed login");
    return jsonError(401, "invalid token");
  }
  const std::string id = randomSessionId();
  {
    std::lock_guard lock(auth_mutex);
    const std::int64_t now = steadyMs();
    for (auto it = sessions.begin(); it != sessions.end();) {
      it = it->second <= now ? sessions.erase(it) : std::next(it);
    }
    if (sessions.size() >= 10'000) sessions.erase(sessions.begin());  // bounded
    sessions[id] = now + options.session_ttl_ms;
  }
  sdk::HttpResponse response;
  response.body = R"({"authenticated":true,"tokenRequired":true})";
  response.headers.emplace_back("Set-Cookie", std::string(HttpServer::kSessionCookie) + "=" + id +
                                                  "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                                  std::to_string(options.session_ttl_ms / 1000) +
                                                  (viaTls(request) ? "; Secure" : ""));
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

sdk::HttpResponse Impl::logout(const sdk::HttpRequest& request) {
  if (request.method != "POST") {
    auto answer = jsonError(405, "method not allowed; use POST");
    answer.headers.emplace_back("Allow", "POST");
    return answer;
  }
  if (auto it = request.headers.find("cookie"); it != request.headers.end()) {
    const std::string id = cookieValue(it->second, HttpServer::kSessionCookie);
    std::lock_guard lock(auth_mutex);
    sessions.erase(id);  // revoked here, whatever the browser does with the cookie
  }
  sdk::HttpResponse answer;
  answer.body = R"({"authenticated":false})";
  answer.headers.emplace_back("Set-Cookie", std::string(HttpServer::kSessionCookie) +
                                                "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" +
                                                (viaTls(request) ? "; Secure" : ""));
  answer.headers.emplace_back("Cache-Control", "no-store");
  return answer;
}

void Impl::addCors(const sdk::HttpRequest& request,
                   std::vector<std::pair<std::string, std::string>>& headers) const {
  auto it = request.headers.find("origin");
  if (it == request.headers.end() || options.cors_origins.empty()) return;
  for (const auto& origin : options.cors_origins) {
    if (origin == it->second) {
      headers.emplace_back("Access-Control-Allow-Origin", origin);
      headers.emplace_back("Access-Control-Allow-Credentials", "true");
      headers.emplace_back("Vary", "Origin");
      return;
    }
  }
}

void Impl::doAccept() {
  if (stopping.load()) return;
  // Round robin: busy and idle connections spread evenly enough for a handful of threads.
  asio::io_context& target = *ios[next_io++ % ios.size()];
  acceptor->async_accept(target, [self = shared_from_this()](const boost::system::error_code& error,
                                                             tcp::socket socket) {
    self->onAccept(error, std::move(socket));
  });
}

void Impl::onAccept(const boost::system::error_code& error, tcp::socket socket) {
  if (stopping.load() || error == asio::error::operation_aborted) return;
  if (error) {
    const int code = error.value();
    const bool out_of_descriptors =
        error.category() == boost::system::system_category() &&
        (code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM);
    if (out_of_descriptors) {
      // The pending connection stays in the backlog: wait for descriptors to come back instead of
      // spinning on accept(); open connections are served meanwhile.
      increment(fd_exhausted);
      if (const auto count = fd_log.count()) {
        spdlog::warn(
            "http: out of file descriptors ({}): accepting paused {} time(s) in the last "
            "minute; raise LimitNOFILE / ulimit -n or lower [http] max_connections",
            error.message(), count);
      }
      accept_backoff_ms = std::clamp<std::int64_t>(accept_backoff_ms * 2, 10, 1'000);
    } else {
      spdlog::debug("http: accept failed: {}", error.message());
      accept_backoff_ms = 10;
    }
    accept_timer->expires_after(std::chrono::milliseconds(accept_backoff_ms));
    accept_timer->async_wait(
        [self = shared_from_this()](const boost::system::error_code& wait_error) {
          if (!wait_error) self->doAccept();
        });
    return;
  }
  accept_backoff_ms = 0;
  if (connections.load() >= static_cast<std::int64_t>(options.max_connections)) {
    refuse(socket);
  } else {
    connections.fetch_add(1);
    const std::uint64_t id = next_id.fetch_add(1);
    auto connection = std::make_shared<Connection>(shared_from_this(), std::move(socket), id);
    registerConnection(id, connection);
    connection->begin();
  }
  doAccept();
}

void Impl::refuse(tcp::socket& socket) {
  increment(refused);
  if (const auto count = refused_log.count()) {
    spdlog::warn(
        "http: {} connection(s) refused with 503 in the last minute: [http] "
        "max_connections = {} are open",
        count, options.max_connections);
  }
  static const std::string kAnswer =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\n"
      "Connection: close\r\nContent-Length: 45\r\n\r\n{\"error\":\"too many connections; retry "
      "later\"}";
  boost::system::error_code ignored;
  socket.non_blocking(true, ignored);
  char scratch[4096];
  // What the client already sent would turn the close into a reset that can eat the answer.
  while (socket.read_some(asio::buffer(scratch), ignored) > 0) {
  }
  socket.write_some(asio::buffer(kAnswer), ignored);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

void Impl::registerConnection(std::uint64_t id, const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(registry_mutex);
  live.emplace(id, connection);
}

void Impl::unregisterConnection(std::uint64_t id) {
  std::lock_guard lock(registry_mutex);
  live.erase(id);
}

namespace metric {
// The server's families (docs/metrics.md, "HTTP server").
constexpr const char* kRequests = "gatherd_http_requests";
constexpr const char* kConnections = "gatherd_http_connections";
constexpr const char* kStreams = "gatherd_http_streams";
constexpr const char* kRefused = "gatherd_http_connections_refused";
constexpr const char* kOutOfDescriptors = "gatherd_http_accept_out_of_descriptors";
constexpr const char* kTimeouts = "gatherd_http_timeouts";
constexpr const char* kStreamsDropped = "gatherd_http_streams_dropped";
}  // namespace metric

void Impl::describeMetrics() {
  if (options.metrics == nullptr) return;
  using sdk::MetricType;
  auto& registry = *options.metrics;
  registry.describe(metric::kRequests, MetricType::kCounter,
                    "Requests answered, by route class (health, api, static, plugin, stream, "
                    "rejected) and status class (1xx..5xx)");
  registry.describe(metric::kConnections, MetricType::kGauge,
                    "Open HTTP connections, event streams included");
  registry.describe(metric::kStreams, MetricType::kGauge, "Open event streams (SSE clients)");
  registry.describe(metric::kRefused, MetricType::kCounter,
                    "Connections refused with 503 above [http] max_connections");
  registry.describe(metric::kOutOfDescriptors, MetricType::kCounter,
                    "Times accepting paused because the process ran out of file descriptors");
  registry.describe(metric::kTimeouts, MetricType::kCounter,
                    "Connections closed by a timeout, by kind (header, body, keepalive)");
  registry.describe(metric::kStreamsDropped, MetricType::kCounter,
                    "Event streams dropped because the client fell a whole buffer behind");
}

void Impl::publishMetrics() {
  if (options.metrics == nullptr) return;
  std::lock_guard lock(publish_mutex);
  auto& registry = *options.metrics;
  // The hot paths count in plain atomics; this moves the difference into the registry when it
  // is read, so a request never takes the registry's lock.
  auto publish = [&registry](const char* family, const sdk::MetricLabels& labels,
                             std::atomic<std::int64_t>& counter, std::int64_t& published) {
    const std::int64_t now = counter.load();
    if (now != published) registry.add(family, labels, static_cast<double>(now - published));
    published = now;
  };
  for (int route = 0; route < static_cast<int>(RouteClass::kCount); ++route) {
    for (int status = 0; status < kStatusClasses; ++status) {
      publish(metric::kRequests,
              {{"route", kRouteClassNames[route]}, {"code", std::to_string(status + 1) + "xx"}},
              requests[route][status], published_requests[route][status]);
    }
  }
  publish(metric::kRefused, {}, refused, published_refused);
  publish(metric::kOutOfDescriptors, {}, fd_exhausted, published_fd_exhausted);
  publish(metric::kTimeouts, {{"kind", "header"}}, header_timeouts, published_header_timeouts);
  publish(metric::kTimeouts, {{"kind", "body"}}, body_timeouts, published_body_timeouts);
  publish(metric::kTimeouts, {{"kind", "keepalive"}}, keepalive_timeouts,
          published_keepalive_timeouts);
  publish(metric::kStreamsDropped, {}, streams_dropped, published_streams_dropped);
  registry.set(metric::kConnections, {}, static_cast<double>(connections.load()));
  registry.set(metric::kStreams, {}, static_cast<double>(streams.load()));
}

void Impl::publishOnRead() {
  if (options.metrics == nullptr) return;
  options.metrics->addRefresher([weak = std::weak_ptr<Impl>(shared_from_this())] {
    auto self = weak.lock();
    if (!self) return false;
    self->publishMetrics();
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// HttpServer

HttpServer::HttpServer(HttpServerOptions options, SourceStatusRegistry& sources,
                       std::function<sdk::Store*()> store_provider)
    : impl_(std::make_shared<Impl>(std::move(options), sources, std::move(store_provider))) {}

HttpServer::~HttpServer() {
  stop();
}

std::size_t HttpServer::sessionCount() const {
  std::lock_guard lock(impl_->auth_mutex);
  return impl_->sessions.size();
}

namespace {

sdk::Status checkRoutePath(const std::vector<PluginRoute>& routes, const std::string& path,
                           bool started) {
  if (started) return sdk::Status::failure("routes must be registered before the server starts");
  if (path.size() < 2 || path[0] != '/' || path.back() == '/') {
    return sdk::Status::failure("route path must start with '/' and not end with it: " + path);
  }
  if (path == "/api" || path.rfind("/api/", 0) == 0 || path == "/health" || path == "/ready") {
    return sdk::Status::failure("route " + path + " is reserved for the core API");
  }
  for (const auto& route : routes) {
    if (route.path == path) return sdk::Status::failure("route already registered: " + path);
  }
  return sdk::Status::success();
}

}  // namespace

sdk::Status HttpServer::registerRoute(const std::string& path, sdk::RouteHandler handler,
                                      const sdk::RouteOptions& route_options) {
  if (auto status = checkRoutePath(impl_->routes, path, impl_->started); !status) return status;
  if (!handler) return sdk::Status::failure("route " + path + " has no handler");
  impl_->routes.push_back({path, std::move(handler), {}, route_options.token});
  return sdk::Status::success();
}

sdk::Status HttpServer::registerStreamRoute(const std::string& path,
                                            sdk::StreamRouteHandler handler) {
  if (auto status = checkRoutePath(impl_->routes, path, impl_->started); !status) return status;
  if (!handler) return sdk::Status::failure("route " + path + " has no handler");
  impl_->routes.push_back({path, {}, std::move(handler), {}});
  return sdk::Status::success();
}

void HttpServer::start() {
  if (impl_->started) return;
  static std::once_flag process_setup;
  // A client that goes away mid-write must not kill the daemon.
  std::call_once(process_setup, [] { std::signal(SIGPIPE, SIG_IGN); });
  Impl& impl = *impl_;
  const HttpServerOptions& options = impl.options;
  const int io_threads = std::max(1, options.io_threads);
  for (int i = 0; i < io_threads; ++i) {
    // Concurrency hint 1: each context is run by one thread only.
    impl.ios.push_back(std::make_unique<asio::io_context>(1));
    impl.io_guards.push_back(asio::make_work_guard(*impl.ios.back()));
  }
  asio::io_context& first = *impl.ios.front();
  impl.acceptor = std::make_unique<tcp::acceptor>(first);
  impl.accept_timer = std::make_unique<asio::steady_timer>(first);
  try {
    const auto colon = options.bind.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("expected host:port");
    std::string host = options.bind.substr(0, colon);
    if (host.size() > 1 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    tcp::resolver resolver(first);
    const auto results =
        resolver.resolve(host, options.bind.substr(colon + 1), tcp::resolver::numeric_service);
    if (results.empty()) throw std::runtime_error("the host resolves to no address");
    const tcp::endpoint endpoint = *results.begin();
    impl.acceptor->open(endpoint.protocol());
    impl.acceptor->set_option(tcp::acceptor::reuse_address(true));
    impl.acceptor->bind(endpoint);
    impl.acceptor->listen(4096);
    impl.port = impl.acceptor->local_endpoint().port();
    impl.bound_to_loopback = endpoint.address().is_loopback();
  } catch (const std::exception& error) {
    impl.acceptor.reset();
    impl.accept_timer.reset();
    impl.io_guards.clear();
    impl.ios.clear();
    throw std::runtime_error("[http] bind = " + options.bind + ": cannot listen: " + error.what());
  }
  const int worker_threads = std::max(1, options.worker_threads);
  impl.workers = std::make_unique<asio::thread_pool>(worker_threads);
  {
    // Each naming job waits for all the others, so each runs on a thread of its own. The jobs
    // share the latch: one may still be leaving wait() when start() has gone on.
    auto named = std::make_shared<std::latch>(worker_threads);
    for (int i = 0; i < worker_threads; ++i) {
      asio::post(*impl.workers, [named, i] {
        nameThread(::pthread_self(), "http-handler-" + std::to_string(i));
        named->arrive_and_wait();
      });
    }
    named->wait();
  }
  impl.doAccept();
  impl.describeMetrics();
  impl.publishOnRead();
  for (int i = 0; i < io_threads; ++i) {
    impl.threads.emplace_back([io = impl.ios[static_cast<std::size_t>(i)].get()] {
      for (;;) {
        try {
          io->run();
          return;
        } catch (const std::exception& error) {
          spdlog::warn("http server: {}", error.what());
        }
      }
    });
    // Named from here, so the name is there when start() returns.
    nameThread(impl.threads.back().native_handle(), "http-io-" + std::to_string(i));
  }
  impl.started = true;
}

void HttpServer::stop() {
  Impl& impl = *impl_;
  if (!impl.started || impl.stopped) return;
  impl.stopped = true;
  impl.stopping = true;
  asio::post(impl.acceptor->get_executor(), [&impl] {
    boost::system::error_code ignored;
    impl.acceptor->close(ignored);
    impl.accept_timer->cancel();
  });
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(impl.registry_mutex);
    for (auto& [id, weak] : impl.live) {
      if (auto connection = weak.lock()) open.push_back(std::move(connection));
    }
  }
  for (auto& connection : open) connection->shutdown();
  open.clear();
  // Handlers that run now finish; what they answer goes out with Connection: close.
  impl.workers->join();
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (impl.connections.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  impl.io_guards.clear();
  for (auto& io : impl.ios) io->stop();
  for (auto& thread : impl.threads) thread.join();
  impl.threads.clear();
  impl.publishMetrics();
  impl.workers.reset();
  // Destroys what is left (connections that did not finish in time) while Impl is alive.
  impl.acceptor.reset();
  impl.accept_timer.reset();
  impl.ios.clear();
}

std::uint16_t HttpServer::port() const {
  return impl_->port;
}

std::size_t HttpServer::connectionCount() const {
  return static_cast<std::size_t>(std::max<std::int64_t>(0, impl_->connections.load()));
}

}  // namespace gatherd::core
