#include "core/http/http_server.hpp"

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <stdexcept>
#include <unistd.h>

#include <Poco/ErrorHandler.h>
#include <Poco/Exception.h>
#include <Poco/HMACEngine.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/SHA2Engine.h>
#include <Poco/ThreadPool.h>
#include <spdlog/spdlog.h>

#include "core/http/api_routes.hpp"
#include "core/http/query_params.hpp"
#include "core/http/static_files.hpp"
#include "json/json_writer.hpp"

namespace gatherd::core {
namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

class SHA256Engine : public Poco::SHA2Engine {
 public:
  enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
  SHA256Engine() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
};

/// Exceptions that escape Poco's threads are otherwise swallowed without a trace.
class LoggingErrorHandler : public Poco::ErrorHandler {
 public:
  void exception(const Poco::Exception& error) override {
    // Clients that hang up mid-request are routine (browsers, load generators): not a warning.
    if (dynamic_cast<const Poco::Net::ConnectionResetException*>(&error) != nullptr ||
        dynamic_cast<const Poco::Net::ConnectionAbortedException*>(&error) != nullptr ||
        dynamic_cast<const Poco::TimeoutException*>(&error) != nullptr) {
      spdlog::debug("http server: {}", error.displayText());
      return;
    }
    spdlog::warn("http server: {}", error.displayText());
  }
  void exception(const std::exception& error) override {
    spdlog::warn("http server: {}", error.what());
  }
  void exception() override { spdlog::warn("http server: unknown exception"); }
};

bool constantTimeEquals(const std::string& given, const std::string& expected) {
  // Runs over the expected length whatever is given, so timing reveals neither content nor length.
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char a = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    difference |= static_cast<unsigned char>(a ^ static_cast<unsigned char>(expected[i]));
  }
  return difference == 0;
}

std::string lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return text;
}

std::string cookieValue(const std::string& header, const std::string& name) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string pair = header.substr(pos, end - pos);
    pos = end + 1;
    const auto first = pair.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    pair.erase(0, first);
    const auto equals = pair.find('=');
    if (equals != std::string::npos && pair.compare(0, equals, name) == 0 && equals == name.size()) {
      return pair.substr(equals + 1);
    }
  }
  return {};
}

void sendResponse(HTTPServerResponse& response, const sdk::HttpResponse& answer, bool head_only) {
  response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer.status));
  response.setContentType(answer.content_type);
  for (const auto& [name, value] : answer.headers) response.add(name, value);
  response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
  if (head_only) {
    response.send().flush();
  } else {
    response.sendBuffer(answer.body.data(), answer.body.size());
  }
}

class PocoExchange final : public sdk::HttpExchange {
 public:
  PocoExchange(const sdk::HttpRequest& request, HTTPServerRequest& poco_request,
               HTTPServerResponse& poco_response)
      : request_(request), poco_request_(poco_request), poco_response_(poco_response) {}

  const sdk::HttpRequest& request() const override { return request_; }

  void respond(const sdk::HttpResponse& response) override {
    if (done_) return;
    done_ = true;
    sendResponse(poco_response_, response, request_.method == "HEAD");
  }

  int detach(const sdk::HttpResponse& head) override {
    if (done_) return -1;
    done_ = true;
    try {
      poco_response_.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(head.status));
      poco_response_.setContentType(head.content_type);
      for (const auto& [name, value] : head.headers) poco_response_.add(name, value);
      poco_response_.setChunkedTransferEncoding(false);
      // The stream ends when the connection does; nothing else will be read from it.
      poco_response_.setKeepAlive(false);
      poco_response_.send().flush();
      auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&poco_request_);
      if (impl == nullptr) return -1;
      Poco::Net::StreamSocket socket = impl->detachSocket();
      // Poco closes its descriptor with the last StreamSocket copy; the plugin owns the dup.
      return ::dup(socket.impl()->sockfd());
    } catch (const std::exception& error) {
      spdlog::warn("http server: detaching a connection failed: {}", error.what());
      return -1;
    }
  }

  bool done() const { return done_; }

 private:
  const sdk::HttpRequest& request_;
  HTTPServerRequest& poco_request_;
  HTTPServerResponse& poco_response_;
  bool done_ = false;
};

struct PluginRoute {
  std::string path;
  sdk::RouteHandler handler;
  std::string token;  // accepted besides the API token; when set, a token is always needed
};

}  // namespace

