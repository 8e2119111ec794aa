#pragma once
// The HTTPS transport of one source instance: a small keep-alive pool, the poll's cancel (the
// core's, at the deadline) cutting the socket, gzip decoding and a bound on the body size.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>

#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/source.hpp"
#include "gatherd/sdk/status.hpp"

namespace gatherd::plugins::xychatai {

inline constexpr std::size_t kDefaultMaxBodyBytes = 4 * 1024 * 1024;

struct HttpClientOptions {
  std::string url;      ///< absolute http(s) URL
  std::string ca_file;  ///< PEM CA bundle; empty: the system trust store
  std::string proxy;    ///< "http://[user:pass@]host:port"; empty: direct
  std::string user_agent;
  /// Keep-alive connections are reused while at most this many requests are in flight; a
  /// request above that opens a fresh connection. Also the number of idle connections kept.
  int shared_connections = 2;
  std::size_t max_body_bytes = kDefaultMaxBodyBytes;
};

enum class FetchStatus {
  kOk,              ///< a complete response (any HTTP status)
  kTransportError,  ///< connect, TLS, reset, truncated
  kTimeout,         ///< the deadline passed (the core's cancel at it, or a per-read timeout)
  kCancelled,       ///< the core cancelled the poll before its deadline
  kTooLarge,        ///< the body exceeded max_body_bytes and was refused
};

struct FetchResult {
  FetchStatus status = FetchStatus::kTransportError;
  std::string error;  ///< what went wrong, for anything but kOk (no secrets)
  int http_status = 0;
  std::string reason;
  std::string content_type;
  std::string location;
  std::string body;  ///< decoded (gunzipped) body
  bool reused_connection = false;
};

/// Thread-safe: get() may run concurrently from several scheduler threads.
class HttpClient {
 public:
  /// Builds the TLS context (strict verification, host-name checks). Fails with a message naming
  /// ca_file or the URL when they are unusable.
  static sdk::Status create(HttpClientOptions options, sdk::Clock& clock,
                            std::unique_ptr<HttpClient>& client);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// GET the configured URL with `cookie_header` as the Cookie header (may be empty). Each
  /// connect and read waits at most until `deadline_steady_ms` (clock().steadyNowMs() time);
  /// the exchange as a whole ends when `cancel` fires, which the core does at the deadline
  /// (then the result is kTimeout) or at shutdown (kCancelled). Without `cancel`, a server that
  /// trickles its answer can hold the call past the deadline.
  FetchResult get(const std::string& cookie_header, std::int64_t deadline_steady_ms,
                  sdk::CancelToken* cancel);

  /// Closes idle connections; later get() calls still work but open fresh connections.
  /// Idempotent.
  void shutdown();

  std::size_t idleConnections() const;
  const HttpClientOptions& options() const noexcept { return options_; }

  struct Abort;  ///< the interrupt handle of one running request (internal)

 private:
  HttpClient(HttpClientOptions options, sdk::Clock& clock);
  std::unique_ptr<Poco::Net::HTTPClientSession> newSession(std::int64_t timeout_ms) const;
  std::unique_ptr<Poco::Net::HTTPClientSession> acquire(std::int64_t timeout_ms, bool& reused);
  void release(std::unique_ptr<Poco::Net::HTTPClientSession> session, bool reusable);
  FetchResult exchange(Poco::Net::HTTPClientSession& session, const std::string& cookie_header,
                       Abort& abort, bool& reusable, bool& retryable);

  HttpClientOptions options_;
  sdk::Clock& clock_;
  std::string scheme_;
  std::string host_;
  std::uint16_t port_ = 0;
  std::string path_and_query_;
  std::string proxy_host_;
  std::uint16_t proxy_port_ = 0;
  std::string proxy_user_;
  std::string proxy_password_;
  Poco::Net::Context::Ptr context_;  // null for plain http URLs

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>> idle_;
  int in_flight_ = 0;
  bool stopping_ = false;
};

}  // namespace gatherd::plugins::xychatai
