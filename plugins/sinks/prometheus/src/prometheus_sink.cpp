#include "prometheus_sink.hpp"

namespace gatherd::plugins::prometheus {

sdk::ConfigSchema prometheusSchema() {
  using sdk::ConfigType;
  return {
      sdk::key("path", ConfigType::kString)
          .byDefault("/metrics")
          .describedAs("the route Prometheus scrapes"),
      sdk::key("metrics_token", ConfigType::kString)
          .secret()
          .describedAs(
              "a bearer token for this route only, accepted besides [http] token (then a token is "
              "always needed)"),
      sdk::key("max_models", ConfigType::kInt)
          .byDefault("100")
          .describedAs("distinct model labels at most; further models share model=\"other\""),
      sdk::key("core_metrics", ConfigType::kBool)
          .byDefault("true")
          .describedAs("also expose the collector's own metrics (windows, polls, sinks, process)"),
  };
}

sdk::Status PrometheusSink::init(const sdk::Config& given, sdk::Host& host) {
  // Defaults come from the schema only (getters below take no fallback).
  const sdk::Config config = sdk::withDefaults(given, prometheusSchema());
  host_ = &host;
  const std::int64_t max_models = config.getInt("max_models");
  if (max_models < 1 || max_models > 10'000) {
    return sdk::Status::failure("max_models must be between 1 and 10000");
  }
  data_ = std::make_unique<DataMetrics>(static_cast<std::size_t>(max_models));
  core_ = config.getBool("core_metrics");
  const std::string path = config.getString("path");
  if (path.size() < 2 || path.front() != '/' || path.back() == '/') {
    return sdk::Status::failure("path must start with '/' and not end with it: " + path);
  }
  sdk::RouteOptions options;
  options.token = config.getString("metrics_token");
  auto status = host.registerRoute(
      path, [this](sdk::HttpExchange& exchange) { handle(exchange); }, options);
  if (!status) return status;
  return sdk::Status::success();
}

sdk::Status PrometheusSink::start() {
  // With the store sink listed first the store is there now, before any batch flows; else the
  // first write() seeds (the sequence check in seed() guards against concurrent writes).
  if (host_->store() != nullptr) seedOnce();
  return sdk::Status::success();
}

void PrometheusSink::seedOnce() {
  std::call_once(seeded_, [this] {
    sdk::Store* store = host_->store();
    if (store == nullptr) {
      host_->logger().info("no store: the data counters start from zero");
      return;
    }
    const sdk::Telemetry* telemetry = host_->telemetry();
    const auto sources =
        telemetry != nullptr ? telemetry->sourceNames() : std::vector<std::string>{};
    if (auto status = data_->seed(*store, sources); !status) {
      host_->logger().warn("could not read the store's totals, data counters start from zero: " +
                           status.message());
    }
  });
}

sdk::WriteResult PrometheusSink::write(const sdk::Batch& batch) {
  seedOnce();
  data_->apply(batch);
  return sdk::WriteResult::kOk;
}

std::string PrometheusSink::render(Format format) const {
  std::string out;
  out.reserve(64 * 1024);
  data_->render(format, out);
  if (core_ && host_ != nullptr) {
    if (const sdk::Telemetry* telemetry = host_->telemetry()) {
      std::vector<sdk::MetricFamily> families;
      families.reserve(64);
      telemetry->collect(families);
      writeFamilies(families, format, out);
    }
  }
  endExposition(format, out);
  return out;
}

void PrometheusSink::handle(sdk::HttpExchange& exchange) const {
  const sdk::HttpRequest& request = exchange.request();
  sdk::HttpResponse response;
  if (request.method != "GET" && request.method != "HEAD") {
    response.status = 405;
    response.content_type = "text/plain; charset=utf-8";
    response.headers.emplace_back("Allow", "GET, HEAD");
    response.body = "method not allowed; use GET\n";
    exchange.respond(response);
    return;
  }
  const auto accept = request.headers.find("accept");
  const Format format =
      negotiateFormat(accept == request.headers.end() ? std::string_view() : accept->second);
  response.content_type = contentType(format);
  response.headers.emplace_back("Cache-Control", "no-store");
  response.body = render(format);
  exchange.respond(response);
}

}  // namespace gatherd::plugins::prometheus
