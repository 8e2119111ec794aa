#pragma once
// The core's HTTP/1.1 server: the JSON API, the routes plugins register (/metrics), streaming
// routes (/events) and the dashboard's static files, on Boost.Beast over Asio. A few threads
// serve every connection (no thread per connection); every connection has header, body and
// keep-alive deadlines and size limits, and their number is capped.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/observe/source_status.hpp"
#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/status.hpp"
#include "gatherd/sdk/store.hpp"

namespace gatherd::core {

class MetricsRegistry;

struct HttpServerOptions {
  std::string bind = "127.0.0.1:8080";    ///< host:port; port 0 picks a free port
  std::string web_root;                   ///< the built dashboard; empty = no static files
  std::string token;                      ///< when set, /api/* and plugin routes need it
  std::vector<std::string> cors_origins;  ///< exact origins allowed cross-origin; empty = none
  /// Host names accepted besides localhost, 127.0.0.1 and [::1] when not bound to loopback.
  std::vector<std::string> hosts;
  int io_threads = 2;  ///< threads that run every socket
  int worker_threads =
      2;  ///< threads that run API and plugin handlers (they may block on the store)
  std::int64_t header_timeout_ms = 10'000;  ///< request line + headers must arrive within it
  std::int64_t body_timeout_ms = 10'000;  ///< the body must arrive (and a response leave) within it
  std::int64_t keepalive_timeout_ms = 30'000;  ///< an idle keep-alive connection is closed after it
  std::size_t max_uri_bytes = 8 * 1024;        ///< longer request targets get 414
  std::size_t max_header_bytes = 16 * 1024;    ///< larger header sections get 431
  std::size_t max_headers = 100;               ///< more header fields get 431
  std::size_t max_body_bytes = 1 << 20;        ///< larger bodies get 413
  std::size_t max_connections = 4096;          ///< streams included; above it new ones get 503
  std::int64_t session_ttl_ms = 30LL * 24 * 3600 * 1000;  ///< a login session's lifetime
  /// Peers whose X-Forwarded-Proto / X-Forwarded-For are believed (for Secure cookies and the
  /// failed-login limit). Plain addresses, e.g. "127.0.0.1".
  std::vector<std::string> trusted_proxies;
  int max_auth_failures = 10;           ///< bad tokens per client address and minute before 429
  std::int64_t auth_block_ms = 60'000;  ///< how long such an address gets 429
  MetricsRegistry* metrics = nullptr;   ///< http_* counters and gauges (instance "http")
  /// The body of /api/alerts for at most N recent alerts (empty: alerts are off).
  std::function<std::string(std::size_t)> alerts_json;
};

/// Usage: construct, registerRoute()/registerStreamRoute() for each plugin route, start(), ...,
/// stop(). start/stop/register* are called from one thread (the app's); handlers run on the
/// server's worker threads.
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, SourceStatusRegistry& sources,
             std::function<sdk::Store*()> store_provider);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// A plugin route (sdk/host.hpp semantics: `path` and everything under `path/`). Before start().
  sdk::Status registerRoute(const std::string& path, sdk::RouteHandler handler,
                            const sdk::RouteOptions& route_options = {});
  /// A plugin streaming route (sdk::Host::registerStreamRoute). Before start().
  sdk::Status registerStreamRoute(const std::string& path, sdk::StreamRouteHandler handler);
  /// Binds and starts serving. Throws std::runtime_error naming the address if bind fails.
  void start();
  /// Stops accepting, answers or closes open connections, sends each open stream its final text
  /// and closes it, waits for running handlers and joins the threads; returns within about two
  /// seconds. No handler runs after it returns. Idempotent.
  void stop();
  /// The bound port (useful with port 0); 0 before start().
  std::uint16_t port() const;
  /// Open connections, streams included.
  std::size_t connectionCount() const;

  /// Login sessions alive now (for tests).
  std::size_t sessionCount() const;
  /// Name of the session cookie.
  static constexpr const char* kSessionCookie = "gatherd_session";

  struct Impl;  ///< implementation detail (public only so the .cpp's classes can name it)

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace gatherd::core