struct HttpServer::Impl {
  Impl(HttpServerOptions opts, SourceStatusRegistry& sources,
       std::function<sdk::Store*()> store_provider)
      : options(std::move(opts)),
        api(sources, std::move(store_provider)),
        files(options.web_root),
        session_value(options.token.empty() ? std::string()
                                            : HttpServer::sessionCookieValue(options.token)) {}

  void serve(HTTPServerRequest& request, HTTPServerResponse& response);
  bool readRequest(HTTPServerRequest& request, HTTPServerResponse& response,
                   sdk::HttpRequest& out);
  bool authorized(const sdk::HttpRequest& request) const;
  bool routeAuthorized(const PluginRoute& route, const sdk::HttpRequest& request) const;
  sdk::HttpResponse login(const sdk::HttpRequest& request) const;
  void addCors(const sdk::HttpRequest& request, HTTPServerResponse& response) const;
  const PluginRoute* findRoute(const std::string& path) const;

  HttpServerOptions options;
  ApiRoutes api;
  StaticFiles files;
  std::string session_value;
  std::vector<PluginRoute> routes;
  std::atomic<bool> stopping{false};
  std::unique_ptr<Poco::ThreadPool> pool;
  std::unique_ptr<Poco::Net::HTTPServer> server;
  std::uint16_t port = 0;
  bool started = false;
};

namespace {

class RequestHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit RequestHandler(HttpServer::Impl& impl) : impl_(impl) {}
  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override;

 private:
  HttpServer::Impl& impl_;
};

class HandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit HandlerFactory(HttpServer::Impl& impl) : impl_(impl) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new RequestHandler(impl_);
  }

 private:
  HttpServer::Impl& impl_;
};

void RequestHandler::handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) {
  try {
    impl_.serve(request, response);
    return;
  } catch (const std::exception& error) {
    spdlog::warn("http server: {} {} failed: {}", request.getMethod(), request.getURI().substr(0, 200),
                 error.what());
  } catch (...) {
    spdlog::warn("http server: {} failed with an unknown exception", request.getMethod());
  }
  try {
    if (!response.sent()) {
      response.setKeepAlive(false);
      sendResponse(response, jsonError(500, "internal error"), false);
    }
  } catch (...) {
    // The connection is already broken; Poco closes it.
  }
}

}  // namespace

bool HttpServer::Impl::readRequest(HTTPServerRequest& request, HTTPServerResponse& response,
                                   sdk::HttpRequest& out) {
  out.method = request.getMethod();
  const std::string& uri = request.getURI();
  const auto question = uri.find('?');
  const std::string raw_path = uri.substr(0, question);
  out.query = question == std::string::npos ? std::string() : uri.substr(question + 1);
  auto decoded = raw_path.empty() || raw_path[0] != '/' ? std::nullopt
                                                        : percentDecode(raw_path, false);
  if (!decoded) {
    response.setKeepAlive(false);
    sendResponse(response, jsonError(400, "malformed request path", "path"), false);
    return false;
  }
  out.path = std::move(*decoded);
  for (const auto& [name, value] : request) out.headers[lower(name)] = value;
  out.client_address = request.clientAddress().toString();

  const bool has_length = request.hasContentLength();
  const auto length = has_length ? request.getContentLength64() : 0;
  if ((has_length && length > static_cast<Poco::Int64>(options.max_body_bytes)) || length < 0) {
    response.setKeepAlive(false);
    sendResponse(response, jsonError(413, "request body too large"), false);
    return false;
  }
  if (has_length || request.getChunkedTransferEncoding()) {
    std::istream& stream = request.stream();
    std::string body;
    char buffer[8192];
    while (stream.read(buffer, sizeof(buffer)) || stream.gcount() > 0) {
      body.append(buffer, static_cast<std::size_t>(stream.gcount()));
      if (body.size() > options.max_body_bytes) {
        response.setKeepAlive(false);
        sendResponse(response, jsonError(413, "request body too large"), false);
        return false;
      }
    }
    out.body = std::move(body);
  }
  return true;
}

bool HttpServer::Impl::authorized(const sdk::HttpRequest& request) const {
  if (options.token.empty()) return true;
  if (auto it = request.headers.find("authorization"); it != request.headers.end()) {
    const std::string& value = it->second;
    if (value.size() > 7 && lower(value.substr(0, 7)) == "bearer ") {
      return constantTimeEquals(value.substr(7), options.token);
    }
  }
  if (auto it = request.headers.find("cookie"); it != request.headers.end()) {
    const std::string cookie = cookieValue(it->second, HttpServer::kSessionCookie);
    if (!cookie.empty()) return constantTimeEquals(cookie, session_value);
  }
  return false;
}

