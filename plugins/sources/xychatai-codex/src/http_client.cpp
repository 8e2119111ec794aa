#include "http_client.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <istream>
#include <mutex>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/InflatingStream.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketImpl.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include "gatherd/lib/https/https_client.hpp"
#include <sys/socket.h>

namespace gatherd::plugins::xychatai {

namespace {

// Poco closes idle sessions after 8 s by default; a 10 s poll cadence would then never reuse a
// connection. Servers commonly keep idle connections for 60 s or more.
constexpr std::int64_t kKeepAliveSeconds = 50;
constexpr std::int64_t kConnectTimeoutMs = 10'000;

enum class AbortReason { kNone, kDeadline, kCancelled };

/// Per-read timeouts of the remaining time (the core's cancel at the deadline ends the request
/// as a whole). A cancel cannot reach a socket that is still connecting, so it waits for the
/// connect timeout: keep that one short.
void applyTimeouts(Poco::Net::HTTPClientSession& session, std::int64_t timeout_ms) {
  const Poco::Timespan timeout(std::max<std::int64_t>(timeout_ms, 1) * 1000);
  const Poco::Timespan connect_timeout(std::clamp<std::int64_t>(timeout_ms, 1, kConnectTimeoutMs) *
                                       1000);
  session.setTimeout(connect_timeout, timeout, timeout);
}

/// Tells the running request the descriptor of a freshly connected socket, so that a cancel can
/// also cut the TLS handshake and not only the exchange after it.
class ConnectListener {
 public:
  virtual ~ConnectListener() = default;
  void setListener(std::function<void(int)> listener) { listener_ = std::move(listener); }

 protected:
  void announce(const Poco::Net::StreamSocket& socket) {
    if (listener_) listener_(static_cast<int>(socket.impl()->sockfd()));
  }

 private:
  std::function<void(int)> listener_;
};

class WatchedHttpSession final : public Poco::Net::HTTPClientSession, public ConnectListener {
 public:
  using HTTPClientSession::HTTPClientSession;

 protected:
  void connect(const Poco::Net::SocketAddress& address) override {
    HTTPClientSession::connect(address);
    announce(socket());
  }
};

class WatchedHttpsSession final : public Poco::Net::HTTPSClientSession, public ConnectListener {
 public:
  using HTTPSClientSession::HTTPSClientSession;

 protected:
  void connect(const Poco::Net::SocketAddress& address) override {
    // The handshake (and the certificate checks) then run on the first send, after the
    // descriptor was handed to the cancel.
    Poco::Net::SecureStreamSocket(socket()).setLazyHandshake(true);
    HTTPSClientSession::connect(address);
    announce(socket());
  }
};

}  // namespace

struct HttpClient::Abort {
  std::mutex mutex;
  int fd = -1;
  AbortReason reason = AbortReason::kNone;

