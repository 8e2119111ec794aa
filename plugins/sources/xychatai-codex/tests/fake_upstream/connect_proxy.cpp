#include "connect_proxy.hpp"

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

namespace gatherd::plugins::xychatai::testing {

namespace {
const Poco::Timespan kTick(0, 100'000);
}

struct ConnectProxy::Impl {
  Poco::Net::ServerSocket server;
  std::vector<Poco::Net::StreamSocket> clients;
};

ConnectProxy::ConnectProxy() : impl_(std::make_unique<Impl>()) {}

ConnectProxy::~ConnectProxy() {
  stop();
}

void ConnectProxy::start() {
  impl_->server.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true);
  impl_->server.listen(16);
  port_ = impl_->server.address().port();
  acceptor_ = std::thread([this] { acceptLoop(); });
}

void ConnectProxy::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    workers.swap(workers_);
  }
  for (auto& worker : workers) worker.join();
}

std::string ConnectProxy::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

int ConnectProxy::tunnels() const {
  std::lock_guard lock(mutex_);
  return tunnels_;
}

std::string ConnectProxy::lastTarget() const {
  std::lock_guard lock(mutex_);
  return last_target_;
}

void ConnectProxy::acceptLoop() {
  while (!stopping_) {
    if (!impl_->server.poll(kTick, Poco::Net::Socket::SELECT_READ)) continue;
    Poco::Net::StreamSocket client = impl_->server.acceptConnection();
    std::lock_guard lock(mutex_);
    impl_->clients.push_back(client);
    const int index = static_cast<int>(impl_->clients.size()) - 1;
    workers_.emplace_back([this, index] { serve(index); });
  }
}

void ConnectProxy::serve(int index) {
  Poco::Net::StreamSocket client;
  {
    std::lock_guard lock(mutex_);
    client = impl_->clients[static_cast<std::size_t>(index)];
  }
  try {
    std::string head;
    char c = 0;
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 8192) {
      if (!client.poll(kTick, Poco::Net::Socket::SELECT_READ)) {
        if (stopping_) return;
        continue;
      }
      if (client.receiveBytes(&c, 1) <= 0) return;
      head.push_back(c);
    }
    const auto first_space = head.find(' ');
    const auto second_space = head.find(' ', first_space + 1);
    const std::string method = head.substr(0, first_space);
    const std::string target = head.substr(first_space + 1, second_space - first_space - 1);
    const auto colon = target.rfind(':');
    const std::string host = target.substr(0, colon);
    if (method != "CONNECT" || colon == std::string::npos ||
        (host != "localhost" && host != "127.0.0.1")) {
      const std::string refused = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
      client.sendBytes(refused.data(), static_cast<int>(refused.size()));
      return;
    }
    {
      std::lock_guard lock(mutex_);
      ++tunnels_;
      last_target_ = target;
    }
    Poco::Net::StreamSocket upstream(Poco::Net::SocketAddress(
        "127.0.0.1", static_cast<Poco::UInt16>(std::stoi(target.substr(colon + 1)))));
    const std::string established = "HTTP/1.1 200 Connection established\r\n\r\n";
    client.sendBytes(established.data(), static_cast<int>(established.size()));
    char buffer[16384];
    while (!stopping_) {
      Poco::Net::Socket::SocketList readable = {client, upstream};
      Poco::Net::Socket::SocketList writable;
      Poco::Net::Socket::SocketList failed;
      if (Poco::Net::Socket::select(readable, writable, failed, kTick) == 0) continue;
      for (auto& socket : readable) {
        Poco::Net::StreamSocket from(socket);
        Poco::Net::StreamSocket to = from == client ? upstream : client;
        const int received = from.receiveBytes(buffer, sizeof buffer);
        if (received <= 0) return;
        for (int sent = 0; sent < received;) {
          sent += to.sendBytes(buffer + sent, received - sent);
        }
      }
    }
  } catch (...) {
    // A peer went away: the tunnel ends.
  }
}

}  // namespace gatherd::plugins::xychatai::testing
