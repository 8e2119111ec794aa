#pragma once
// Small HTTP helpers for every test that speaks HTTP to the core (tests/core/http, integration,
// runtime): a real client (Poco) and a raw socket for requests a well-behaved client would never
// send.

#include <chrono>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gatherd::core::testing {

struct Reply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names as sent
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  Poco::JSON::Object::Ptr json() const {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
  }
};

inline Reply request(std::uint16_t port, const std::string& method, const std::string& uri,
                     const std::vector<std::pair<std::string, std::string>>& headers = {},
                     const std::string& body = {}) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest req(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty() || method == "POST")
    req.setContentLength(static_cast<std::streamsize>(body.size()));
  session.sendRequest(req) << body;
  Poco::Net::HTTPResponse response;
  std::istream& stream = session.receiveResponse(response);
  Reply reply;
  reply.status = response.getStatus();
  for (const auto& [name, value] : response) reply.headers[name] = value;
  Poco::StreamCopier::copyToString(stream, reply.body);
  return reply;
}

inline Reply get(std::uint16_t port, const std::string& uri,
                 const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  return request(port, "GET", uri, headers);
}

/// A connected TCP socket to 127.0.0.1:port; closes itself.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  RawClient(RawClient&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), received_(std::move(other.received_)) {}

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  bool send(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
  /// Reads until `needle` appears in everything received so far, the peer closes, or
  /// `timeout_ms` passes. Returns true if the needle was seen.
  bool readUntil(const std::string& needle, int timeout_ms = 10'000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (received_.find(needle) == std::string::npos) {
      if (!readSome(deadline)) return received_.find(needle) != std::string::npos;
    }
    return true;
  }
  /// Reads until the peer closes (true) or the timeout passes (false).
  bool readUntilClosed(int timeout_ms = 10'000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      const int status = readOnce(deadline);
      if (status == 0) return true;
      if (status < 0) return false;
    }
  }
  const std::string& received() const { return received_; }
  void clearReceived() { received_.clear(); }
  /// Everything received after the first "\r\n\r\n" (the response head).
  std::string bodyAfterHead() const {
    const auto end = received_.find("\r\n\r\n");
    return end == std::string::npos ? std::string() : received_.substr(end + 4);
  }

 private:
  // 1 = got data, 0 = peer closed, -1 = timeout or error.
  int readOnce(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return -1;
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(left)) <= 0) return -1;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n == 0) return 0;
    if (n < 0) return errno == ECONNRESET ? 0 : -1;
    received_.append(buffer, static_cast<std::size_t>(n));
    return 1;
  }
  bool readSome(std::chrono::steady_clock::time_point deadline) { return readOnce(deadline) == 1; }

  int fd_ = -1;
  std::string received_;
};

/// Sends one raw request and returns the whole answer (the connection is closed after it).
inline std::string rawExchange(std::uint16_t port, const std::string& text) {
  RawClient client(port);
  client.send(text);
  client.readUntilClosed();
  return client.received();
}

inline int statusOf(const std::string& raw_response) {
  if (raw_response.rfind("HTTP/1.", 0) != 0 || raw_response.size() < 12) return 0;
  return std::stoi(raw_response.substr(9, 3));
}

}  // namespace gatherd::core::testing
