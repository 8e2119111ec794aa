#include "poster.hpp"

#include <mutex>
#include <sstream>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/URI.h>

#include "gatherd/lib/https/https_client.hpp"

namespace gatherd::plugins::webhook {
namespace {

constexpr std::size_t kMaxAnswerBytes = 64 * 1024;

}  // namespace

sdk::Status Poster::create(const std::string& proxy, const std::string& ca_file,
                           std::int64_t timeout_ms, std::unique_ptr<Poster>& poster) {
  std::unique_ptr<Poster> made(new Poster());
  made->timeout_ms_ = timeout_ms;
  made->ca_file_ = ca_file;
  if (!proxy.empty()) {
    try {
      const Poco::URI uri(proxy);
      if (uri.getScheme() != "http" || uri.getHost().empty()) {
        return sdk::Status::failure("proxy: expected http://[user:pass@]host:port");
      }
      made->proxy_host_ = uri.getHost();
      made->proxy_port_ = uri.getPort();
      const std::string& user_info = uri.getUserInfo();
      if (!user_info.empty()) {
        const auto colon = user_info.find(':');
        made->proxy_user_ = user_info.substr(0, colon);
        if (colon != std::string::npos) made->proxy_password_ = user_info.substr(colon + 1);
      }
    } catch (const std::exception&) {
      return sdk::Status::failure("proxy: not a URL (expected http://[user:pass@]host:port)");
    }
  }
  try {
    made->context_ = https::strictClientContext(ca_file);
  } catch (const Poco::Exception& error) {
    return sdk::Status::failure("ca_file " + ca_file + ": " + error.displayText());
  }
  poster = std::move(made);
  return sdk::Status::success();
}

PostResult Poster::post(const std::string& url, const std::string& body,
                        const std::string& user_agent) {
  PostResult result;
  try {
    const Poco::URI uri(url);
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (uri.getScheme() == "https") {
      session =
          std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), context_);
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    }
    if (!proxy_host_.empty()) {
      session->setProxy(proxy_host_, proxy_port_);
      if (!proxy_user_.empty()) session->setProxyCredentials(proxy_user_, proxy_password_);
    }
    session->setKeepAlive(false);
    session->setTimeout(Poco::Timespan(timeout_ms_ * 1000));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, uri.getPathAndQuery(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json; charset=utf-8");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    request.set("User-Agent", user_agent);
    session->sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session->receiveResponse(response);
    char buffer[4096];
    while (in && result.body.size() < kMaxAnswerBytes) {
      in.read(buffer, sizeof buffer);
      result.body.append(buffer, static_cast<std::size_t>(in.gcount()));
    }
    result.status = https::statusCode(response);
    result.kind = result.status >= 200 && result.status < 300 ? PostResult::Kind::kOk
                                                              : PostResult::Kind::kHttpStatus;
  } catch (const Poco::Exception& error) {
    // displayText() names the host at most; the path (with the token) is never in it.
    result.kind = PostResult::Kind::kTransport;
    result.error = error.displayText();
  } catch (const std::exception& error) {
    result.kind = PostResult::Kind::kTransport;
    result.error = error.what();
  }
  return result;
}

}  // namespace gatherd::plugins::webhook
