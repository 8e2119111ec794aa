#include "fake_upstream.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <Poco/DeflatingStream.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>

#include "gatherd/lib/json/json_writer.hpp"
#include "gatherd/lib/json/time_format.hpp"

namespace gatherd::plugins::xychatai::testing {
namespace {

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(FakeUpstream& owner) : owner_(owner) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    owner_.handle(request, response);
  }

 private:
  FakeUpstream& owner_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(FakeUpstream& owner) : owner_(owner) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(owner_);
  }

 private:
  FakeUpstream& owner_;
};

std::string gzipped(const std::string& body) {
  std::ostringstream out;
  Poco::DeflatingOutputStream deflater(out, Poco::DeflatingStreamBuf::STREAM_GZIP);
  deflater << body;
  deflater.close();
  return out.str();
}

}  // namespace

ScriptedResponse ScriptedResponse::json(std::string body, int status) {
  ScriptedResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

FakeUpstream::FakeUpstream(Options options) : options_(std::move(options)) {
  default_ = ScriptedResponse::json(expiredSessionBody());
}

FakeUpstream::~FakeUpstream() {
  stop();
}

void FakeUpstream::start() {
  const Poco::Net::SocketAddress address("127.0.0.1", options_.port);
  std::unique_ptr<Poco::Net::ServerSocket> socket;
  if (options_.tls_certificate.empty()) {
    socket = std::make_unique<Poco::Net::ServerSocket>(address, 64);
  } else {
    Poco::Net::initializeSSL();
    Poco::Net::Context::Ptr context =
        new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, options_.tls_key,
                               options_.tls_certificate, "", Poco::Net::Context::VERIFY_NONE);
    socket = std::make_unique<Poco::Net::SecureServerSocket>(address, 64, context);
  }
  port_ = socket->address().port();
  auto params = new Poco::Net::HTTPServerParams;
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(60, 0));
  params->setMaxKeepAliveRequests(10'000);
  params->setTimeout(Poco::Timespan(30, 0));
  params->setMaxThreads(32);
  pool_ = std::make_unique<Poco::ThreadPool>(2, 32);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), *pool_, *socket, params);
  server_->start();
}

void FakeUpstream::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  changed_.notify_all();
  if (server_) {
    server_->stopAll(true);
    pool_->joinAll();
  }
}

std::string FakeUpstream::baseUrl(const std::string& host) const {
  return std::string(options_.tls_certificate.empty() ? "http" : "https") + "://" + host + ":" +
         std::to_string(port_);
}

void FakeUpstream::enqueue(ScriptedResponse response) {
  std::lock_guard lock(mutex_);
  queue_.push_back(std::move(response));
}

void FakeUpstream::setDefault(ScriptedResponse response) {
  std::lock_guard lock(mutex_);
  default_ = std::move(response);
  responder_ = nullptr;
}

void FakeUpstream::setResponder(Responder responder) {
  std::lock_guard lock(mutex_);
  responder_ = std::move(responder);
}

std::size_t FakeUpstream::connections() const {
  std::lock_guard lock(mutex_);
  return clients_.size();
}

std::int64_t FakeUpstream::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::vector<SeenRequest> FakeUpstream::seenRequests() const {
  std::lock_guard lock(mutex_);
  return seen_;
}

bool FakeUpstream::waitForRequests(std::int64_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return requests_ >= count; });
}

bool FakeUpstream::waitStoppable(std::chrono::milliseconds duration) {
  std::unique_lock lock(mutex_);
  return !changed_.wait_for(lock, duration, [&] { return stopping_; });
}

