#include "sse_sink.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace gatherd::plugins::sse {

sdk::ConfigSchema sseSchema() {
  return {
      sdk::key("heartbeat", sdk::ConfigType::kDuration)
          .byDefault("15s")
          .describedAs("interval of the keep-alive comment on every stream (at most 15s)"),
      sdk::key("retry", sdk::ConfigType::kDuration)
          .byDefault("3s")
          .describedAs("reconnect delay suggested to clients (the retry: field)"),
      sdk::key("client_buffer", sdk::ConfigType::kInt)
          .byDefault("262144")
          .describedAs("bytes a client may fall behind before it is dropped"),
      sdk::key("max_clients", sdk::ConfigType::kInt)
          .byDefault("20000")
          .describedAs("streams served at once; more get 503"),
      sdk::key("replay_limit", sdk::ConfigType::kInt)
          .byDefault("10000")
          .describedAs("missed events replayed on reconnect; more get a reset event"),
  };
}

BroadcasterOptions optionsFromConfig(const sdk::Config& given) {
  // Defaults come from the schema only (getters below take no fallback).
  const sdk::Config config = sdk::withDefaults(given, sseSchema());
  BroadcasterOptions options;
  options.heartbeat_ms = config.getDurationMs("heartbeat");
  options.retry_ms = config.getDurationMs("retry");
  options.client_buffer_bytes = static_cast<std::size_t>(config.getInt("client_buffer"));
  options.max_clients = static_cast<std::size_t>(config.getInt("max_clients"));
  options.replay_limit = static_cast<int>(config.getInt("replay_limit"));
  return options;
}

// The raw value of `name` in a query string ("a=1&lastEventId=42"); ids need no decoding.
std::optional<std::string> queryValue(const std::string& query, const std::string& name) {
  std::size_t start = 0;
  while (start <= query.size()) {
    const std::size_t end = std::min(query.find('&', start), query.size());
    const std::string pair = query.substr(start, end - start);
    if (pair.compare(0, name.size() + 1, name + "=") == 0) return pair.substr(name.size() + 1);
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<std::int64_t> parseLastEventId(const std::string& value) {
  std::int64_t id = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), id);
  if (value.empty() || error != std::errc() || end != value.data() + value.size() || id < 0) {
    return std::nullopt;
  }
  return id;
}

SseSink::~SseSink() {
  stop();
}

sdk::Status SseSink::init(const sdk::Config& config, sdk::Host& host) {
  // Messages without the section: the core prefixes "[sink.<name>]" (one rule for all plugins).
  host_ = &host;
  options_ = optionsFromConfig(config);
  if (options_.heartbeat_ms < 10 || options_.heartbeat_ms > 15'000) {
    return sdk::Status::failure("heartbeat must be between 10ms and 15s");
  }
  if (options_.client_buffer_bytes < 4096) {
    return sdk::Status::failure("client_buffer must be at least 4096");
  }
  if (options_.max_clients < 1 || options_.replay_limit < 0) {
    return sdk::Status::failure("max_clients must be positive and replay_limit not negative");
  }
  return host.registerStreamRoute("/events",
                                  [this](sdk::StreamExchange& exchange) { handle(exchange); });
}

sdk::Status SseSink::start() {
  sdk::Store* store = host_ == nullptr ? nullptr : host_->store();
  if (store == nullptr) {
    return sdk::Status::failure(
        "the sse sink needs a store sink (e.g. [sink.db] plugin = sqlite): events and "
        "Last-Event-ID replay are read from the store");
  }
  try {
    auto broadcaster = std::make_shared<Broadcaster>(options_, *store, host_->logger(),
                                                     host_->metrics(), host_->clock());
    broadcaster->start();
    std::lock_guard lock(mutex_);
    broadcaster_ = std::move(broadcaster);
  } catch (const std::exception& error) {
    return sdk::Status::failure(std::string("the sse sink could not start: ") + error.what());
  }
  return sdk::Status::success();
}

sdk::WriteResult SseSink::write(const sdk::Batch&) {
  std::lock_guard lock(mutex_);
  if (broadcaster_) broadcaster_->notify();
  return sdk::WriteResult::kOk;
}

void SseSink::stop() {
  std::shared_ptr<Broadcaster> broadcaster;
  {
    std::lock_guard lock(mutex_);
    broadcaster.swap(broadcaster_);
  }
  if (broadcaster) broadcaster->stop();
}

std::size_t SseSink::clientCount() const {
  auto* self = const_cast<SseSink*>(this);
  std::lock_guard lock(self->mutex_);
  return broadcaster_ ? broadcaster_->clientCount() : 0;
}

std::int64_t SseSink::droppedCount() const {
  auto* self = const_cast<SseSink*>(this);
  std::lock_guard lock(self->mutex_);
  return broadcaster_ ? broadcaster_->droppedCount() : 0;
}

void SseSink::handle(sdk::StreamExchange& exchange) {
  const sdk::HttpRequest& request = exchange.request();
  auto error = [&](int status, const std::string& message) {
    sdk::HttpResponse response;
    response.status = status;
    response.body = "{\"error\":\"" + message + "\"}";
    exchange.respond(response);
  };
  if (request.method != "GET") return error(405, "use GET");
  if (request.path != "/events") return error(404, "no such route");
  std::shared_ptr<Broadcaster> broadcaster;
  {
    std::lock_guard lock(mutex_);
    broadcaster = broadcaster_;
  }
  if (!broadcaster || !broadcaster->running()) return error(503, "the event stream is not running");
  std::optional<std::int64_t> last_event_id;
  if (auto it = request.headers.find("last-event-id"); it != request.headers.end()) {
    last_event_id = parseLastEventId(it->second);
  } else if (auto value = queryValue(request.query, "lastEventId")) {
    // A client that reconnects by hand (new EventSource) cannot set the header: it passes the id
    // it saw last in the URL instead.
    last_event_id = parseLastEventId(*value);
  }
  broadcaster->addClient(exchange, last_event_id);
}

}  // namespace gatherd::plugins::sse
