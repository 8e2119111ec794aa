#pragma once
// Shared by the runtime tests that run gatherd against the fake xychatai upstream: the fake in
// --rolling mode (it logs every answer, so a test knows every record it served), a small HTTP
// GET, and the port a gatherd listens on.

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <catch2/catch.hpp>

#include "gatherd/sdk/testing/eventually.hpp"
#include "gatherd_process.hpp"
#include <signal.h>

namespace gatherd::testing {

class Upstream {
 public:
  /// The fake in --rolling mode with `per_answer` new records an answer, its files in `dir`.
  explicit Upstream(const std::filesystem::path& dir, int per_answer = 2)
      : log_((std::filesystem::create_directories(dir), dir / "served.log")),
        process_({FAKE_UPSTREAM_BIN, "--port", "0", "--print-port", "--rolling",
                  std::to_string(per_answer), "--served-log", log_.string()},
                 dir),
        port_(printedPort(process_)) {}
  const std::string& port() const { return port_; }
  /// Answers so far.
  std::size_t answers() const {
    const std::string text = readFile(log_);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  }
  /// Every record id any answer listed.
  std::set<std::string> served() const {
    std::set<std::string> ids;
    std::istringstream lines(readFile(log_));
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      const long long total = std::stoll(line);
      for (long long n = std::max(0LL, total - 20); n < total; ++n) {
        std::string digits = std::to_string(n);
        ids.insert("roll-" + std::string(digits.size() < 8 ? 8 - digits.size() : 0, '0') + digits);
      }
    }
    return ids;
  }
  /// Later answers repeat the current total.
  void freeze() const { process_.signal(SIGUSR1); }
  /// Waits for `count` more answers.
  bool waitAnswers(std::size_t count, std::chrono::milliseconds timeout) const {
    return sdk::testing::eventually([&] { return answers() >= count; }, timeout,
                                    std::chrono::milliseconds(20));
  }

 private:
  std::filesystem::path log_;
  ChildProcess process_;
  std::string port_;
};

struct Http {
  int status = 0;
  std::string body;
};

inline Http get(int port, const std::string& path) {
  Http result;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(5, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& body = session.receiveResponse(response);
    Poco::StreamCopier::copyToString(body, result.body);
    result.status = static_cast<int>(response.getStatus());
  } catch (const std::exception&) {
    result.status = -1;
  }
  return result;
}

inline int portOf(const GatherdProcess& gatherd) {
  REQUIRE(gatherd.waitForLog("http: listening on", std::chrono::seconds(20)));
  const std::string log = gatherd.err();
  const auto at = log.find("http: listening on 127.0.0.1:");
  REQUIRE(at != std::string::npos);
  return std::stoi(log.substr(at + std::string("http: listening on 127.0.0.1:").size()));
}

}  // namespace gatherd::testing
