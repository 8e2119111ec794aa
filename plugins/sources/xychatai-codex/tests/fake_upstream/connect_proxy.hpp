#pragma once
// A minimal HTTP CONNECT proxy on 127.0.0.1 for tests of the `proxy` setting. It tunnels only
// to loopback targets.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gatherd::plugins::xychatai::testing {

class ConnectProxy {
 public:
  ConnectProxy();
  ~ConnectProxy();
  ConnectProxy(const ConnectProxy&) = delete;
  ConnectProxy& operator=(const ConnectProxy&) = delete;

  void start();
  void stop();
  std::uint16_t port() const noexcept { return port_; }
  /// "http://127.0.0.1:<port>"
  std::string url() const;
  /// CONNECT requests seen, and the last target ("localhost:1234").
  int tunnels() const;
  std::string lastTarget() const;

 private:
  struct Impl;
  void acceptLoop();
  void serve(int index);

  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<std::thread> workers_;
  int tunnels_ = 0;
  std::string last_target_;
};

}  // namespace gatherd::plugins::xychatai::testing