  void fire(AbortReason why) {
    std::lock_guard lock(mutex);
    if (reason != AbortReason::kNone) return;
    reason = why;
    // shutdown() (not close()) wakes the blocked reader without freeing the descriptor, which
    // the request thread still owns.
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }
  void setSocket(int socket_fd) {
    std::lock_guard lock(mutex);
    fd = socket_fd;
    if (reason != AbortReason::kNone && fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }
  AbortReason why() {
    std::lock_guard lock(mutex);
    return reason;
  }
};

sdk::Status HttpClient::create(HttpClientOptions options, sdk::Clock& clock,
                               std::unique_ptr<HttpClient>& client) {
  std::unique_ptr<HttpClient> made(new HttpClient(std::move(options), clock));
  const auto& opts = made->options_;
  try {
    const Poco::URI uri(opts.url);
    made->scheme_ = uri.getScheme();
    made->host_ = uri.getHost();
    made->port_ = uri.getPort();
    made->path_and_query_ = uri.getPathAndQuery();
    if (made->path_and_query_.empty()) made->path_and_query_ = "/";
    if ((made->scheme_ != "https" && made->scheme_ != "http") || made->host_.empty()) {
      return sdk::Status::failure("url '" + opts.url + "' is not an http(s) URL with a host");
    }
  } catch (const Poco::Exception& error) {
    return sdk::Status::failure("url '" + opts.url + "' is not a URL: " + error.message());
  }
  if (!opts.proxy.empty()) {
    try {
      const Poco::URI proxy(opts.proxy);
      made->proxy_host_ = proxy.getHost();
      made->proxy_port_ = proxy.getPort();
      const std::string& user_info = proxy.getUserInfo();
      if (!user_info.empty()) {
        const auto colon = user_info.find(':');
        made->proxy_user_ = user_info.substr(0, colon);
        if (colon != std::string::npos) made->proxy_password_ = user_info.substr(colon + 1);
      }
    } catch (const Poco::Exception& error) {
      return sdk::Status::failure("proxy is not a URL: " + error.message());
    }
  }
  if (made->scheme_ == "https") {
    try {
      made->context_ = https::strictClientContext(opts.ca_file);
    } catch (const Poco::Exception& error) {
      return sdk::Status::failure("ca_file: cannot use '" + opts.ca_file +
                                  "' as a CA bundle: " + error.displayText());
    }
  }
  client = std::move(made);
  return sdk::Status::success();
}

HttpClient::HttpClient(HttpClientOptions options, sdk::Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

HttpClient::~HttpClient() {
  shutdown();
}

void HttpClient::shutdown() {
  std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>> idle;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    idle.swap(idle_);
  }
  for (auto& session : idle) {
    try {
      session->reset();
    } catch (...) {
    }
  }
}

std::size_t HttpClient::idleConnections() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

std::unique_ptr<Poco::Net::HTTPClientSession> HttpClient::newSession(
    std::int64_t timeout_ms) const {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (context_.isNull()) {
    session = std::make_unique<WatchedHttpSession>(host_, port_);
  } else {
    session = std::make_unique<WatchedHttpsSession>(host_, port_, context_);
  }
  if (!proxy_host_.empty()) {
    session->setProxy(proxy_host_, proxy_port_);
    if (!proxy_user_.empty()) session->setProxyCredentials(proxy_user_, proxy_password_);
  }
  session->setKeepAlive(true);
  session->setKeepAliveTimeout(Poco::Timespan(kKeepAliveSeconds, 0));
  applyTimeouts(*session, timeout_ms);
  return session;
}

std::unique_ptr<Poco::Net::HTTPClientSession> HttpClient::acquire(std::int64_t timeout_ms,
                                                                  bool& reused) {
  {
    std::lock_guard lock(mutex_);
    ++in_flight_;
    if (in_flight_ <= options_.shared_connections && !idle_.empty()) {
      auto session = std::move(idle_.back());
      idle_.pop_back();
      reused = true;
      applyTimeouts(*session, timeout_ms);
      return session;
    }
  }
  reused = false;
  return newSession(timeout_ms);
}

void HttpClient::release(std::unique_ptr<Poco::Net::HTTPClientSession> session, bool reusable) {
  std::unique_ptr<Poco::Net::HTTPClientSession> drop;
  {
    std::lock_guard lock(mutex_);
    --in_flight_;
    if (reusable && !stopping_ &&
        idle_.size() < static_cast<std::size_t>(std::max(options_.shared_connections, 0))) {
      idle_.push_back(std::move(session));
    } else {
      drop = std::move(session);
    }
  }
  if (drop) {
    try {
      drop->reset();
    } catch (...) {
    }
  }
}

FetchResult HttpClient::get(const std::string& cookie_header, std::int64_t deadline_steady_ms,
                            sdk::CancelToken* cancel) {
  FetchResult result;
  auto abort = std::make_shared<Abort>();
  if (cancel != nullptr) {
    // The core owns the deadline: its scheduler cancels the poll when the deadline passes
    // (and at shutdown), and this turns that into the end of the exchange.
    cancel->onCancel([abort, this, deadline_steady_ms] {
      abort->fire(clock_.steadyNowMs() >= deadline_steady_ms ? AbortReason::kDeadline
                                                             : AbortReason::kCancelled);
    });
  }

  // A reused connection the server has meanwhile closed fails before any response byte: that
  // request is retried once on a fresh connection.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const std::int64_t remaining_ms = deadline_steady_ms - clock_.steadyNowMs();
    if (remaining_ms <= 0) abort->fire(AbortReason::kDeadline);
    if (abort->why() != AbortReason::kNone) break;
    bool reused = false;
    auto session = attempt == 0 ? acquire(remaining_ms, reused) : nullptr;
    if (attempt > 0) {
      {
        std::lock_guard lock(mutex_);
        ++in_flight_;
      }
      session = newSession(remaining_ms);
    }
    bool reusable = false;
    bool retryable = false;
    auto* listener = dynamic_cast<ConnectListener*>(session.get());
    if (listener != nullptr) {
      listener->setListener([raw = abort.get()](int fd) { raw->setSocket(fd); });
    }
    result = exchange(*session, cookie_header, *abort, reusable, retryable);
    if (listener != nullptr) listener->setListener({});
    result.reused_connection = reused;
    abort->setSocket(-1);
    release(std::move(session), reusable && abort->why() == AbortReason::kNone);
    if (!(retryable && reused)) break;
  }

