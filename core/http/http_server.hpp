#pragma once
// The core's HTTP server: the JSON API, the routes plugins register (/events, /metrics) and the
// dashboard's static files, on Poco's HTTPServer.

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

struct HttpServerOptions {
  std::string bind = "127.0.0.1:8080";  ///< host:port; port 0 picks a free port
  std::string web_root;                 ///< the built dashboard; empty = no static files
  std::string token;                    ///< when set, /api/* and plugin routes need it
  std::vector<std::string> cors_origins;  ///< exact origins allowed cross-origin; empty = none
  int max_threads = 16;
  int max_queued = 512;
  std::int64_t idle_timeout_ms = 15'000;  ///< keep-alive idle time and per-read timeout
  std::size_t max_body_bytes = 1 << 20;
};

/// Usage: construct, registerRoute() for each plugin route, start(), ..., stop().
/// start/stop/registerRoute are called from one thread (the app's); handlers run on the
/// server's pool.
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
  /// Binds and starts serving. Throws std::runtime_error naming the address if bind fails.
  void start();
  /// Stops accepting, aborts open connections and joins the pool; returns within about a second.
  /// Idempotent.
  void stop();
  /// The bound port (useful with port 0); 0 before start().
  std::uint16_t port() const;

  /// The cookie value POST /api/login sets for `token` (derived, never the token itself).
  static std::string sessionCookieValue(const std::string& token);
  /// Name of the session cookie.
  static constexpr const char* kSessionCookie = "gatherd_session";

  struct Impl;  ///< implementation detail (public only so the .cpp's handler classes can name it)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace gatherd::core
