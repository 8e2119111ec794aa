#pragma once
// What the core gives a plugin: logger, metrics, clock, HTTP routes, store access, state.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/status.hpp"
#include "gatherd/sdk/telemetry.hpp"

namespace gatherd::sdk {

class Store;

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };

/// What a sink says about the storage behind it (Host::reportSinkHealth).
enum class SinkHealth {
  kOk,        ///< writes work
  kDegraded,  ///< writes fail for a reason a retry alone does not fix (corrupt, read-only)
};

inline const char* sinkHealthName(SinkHealth health) noexcept {
  return health == SinkHealth::kOk ? "ok" : "degraded";
}

/// A named logger for one plugin instance. The host masks every configured secret in each
/// message, but plugins still must not log credentials on purpose. Thread-safe; lives as long
/// as the Host.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual void log(LogLevel level, std::string_view message) = 0;
  virtual bool enabled(LogLevel level) const = 0;
  void debug(std::string_view message) { log(LogLevel::kDebug, message); }
  void info(std::string_view message) { log(LogLevel::kInfo, message); }
  void warn(std::string_view message) { log(LogLevel::kWarn, message); }
  void error(std::string_view message) { log(LogLevel::kError, message); }
};

/// Metrics of one plugin instance; the host labels every series with the instance name and
/// exposes them (e.g. on /metrics). Names are snake_case without the gatherd_ prefix.
/// Thread-safe; lives as long as the Host.
class Metrics {
 public:
  virtual ~Metrics() = default;
  /// Adds `by` to a monotonically increasing counter.
  virtual void increment(std::string_view name, std::int64_t by = 1) = 0;
  /// Sets a gauge.
  virtual void setGauge(std::string_view name, double value) = 0;
};

/// Time source. Real in production, manual in tests (sdk/testing/manual_clock.hpp).
/// Thread-safe; lives as long as the Host.
class Clock {
 public:
  virtual ~Clock() = default;
  /// Wall clock, UTC ms since the epoch. May jump.
  virtual std::int64_t utcNowMs() const = 0;
  /// Monotonic ms from an arbitrary origin. Never goes back.
  virtual std::int64_t steadyNowMs() const = 0;
  /// Blocks until steadyNowMs() >= steady_ms, or until wakeAll() is called. Returns true if the
  /// time was reached. Callers re-check their own stop flags after it returns. A wakeAll() that
  /// lands before the call is missed: a thread that must not miss one uses the overload below.
  virtual bool sleepUntil(std::int64_t steady_ms) = 0;
  /// Releases every sleepUntil() early (used at shutdown, reload and other state changes) and
  /// advances the wake generation.
  virtual void wakeAll() = 0;
  /// The wake generation: a counter that every wakeAll() advances. Since sdk 1.1.
  virtual std::uint64_t wakeGeneration() const = 0;
  /// Blocks until steadyNowMs() >= steady_ms, or until the wake generation differs from
  /// `generation`; returns at once if it already does, so no wakeAll() is lost. The pattern:
  /// read wakeGeneration() first (under the caller's lock), check the caller's own flags, then
  /// sleep with that generation; whoever changes the flags does so first, then calls wakeAll().
  /// Returns true if the time was reached. Since sdk 1.1.
  virtual bool sleepUntil(std::int64_t steady_ms, std::uint64_t generation) = 0;
};

/// An HTTP request as the core's server received it.
struct HttpRequest {
  std::string method;                                       ///< "GET", ...
  std::string path;                                         ///< decoded path, without the query
  std::string query;                                        ///< raw query string without '?'
  std::map<std::string, std::string, std::less<>> headers;  ///< names in lower case
  std::string body;
  std::string client_address;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

/// One request/response exchange handed to a plugin route. Valid only during the handler call.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  virtual const HttpRequest& request() const = 0;
  /// Sends a complete response (with Content-Length). Call at most once.
  virtual void respond(const HttpResponse& response) = 0;
};