bool HttpServer::Impl::routeAuthorized(const PluginRoute& route,
                                       const sdk::HttpRequest& request) const {
  if (route.token.empty()) return authorized(request);
  if (auto it = request.headers.find("authorization"); it != request.headers.end()) {
    const std::string& value = it->second;
    if (value.size() > 7 && lower(value.substr(0, 7)) == "bearer " &&
        constantTimeEquals(value.substr(7), route.token)) {
      return true;
    }
  }
  return !options.token.empty() && authorized(request);
}

sdk::HttpResponse HttpServer::Impl::login(const sdk::HttpRequest& request) const {
  if (request.method != "POST") {
    auto response = jsonError(405, "method not allowed; use POST");
    response.headers.emplace_back("Allow", "POST");
    return response;
  }
  // The dashboard's form posts token=<value>; scripts may post {"token": "..."}.
  std::string given;
  const auto type = request.headers.count("content-type") ? lower(request.headers.at("content-type"))
                                                          : std::string();
  if (type.rfind("application/json", 0) == 0) {
    const auto key = request.body.find("\"token\"");
    const auto open = key == std::string::npos ? key : request.body.find('"', request.body.find(':', key));
    const auto close = open == std::string::npos ? open : request.body.find('"', open + 1);
    if (close == std::string::npos) return jsonError(400, "body must be {\"token\": \"...\"}", "token");
    given = request.body.substr(open + 1, close - open - 1);
  } else {
    try {
      QueryParams form(request.body);
      given = form.text("token").value_or("");
    } catch (const ParameterError& error) {
      return jsonError(400, error.what(), error.parameter());
    }
  }
  if (given.empty()) return jsonError(400, "token is required", "token");
  if (options.token.empty()) {
    sdk::HttpResponse response;
    response.body = R"({"authenticated":true,"tokenRequired":false})";
    return response;
  }
  if (!constantTimeEquals(given, options.token)) return jsonError(401, "invalid token");
  sdk::HttpResponse response;
  response.body = R"({"authenticated":true,"tokenRequired":true})";
  response.headers.emplace_back("Set-Cookie", std::string(HttpServer::kSessionCookie) + "=" +
                                                  session_value +
                                                  "; Path=/; HttpOnly; SameSite=Strict");
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

void HttpServer::Impl::addCors(const sdk::HttpRequest& request, HTTPServerResponse& response) const {
  auto it = request.headers.find("origin");
  if (it == request.headers.end() || options.cors_origins.empty()) return;
  for (const auto& origin : options.cors_origins) {
    if (origin == it->second) {
      response.set("Access-Control-Allow-Origin", origin);
      response.set("Access-Control-Allow-Credentials", "true");
      response.set("Vary", "Origin");
      return;
    }
  }
}

const PluginRoute* HttpServer::Impl::findRoute(const std::string& path) const {
  for (const auto& route : routes) {
    if (path == route.path ||
        (path.size() > route.path.size() && path.compare(0, route.path.size(), route.path) == 0 &&
         path[route.path.size()] == '/')) {
      return &route;
    }
  }
  return nullptr;
}

void HttpServer::Impl::serve(HTTPServerRequest& request, HTTPServerResponse& response) {
  response.set("X-Content-Type-Options", "nosniff");
  if (stopping.load()) {
    response.setKeepAlive(false);
    sendResponse(response, jsonError(503, "shutting down"), false);
    return;
  }
  sdk::HttpRequest req;
  if (!readRequest(request, response, req)) return;
  addCors(req, response);
  const bool head_only = req.method == "HEAD";

  if (req.method == "OPTIONS" && req.headers.count("origin") && response.has("Access-Control-Allow-Origin")) {
    response.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    response.set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID");
    response.set("Access-Control-Max-Age", "600");
    sendResponse(response, sdk::HttpResponse{204, "text/plain", {}, {}}, false);
    return;
  }
  if (req.path == "/health" || req.path == "/ready") {
    sendResponse(response, api.handle(req), head_only);
    return;
  }
  if (req.path == "/api/login") {
    sendResponse(response, login(req), false);
    return;
  }
  if (req.path == "/api/logout") {
    sdk::HttpResponse answer;
    answer.body = R"({"authenticated":false})";
    answer.headers.emplace_back("Set-Cookie", std::string(HttpServer::kSessionCookie) +
                                                  "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    sendResponse(response, answer, false);
    return;
  }
  const PluginRoute* route = findRoute(req.path);
  const bool is_api = req.path == "/api" || req.path.rfind("/api/", 0) == 0;
  if (route != nullptr ? !routeAuthorized(*route, req) : is_api && !authorized(req)) {
    auto answer = jsonError(401, "missing or invalid token (send Authorization: Bearer <token>)");
    answer.headers.emplace_back("WWW-Authenticate", "Bearer");
    sendResponse(response, answer, head_only);
    return;
  }
  if (route != nullptr) {
    PocoExchange exchange(req, request, response);
    try {
      route->handler(exchange);
    } catch (const std::exception& error) {
      spdlog::warn("http server: route {} threw: {}", route->path, error.what());
    } catch (...) {
      spdlog::warn("http server: route {} threw an unknown exception", route->path);
    }
    if (!exchange.done() && !response.sent()) {
      sendResponse(response, jsonError(500, "internal error"), head_only);
    }
    return;
  }
  if (is_api) {
    sendResponse(response,
                 ApiRoutes::isCoreRoute(req.path) ? api.handle(req)
                                                  : jsonError(404, "no such route: " + req.path),
                 head_only);
    return;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    sendResponse(response, jsonError(405, "method not allowed"), false);
    return;
  }
  const auto encoding = req.headers.find("accept-encoding");
  const bool accepts_gzip =
      encoding != req.headers.end() && encoding->second.find("gzip") != std::string::npos;
  sendResponse(response, files.serve(req.path, accepts_gzip), head_only);
}

HttpServer::HttpServer(HttpServerOptions options, SourceStatusRegistry& sources,
                       std::function<sdk::Store*()> store_provider)
    : impl_(std::make_unique<Impl>(std::move(options), sources, std::move(store_provider))) {}

HttpServer::~HttpServer() { stop(); }

std::string HttpServer::sessionCookieValue(const std::string& token) {
  Poco::HMACEngine<SHA256Engine> hmac(token);
  hmac.update(std::string("gatherd-session-v1"));
  return Poco::DigestEngine::digestToHex(hmac.digest());
}

sdk::Status HttpServer::registerRoute(const std::string& path, sdk::RouteHandler handler,
                                      const sdk::RouteOptions& route_options) {
  if (impl_->started) return sdk::Status::failure("routes must be registered before the server starts");
  if (path.size() < 2 || path[0] != '/' || path.back() == '/') {
    return sdk::Status::failure("route path must start with '/' and not end with it: " + path);
  }
  if (path == "/api" || path.rfind("/api/", 0) == 0 || path == "/health" || path == "/ready") {
    return sdk::Status::failure("route " + path + " is reserved for the core API");
  }
  if (!handler) return sdk::Status::failure("route " + path + " has no handler");
  for (const auto& route : impl_->routes) {
    if (route.path == path) return sdk::Status::failure("route already registered: " + path);
  }
  impl_->routes.push_back({path, std::move(handler), route_options.token});
  return sdk::Status::success();
}

void HttpServer::start() {
  if (impl_->started) return;
  static std::once_flag process_setup;
  std::call_once(process_setup, [] {
    // A client that goes away mid-write must not kill the daemon.
    std::signal(SIGPIPE, SIG_IGN);
    static LoggingErrorHandler handler;
    Poco::ErrorHandler::set(&handler);
  });
  const HttpServerOptions& options = impl_->options;
  Poco::Net::ServerSocket socket;
  try {
    Poco::Net::SocketAddress address(options.bind);
    socket.bind(address, true, false);
    socket.listen(1024);
  } catch (const Poco::Exception& error) {
    throw std::runtime_error("[http] bind = " + options.bind + ": cannot listen: " +
                             error.displayText());
  }
  impl_->port = socket.address().port();

  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(options.max_threads);
  params->setMaxQueued(options.max_queued);
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(options.idle_timeout_ms * 1000));
  params->setTimeout(Poco::Timespan(options.idle_timeout_ms * 1000));
  params->setMaxKeepAliveRequests(0);
  params->setThreadIdleTime(Poco::Timespan(10, 0));
  impl_->pool = std::make_unique<Poco::ThreadPool>(1, options.max_threads, 60);
  impl_->server = std::make_unique<Poco::Net::HTTPServer>(new HandlerFactory(*impl_), *impl_->pool,
                                                          socket, params);
  impl_->server->start();
  impl_->started = true;
}

void HttpServer::stop() {
  if (!impl_->started) return;
  impl_->stopping = true;
  // stopAll(true) shuts down the sockets of running connections so their threads return.
  impl_->server->stopAll(true);
  impl_->pool->joinAll();
  impl_->server.reset();
  impl_->started = false;
}

std::uint16_t HttpServer::port() const { return impl_->port; }

}  // namespace gatherd::core