  const AbortReason reason = abort->why();
  if (cancel != nullptr) cancel->onCancel({});
  if (reason == AbortReason::kDeadline) {
    result = FetchResult{};
    result.status = FetchStatus::kTimeout;
    result.error = "no complete response before the poll deadline";
  } else if (reason == AbortReason::kCancelled) {
    result = FetchResult{};
    result.status = FetchStatus::kCancelled;
    result.error = "the poll was cancelled";
  }
  return result;
}

FetchResult HttpClient::exchange(Poco::Net::HTTPClientSession& session,
                                 const std::string& cookie_header, Abort& abort, bool& reusable,
                                 bool& retryable) {
  FetchResult result;
  bool response_started = false;
  try {
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path_and_query_,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost(host_, port_);
    request.set("User-Agent", options_.user_agent);
    request.set("Accept", "application/json, text/plain, */*");
    request.set("Accept-Encoding", "gzip");
    if (!cookie_header.empty()) request.set("Cookie", cookie_header);
    request.setKeepAlive(true);
    session.sendRequest(request);
    abort.setSocket(static_cast<int>(session.socket().impl()->sockfd()));

    Poco::Net::HTTPResponse response;
    std::istream& raw_stream = session.receiveResponse(response);
    response_started = true;
    result.http_status = https::statusCode(response);
    result.reason = response.getReason();
    result.content_type = response.getContentType();
    result.location = response.get("Location", "");

    const std::size_t limit = options_.max_body_bytes;
    if (response.hasContentLength() && response.getContentLength64() >= 0 &&
        static_cast<std::uint64_t>(response.getContentLength64()) > limit) {
      result.status = FetchStatus::kTooLarge;
      result.error = "the response announces " + std::to_string(response.getContentLength64()) +
                     " bytes, more than the limit of " + std::to_string(limit);
      return result;
    }
    const bool gzip = Poco::icompare(response.get("Content-Encoding", ""), "gzip") == 0;
    std::unique_ptr<Poco::InflatingInputStream> inflater;
    std::istream* body_stream = &raw_stream;
    if (gzip) {
      inflater = std::make_unique<Poco::InflatingInputStream>(
          raw_stream, Poco::InflatingStreamBuf::STREAM_GZIP);
      body_stream = inflater.get();
    }
    char buffer[16384];
    while (body_stream->read(buffer, sizeof buffer) || body_stream->gcount() > 0) {
      result.body.append(buffer, static_cast<std::size_t>(body_stream->gcount()));
      if (result.body.size() > limit) {
        result.status = FetchStatus::kTooLarge;
        result.error = "the response body exceeds the limit of " + std::to_string(limit) +
                       " bytes" + (gzip ? " after gzip decoding" : "");
        result.body.clear();
        return result;
      }
    }
    if (gzip) {
      // Leave the connection at a message boundary so it can carry the next request.
      while (raw_stream.read(buffer, sizeof buffer) || raw_stream.gcount() > 0) {
      }
    }
    if (abort.why() != AbortReason::kNone) return result;
    if (!gzip && response.hasContentLength() &&
        static_cast<std::uint64_t>(response.getContentLength64()) != result.body.size()) {
      result.status = FetchStatus::kTransportError;
      result.error = "the connection closed after " + std::to_string(result.body.size()) + " of " +
                     std::to_string(response.getContentLength64()) + " bytes";
      return result;
    }
    result.status = FetchStatus::kOk;
    reusable = response.getKeepAlive();
  } catch (const Poco::TimeoutException&) {
    result.status = FetchStatus::kTimeout;
    result.error = "no complete response before the poll deadline";
  } catch (const Poco::Net::SSLException& error) {
    result.status = FetchStatus::kTransportError;
    result.error = "TLS: " + error.displayText();
    retryable = !response_started;
  } catch (const Poco::Exception& error) {
    result.status = FetchStatus::kTransportError;
    result.error = error.displayText();
    retryable = !response_started;
  } catch (const std::exception& error) {
    result.status = FetchStatus::kTransportError;
    result.error = error.what();
    retryable = !response_started;
  }
  return result;
}

}  // namespace gatherd::plugins::xychatai