/// Called on an HTTP server worker thread, concurrently with other requests. Must not throw (the
/// core answers 500 if it does) and should return quickly.
using RouteHandler = std::function<void(HttpExchange&)>;

/// How a plugin route is protected.
struct RouteOptions {
  /// A bearer token accepted for this route besides the API's ([http] token, or its session
  /// cookie). When set, the route always needs one of them, even when the API has no token.
  /// Compared in constant time; keep it out of logs (declare its config key secret).
  std::string token;
};

/// What Stream::write does with data that does not fit in the stream's buffer.
enum class StreamOverflow {
  kDrop,    ///< the client is too slow: the core closes the stream (live events)
  kRefuse,  ///< nothing is queued; StreamOptions::on_writable fires once the buffer drained to
            ///< half (for a replay paged from a store as the client reads)
};

enum class StreamWrite {
  kQueued,   ///< accepted; the core sends it as the client reads
  kFull,     ///< kRefuse and it did not fit: try again after on_writable
  kDropped,  ///< kDrop and it did not fit: the stream is now closed (counted by the core)
  kClosed,   ///< the stream was already closed (client left, dropped, or the server stops)
};

/// A long-lived response (Server-Sent Events) whose socket the core owns. Thread-safe; never
/// blocks. The handle stays valid as long as the plugin holds it, after the stream closed too
/// (then every write returns kClosed).
class Stream {
 public:
  virtual ~Stream() = default;
  /// Queues `data` (shared: one event serialised once can go to thousands of streams). A write
  /// into an empty buffer is always taken, whatever its size; otherwise what would pass
  /// capacityBytes() is handled as `overflow` says.
  [[nodiscard]] virtual StreamWrite write(std::shared_ptr<const std::string> data,
                                          StreamOverflow overflow) = 0;
  /// Convenience: copies `data` into a new shared buffer.
  [[nodiscard]] StreamWrite write(std::string data, StreamOverflow overflow) {
    return write(std::make_shared<const std::string>(std::move(data)), overflow);
  }
  /// Bytes queued that the client has not taken yet.
  virtual std::size_t bufferedBytes() const = 0;
  /// StreamOptions::buffer_bytes.
  virtual std::size_t capacityBytes() const = 0;
  /// Sends what is queued (for at most about a second), then closes the connection. Idempotent.
  virtual void close() = 0;
  virtual bool isOpen() const = 0;
};

/// How the core runs one stream. The callbacks run on a server thread, never inside a write()
/// or close() call; they must not block (signal your own thread instead) and must not throw.
struct StreamOptions {
  /// Most bytes queued at once; at least 4096.
  std::size_t buffer_bytes = 256 * 1024;
  /// When nothing was sent for this long, `heartbeat` is sent (keeps proxies and clients from
  /// timing out, detects dead peers). 0 = never.
  std::int64_t heartbeat_ms = 15'000;
  std::string heartbeat = ": heartbeat\n\n";
  /// Sent as the last bytes when the server stops (e.g. an SSE event saying so). May be empty.
  std::string final_text;
  /// After a kFull write: the buffer drained to half its capacity.
  std::function<void()> on_writable;
  /// The stream closed: the client left, was dropped, or the server stops. Called once.
  std::function<void()> on_closed;
};

/// The start of a stream, handed to a streaming route. Valid only during the handler call.
class StreamExchange {
 public:
  virtual ~StreamExchange() = default;
  virtual const HttpRequest& request() const = 0;
  /// Refuses the stream with a complete response (405, 503, ...). Call at most once, instead of
  /// accept().
  virtual void respond(const HttpResponse& response) = 0;
  /// Sends `head`'s status and headers (no Content-Length; the stream ends with the connection)
  /// and `head.body` as the first bytes, and returns the open stream; nullptr when the
  /// connection already failed. Call at most once.
  virtual std::shared_ptr<Stream> accept(const HttpResponse& head, StreamOptions options) = 0;
};

