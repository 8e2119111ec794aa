#pragma once
// An HTTP(S) receiver on 127.0.0.1 for tests of anything that posts out (webhook messages):
// it records every request and answers scripted statuses, then 200 with a set body.
// Header-only on Poco: a test that includes it links Poco::Net and Poco::NetSSL.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>

namespace gatherd::sdk::testing {

class HttpReceiver {
 public:
  struct Request {
    std::string method;
    std::string path_and_query;
    std::string content_type;
    std::string body;
  };
  /// The server's key and certificate (PEM files) for an https receiver.
  struct Tls {
    std::string key_file;
    std::string cert_file;
  };

  /// Plain HTTP on a free port of 127.0.0.1.
  HttpReceiver() : HttpReceiver(nullptr) {}
  explicit HttpReceiver(const Tls& tls) : HttpReceiver(&tls) {}
  ~HttpReceiver() { server_->stopAll(true); }
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/hook") const {
    return scheme_ + "://127.0.0.1:" + std::to_string(port_) + path;
  }
  /// The next requests get these statuses, in order (with a small JSON error body); after them
  /// every request gets 200 with the answer.
  void script(std::vector<int> statuses) {
    std::lock_guard lock(mutex_);
    statuses_ = std::move(statuses);
  }
  /// Every request gets this status from now on (until script() or answerAlways() again).
  void answerAlways(int status) {
    std::lock_guard lock(mutex_);
    statuses_.clear();
    always_ = status;
  }
  void answer(std::string body) {
    std::lock_guard lock(mutex_);
    answer_ = std::move(body);
  }
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  explicit HttpReceiver(const Tls* tls) {
    const Poco::Net::SocketAddress address("127.0.0.1", 0);
    if (tls == nullptr) {
      socket_ = std::make_unique<Poco::Net::ServerSocket>(address, 64);
    } else {
      Poco::Net::initializeSSL();
      Poco::Net::Context::Ptr context =
          new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, tls->key_file, tls->cert_file,
                                 "", Poco::Net::Context::VERIFY_NONE);
      socket_ = std::make_unique<Poco::Net::SecureServerSocket>(address, 64, context);
    }
    scheme_ = tls == nullptr ? "http" : "https";
    port_ = socket_->address().port();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(4);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), *socket_, params);
    server_->start();
  }

  class Handler final : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(HttpReceiver& receiver) : receiver_(receiver) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
      Request received;
      received.method = request.getMethod();
      received.path_and_query = request.getURI();
      received.content_type = request.getContentType();
      Poco::StreamCopier::copyToString(request.stream(), received.body);
      int status = 200;
      std::string answer;
      {
        std::lock_guard lock(receiver_.mutex_);
        receiver_.requests_.push_back(received);
        status = receiver_.always_;
        if (!receiver_.statuses_.empty()) {
          status = receiver_.statuses_.front();
          receiver_.statuses_.erase(receiver_.statuses_.begin());
        }
        answer = status == 200 ? receiver_.answer_ : "{\"error\":\"scripted\"}";
      }
      response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
      response.setContentType("application/json");
      response.setContentLength(static_cast<std::streamsize>(answer.size()));
      response.send() << answer;
    }

   private:
    HttpReceiver& receiver_;
  };
  class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(HttpReceiver& receiver) : receiver_(receiver) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
      return new Handler(receiver_);
    }

   private:
    HttpReceiver& receiver_;
  };

  std::unique_ptr<Poco::Net::ServerSocket> socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::string scheme_;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::vector<int> statuses_;
  int always_ = 200;
  std::string answer_ = "{}";
  std::vector<Request> requests_;
};

}  // namespace gatherd::sdk::testing
