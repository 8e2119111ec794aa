#pragma once
// One HTTP(S) POST per delivery: a fresh connection each time (alerts are rare, so a stale
// keep-alive connection is never reused), strict TLS verification, optional proxy.

#include <cstdint>
#include <memory>
#include <string>

#include <Poco/Net/Context.h>

#include "gatherd/sdk/status.hpp"

namespace gatherd::plugins::webhook {

struct PostResult {
  enum class Kind { kOk, kHttpStatus, kTransport };
  Kind kind = Kind::kTransport;
  int status = 0;
  std::string body;   ///< at most 64 KiB of the answer
  std::string error;  ///< transport error text (no URL: it is a secret)
};

class Poster {
 public:
  /// Checks the proxy URL and builds the TLS context (VERIFY_STRICT; ca_file or system CAs).
  static sdk::Status create(const std::string& proxy, const std::string& ca_file,
                            std::int64_t timeout_ms, std::unique_ptr<Poster>& poster);
  /// POSTs `body` as application/json to `url`. Never throws.
  PostResult post(const std::string& url, const std::string& body, const std::string& user_agent);

 private:
  Poster() = default;
  std::string proxy_host_;
  std::uint16_t proxy_port_ = 0;
  std::string proxy_user_;
  std::string proxy_password_;
  std::int64_t timeout_ms_ = 10'000;
  std::string ca_file_;
  Poco::Net::Context::Ptr context_;
};

}  // namespace gatherd::plugins::webhook