/// Called on an HTTP server worker thread; the same rules as RouteHandler.
using StreamRouteHandler = std::function<void(StreamExchange&)>;

/// What the core gives a plugin instance. Owned by the core; outlives the plugin instance.
/// Methods are thread-safe unless noted.
class Host {
 public:
  virtual ~Host() = default;
  /// The instance name ("xychatai" for [source.xychatai]).
  virtual const std::string& instanceName() const = 0;
  /// gatherd's version, for User-Agent strings.
  virtual const std::string& version() const = 0;
  /// The data directory ([gatherd] data_dir), absolute; created by the core.
  virtual const std::string& dataDir() const = 0;
  virtual Logger& logger() = 0;
  virtual Metrics& metrics() = 0;
  virtual Clock& clock() = 0;
  /// Registers a handler for every request whose path equals `path` or starts with `path` + "/".
  /// Call during init() only. Fails if another instance registered the same path.
  [[nodiscard]] virtual Status registerRoute(const std::string& path, RouteHandler handler) = 0;
  /// Registers a streaming route (same path rules and timing as registerRoute): the handler
  /// accepts a request as a Stream the core serves (socket, buffer, heartbeats, timeouts, stop)
  /// and the plugin writes to. Streams count against [http] max_connections.
  [[nodiscard]] virtual Status registerStreamRoute(const std::string& path,
                                                   StreamRouteHandler handler) = 0;
  /// The configured store, or nullptr when no store sink is configured. Valid from start() until
  /// stop(); do not call it during init().
  virtual Store* store() = 0;
  /// Sources report their credentials' state here; the core logs each change once and shows
  /// it in /api/sources. `hint` tells a human what to do (no secrets).
  virtual void reportAuthState(AuthState state, const std::string& hint) = 0;
  /// registerRoute() with options. Call during init() only.
  [[nodiscard]] virtual Status registerRoute(const std::string& path, RouteHandler handler,
                                             const RouteOptions& options) {
    if (!options.token.empty()) {
      return Status::failure("this host cannot protect route " + path + " with its own token");
    }
    return registerRoute(path, std::move(handler));
  }
  /// The core's own metrics, or nullptr from a host that has none. Valid as
  /// long as the Host; callable from any thread.
  virtual const Telemetry* telemetry() const { return nullptr; }
  /// A secret the plugin learned at run time (an API key in a response): from now on the core
  /// masks it in every log line, as it does the configured secrets (plain and URL-encoded),
  /// for the rest of the process's life.
  virtual void addSecret(std::string_view secret) { (void)secret; }

  /// Sinks: asks the core to keep every batch for this sink in its durable on-disk spool
  /// (data_dir/spool/<instance>) until write() returned kOk, and to deliver what a crash left
  /// there first after the next start. Call during init() only. Use it for stores: write() must
  /// then tolerate a batch it has already taken (after a crash it may come again).
  virtual void requestSpool() {}
  /// Sinks: reports the storage's health (logged once per change). A degraded sink makes
  /// /ready answer 503 and shows on the dashboard until it reports kOk again; write() should
  /// keep answering kRetry meanwhile so that the spool keeps the data. `reason` has no secrets.
  virtual void reportSinkHealth(SinkHealth health, const std::string& reason) {
    (void)health;
    (void)reason;
  }

  // Since ABI 2.4 (appended: plugins built against an older minor never call it).

  /// Sinks: this sink reads only the records of these streams (e.g. sdk::streams::kAlert).
  /// The core then hands it, and spools for it, only those records: a window that brought none
  /// comes as the window result alone, is never spooled, and while one such batch waits no
  /// second one is queued (it only tells the sink that time passed). Call during init() only;
  /// without it a sink gets every record.
  virtual void requestStreams(const std::vector<std::string>& streams) { (void)streams; }
};

}  // namespace gatherd::sdk
