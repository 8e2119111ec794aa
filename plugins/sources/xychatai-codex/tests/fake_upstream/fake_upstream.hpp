#pragma once
// A scripted stand-in for the xychatai quota API on 127.0.0.1 (HTTP or HTTPS), for tests,
// benchmarks and the lead's runtime tests (through the xychatai-fake-upstream executable).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace Poco {
class ThreadPool;
namespace Net {
class HTTPServer;
class HTTPServerRequest;
class HTTPServerResponse;
}  // namespace Net
}  // namespace Poco

namespace gatherd::plugins::xychatai::testing {

/// One scripted answer.
struct ScriptedResponse {
  enum class Mode {
    kNormal,  ///< send the whole response at once (Content-Length, keep-alive)
    kHang,    ///< accept the request and never answer (until the server stops)
    kDrip,    ///< send the headers, then one body byte every drip_interval_ms
  };
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool gzip = false;  ///< compress the body and send Content-Encoding: gzip
  int delay_ms = 0;   ///< wait before answering
  Mode mode = Mode::kNormal;
  int drip_interval_ms = 200;
  /// Hold the answer until this many requests are inside the server at once (bounded by 10 s):
  /// makes concurrent client requests overlap for sure.
  int hold_until_concurrent = 0;

  static ScriptedResponse json(std::string body, int status = 200);
};

/// What the server saw of one request.
struct SeenRequest {
  std::string method;
  std::string uri;
  std::string cookie;  ///< the Cookie header as received
  std::string user_agent;
  std::string accept_encoding;
  std::string client;  ///< client address:port, i.e. the connection
};

class FakeUpstream {
 public:
  struct Options {
    std::string tls_certificate;  ///< PEM server certificate; empty: plain HTTP
    std::string tls_key;          ///< PEM private key of the certificate
    std::uint16_t port = 0;       ///< 0: any free port
  };
  /// Picks the answer to request number `index` (0-based) when the script queue is empty.
  using Responder = std::function<ScriptedResponse(std::int64_t index)>;

  explicit FakeUpstream(Options options);
  ~FakeUpstream();
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  /// Binds 127.0.0.1 and starts serving. Throws on failure.
  void start();
  /// Releases hanging handlers and stops. Idempotent.
  void stop();

  std::uint16_t port() const noexcept { return port_; }
  /// "https://localhost:<port>" (or http://) : the base_url for a source instance.
  std::string baseUrl(const std::string& host = "localhost") const;

  /// Queues answers served in order; when the queue is empty the responder (or the default
  /// answer) is used.
  void enqueue(ScriptedResponse response);
  void setDefault(ScriptedResponse response);
  void setResponder(Responder responder);

  /// Connections that carried at least one request.
  std::size_t connections() const;
  std::int64_t requests() const;
  std::vector<SeenRequest> seenRequests() const;
  /// Waits (bounded) until at least `count` requests have arrived.
  bool waitForRequests(std::int64_t count, std::chrono::milliseconds timeout) const;

  /// Called by the HTTP handler.
  void handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);

 private:
  bool waitStoppable(std::chrono::milliseconds duration);

  Options options_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<ScriptedResponse> queue_;
  ScriptedResponse default_;
  Responder responder_;
  std::vector<SeenRequest> seen_;
  std::set<std::string> clients_;
  std::int64_t requests_ = 0;
  int inside_ = 0;
  std::int64_t released_upto_ = 0;  // held requests with an index below this may go
  bool stopping_ = false;
};

/// A growing synthetic account: after request k (1-based) there are k * per_request records,
/// and every answer lists the 20 newest (newest first), like the real API.
class RollingRecords {
 public:
  explicit RollingRecords(std::int64_t per_request, std::int64_t first_time_ms = 1'772'000'000'000)
      : per_request_(per_request), first_time_ms_(first_time_ms) {}
  /// The body after `total` records exist.
  std::string bodyWithTotal(std::int64_t total) const;
  /// The responder for FakeUpstream::setResponder.
  FakeUpstream::Responder responder() const;
  /// The id of the n-th record (0-based): "roll-00000042".
  static std::string requestId(std::int64_t n);

 private:
  std::int64_t per_request_;
  std::int64_t first_time_ms_;
};

/// The answer of an expired session: HTTP 200 with code -1.
std::string expiredSessionBody();

/// Reads a whole file (fixtures); throws std::runtime_error when it cannot.
std::string readFile(const std::string& path);

}  // namespace gatherd::plugins::xychatai::testing