void FakeUpstream::handle(Poco::Net::HTTPServerRequest& request,
                          Poco::Net::HTTPServerResponse& response) {
  // The stats request is the test asking, not the collector: it is neither counted nor seen, so
  // "requests" says how many answers the collector got.
  if (request.getURI() == "/__fake/stats") {
    std::string body;
    {
      std::lock_guard lock(mutex_);
      json::Writer writer(body);
      writer.beginObject();
      writer.key("connections").integer(static_cast<std::int64_t>(clients_.size()));
      writer.key("requests").integer(requests_);
      writer.endObject();
    }
    response.setContentType("application/json");
    response.sendBuffer(body.data(), body.size());
    return;
  }
  ScriptedResponse script;
  std::int64_t index = 0;
  {
    std::lock_guard lock(mutex_);
    SeenRequest seen;
    seen.method = request.getMethod();
    seen.uri = request.getURI();
    seen.cookie = request.get("Cookie", "");
    seen.user_agent = request.get("User-Agent", "");
    seen.accept_encoding = request.get("Accept-Encoding", "");
    seen.client = request.clientAddress().toString();
    clients_.insert(seen.client);
    seen_.push_back(std::move(seen));
    index = requests_++;
    ++inside_;
    if (!queue_.empty()) {
      script = std::move(queue_.front());
      queue_.pop_front();
    } else if (responder_) {
      script = responder_(index);
    } else {
      script = default_;
    }
  }
  changed_.notify_all();

  try {
    if (script.hold_until_concurrent > 0) {
      std::unique_lock lock(mutex_);
      // Released when enough requests are inside at once, or when another held request saw
      // that moment after this one arrived (it may have finished and left since).
      changed_.wait_for(lock, std::chrono::seconds(10), [&] {
        return stopping_ || inside_ >= script.hold_until_concurrent || released_upto_ > index;
      });
      released_upto_ = std::max(released_upto_, requests_);
      lock.unlock();
      changed_.notify_all();
    }
    if (script.delay_ms > 0) waitStoppable(std::chrono::milliseconds(script.delay_ms));
    if (script.mode == ScriptedResponse::Mode::kHang) {
      waitStoppable(std::chrono::minutes(2));
    } else {
      std::string body = script.gzip ? gzipped(script.body) : script.body;
      // Poco's HTTPStatus enum ends at 511; the string overload carries codes such as 522.
      response.setStatus(std::to_string(script.status));
      response.setReason(script.status <= 511
                             ? Poco::Net::HTTPResponse::getReasonForStatus(
                                   static_cast<Poco::Net::HTTPResponse::HTTPStatus>(script.status))
                             : std::string("Unknown Status"));
      response.setContentType(script.content_type);
      for (const auto& [name, value] : script.headers) response.set(name, value);
      if (script.gzip) response.set("Content-Encoding", "gzip");
      response.setContentLength64(static_cast<Poco::Int64>(body.size()));
      if (script.mode == ScriptedResponse::Mode::kDrip) {
        std::ostream& out = response.send();
        out.flush();
        for (char c : body) {
          if (!waitStoppable(std::chrono::milliseconds(script.drip_interval_ms))) break;
          out.put(c);
          out.flush();
          if (!out) break;
        }
      } else {
        response.sendBuffer(body.data(), body.size());
      }
    }
  } catch (...) {
    // The client went away (cancelled, refused TLS...): nothing to answer.
  }
  {
    std::lock_guard lock(mutex_);
    --inside_;
  }
  changed_.notify_all();
}

std::string RollingRecords::requestId(std::int64_t n) {
  std::string digits = std::to_string(n);
  return "roll-" + std::string(digits.size() < 8 ? 8 - digits.size() : 0, '0') + digits;
}

std::string RollingRecords::bodyWithTotal(std::int64_t total) const {
  std::string body;
  body.reserve(12'000);
  json::Writer writer(body);
  writer.beginObject().key("code").integer(1).key("msg").string("success");
  writer.key("data").beginObject().key("codex").beginObject();
  writer.key("isAuth").boolean(true);
  writer.key("apiKey").string("sk-FAKE-UPSTREAM-KEY-0000000000000000");
  writer.key("subscriptions").beginObject();
  writer.key("id").integer(48213).key("subTypeName").string("codex 月卡 90刀类型");
  writer.key("billingType").string("amount").key("amountLimit").integer(90);
  writer.key("usedAmount").number(0.01 * static_cast<double>(total));
  writer.key("remainingAmount").number(90 - 0.01 * static_cast<double>(total));
  writer.key("period").string("daily").key("isActive").boolean(true);
  writer.key("isLongTerm").boolean(false);
  writer.endObject();
  writer.key("currentUsage").beginObject();
  writer.key("totalRequests").integer(total).key("totalTokens").integer(total * 52'000);
  writer.key("totalCost").number(0.015 * static_cast<double>(total));
  writer.endObject();
  writer.key("recentRecords").beginArray();
  for (std::int64_t n = total - 1; n >= 0 && n >= total - 20; --n) {
    // Naive Asia/Shanghai wall-clock times, 3 s apart, like the real API.
    const std::string iso = json::formatIsoUtc(first_time_ms_ + n * 3'000 + 8 * 3'600'000);
    const std::string naive = iso.substr(0, 10) + " " + iso.substr(11, 8);
    writer.beginObject();
    writer.key("requestId").string(requestId(n));
    writer.key("requestTime").string(naive);
    writer.key("model").string(n % 5 == 0 ? "gpt-5.1-codex-mini" : "gpt-5.3-codex");
    writer.key("inputTokens").integer(40'000 + n % 1000);
    writer.key("outputTokens").integer(1'000 + n % 100);
    writer.key("cacheInputTokens").integer(32'000);
    writer.key("cacheCreationTokens").integer(0);
    writer.key("cacheReadTokens").integer(32'000);
    writer.key("reasoningTokens").integer(300 + n % 50);
    writer.key("totalTokens").integer(41'000 + n % 1000 + n % 100);
    writer.key("responseTime").integer(10'000 + n % 7'000);
    writer.key("firstByteTime").integer(900 + n % 500);
    writer.key("cost").number(0.015 + static_cast<double>(n % 10) / 1000.0);
    writer.key("status").string(n % 17 == 3 ? "failed" : "success");
    writer.key("errorMessage").string(n % 17 == 3 ? "request failed: HTTP 502 Bad Gateway" : "");
    writer.endObject();
  }
  writer.endArray();
  writer.endObject().endObject().endObject();
  return body;
}

FakeUpstream::Responder RollingRecords::responder() const {
  const RollingRecords copy = *this;
  return [copy](std::int64_t index) {
    return ScriptedResponse::json(copy.bodyWithTotal((index + 1) * copy.per_request_));
  };
}

std::string expiredSessionBody() {
  return R"({"code":-1,"msg":"认证失败，请重新登录"})";
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace gatherd::plugins::xychatai::testing
