// A real Prometheus scrapes a real gatherd (fake xychatai upstream -> sqlite + prometheus sinks)
// and answers PromQL over its HTTP API; the counters survive a restart of gatherd.
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <catch2/catch.hpp>

#include "gatherd/sdk/testing/eventually.hpp"
#include "gatherd_process.hpp"
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace gatherd::testing;
using namespace std::chrono_literals;

namespace {

// A port that was free a moment ago (Prometheus and a restarted gatherd need a known port).
int freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
};

Reply get(int port, const std::string& target,
          const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  Reply reply;
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, target,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : headers) request.set(name, value);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& body = session.receiveResponse(response);
    Poco::StreamCopier::copyToString(body, reply.body);
    reply.status = response.getStatus();
    reply.content_type = response.getContentType();
  } catch (const std::exception&) {
    reply.status = -1;
  }
  return reply;
}

// The single value of an instant PromQL query, if it has one yet.
std::optional<double> promql(int port, const std::string& query) {
  std::string target;
  Poco::URI::encode(query, "+&=#?/ ", target);
  const Reply reply = get(port, "/api/v1/query?query=" + target);
  if (reply.status != 200) return std::nullopt;
  Poco::JSON::Parser parser;
  auto root = parser.parse(reply.body).extract<Poco::JSON::Object::Ptr>();
  auto result = root->getObject("data")->getArray("result");
  if (result->size() != 1) return std::nullopt;
  auto value = result->getObject(0)->getArray("value");
  return std::stod(value->getElement<std::string>(1));
}

// Prometheus's HTTP API and /metrics are asked four times a second, not more.
template <class Predicate>
bool eventually(Predicate predicate, std::chrono::seconds timeout) {
  return gatherd::sdk::testing::eventually(predicate, timeout, 250ms);
}

struct Fixture {
  int count = 0;
  double cost = 0;
};

// What the fixture holds: the expected totals, computed independently of gatherd.
Fixture fixtureTotals(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  Poco::JSON::Parser parser;
  auto root = parser.parse(text.str()).extract<Poco::JSON::Object::Ptr>();
  auto records = root->getObject("data")->getObject("codex")->getArray("recentRecords");
  Fixture totals;
  for (std::size_t i = 0; i < records->size(); ++i) {
    ++totals.count;
    totals.cost += records->getObject(static_cast<unsigned>(i))->getValue<double>("cost");
  }
  return totals;
}

// The absolute path of a program on PATH (ChildProcess does not search PATH).
std::string onPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  FAIL(program << " is not installed (scripts/test.sh installs the prometheus package)");
  return {};
}

int runTool(const std::string& command, std::string& output) {
  std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t size = 0;
  while ((size = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, size);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE(
    "Prometheus scrapes gatherd: PromQL sees the invocations and cost, and a restart keeps them") {
  TempDir dir;
  const std::string fixture = XYCHATAI_TESTDATA_DIR "/quota-happy.json";
  const Fixture expected = fixtureTotals(fixture);
  REQUIRE(expected.count == 20);

  ChildProcess upstream({FAKE_UPSTREAM_BIN, "--port", "0", "--print-port", "--fixture", fixture},
                        dir.path());
  const std::string upstream_port = printedPort(upstream);

  const int gatherd_port = freePort();
  std::string config = baseConfig(dir.path(), "1s");
  const std::string any_port = "127.0.0.1:0";
  config.replace(config.find(any_port), any_port.size(),
                 "127.0.0.1:" + std::to_string(gatherd_port));
  config.replace(config.find("[http]\n"), 7, "[http]\ntoken = ${API_TOKEN}\n");
  config += "[source.acct]\nplugin = xychatai-codex\nbase_url = http://127.0.0.1:" + upstream_port +
            "\ncookie = ${XY_COOKIE}\n\n[sink.db]\nplugin = sqlite\npath = " +
            (dir.path() / "gatherd.db").string() +
            "\n\n[sink.metrics]\nplugin = prometheus\nmetrics_token = ${SCRAPE_TOKEN}\n";
  const auto config_path = dir.write("gatherd.ini", config);
  const std::vector<std::string> environment = {
      "API_TOKEN=api-token-1234", "SCRAPE_TOKEN=scrape-token-5678", "XY_COOKIE=test-cookie"};

  auto gatherd =
      std::make_unique<GatherdProcess>(config_path, std::vector<std::string>{}, environment);
  REQUIRE(gatherd->waitForLog("http: listening", 30s));

  // The token rules: nothing without a token, the API's token or the scrape token work.
  CHECK(get(gatherd_port, "/metrics").status == 401);
  CHECK(get(gatherd_port, "/metrics", {{"Authorization", "Bearer wrong"}}).status == 401);
  CHECK(get(gatherd_port, "/metrics", {{"Authorization", "Bearer api-token-1234"}}).status == 200);
  CHECK(get(gatherd_port, "/api/version", {{"Authorization", "Bearer scrape-token-5678"}}).status ==
        401);
  const std::vector<std::pair<std::string, std::string>> scrape = {
      {"Authorization", "Bearer scrape-token-5678"}};
  REQUIRE(eventually(
      [&] {
        return get(gatherd_port, "/metrics", scrape).body.find("gatherd_invocations_total") !=
               std::string::npos;
      },
      30s));

  // promtool checks the real exposition (text format), core metrics included.
  const Reply text = get(gatherd_port, "/metrics", scrape);
  CHECK(text.content_type == "text/plain; version=0.0.4; charset=utf-8");
  for (const char* family :
       {"gatherd_windows_total", "gatherd_window_start_lag_seconds_bucket",
        "gatherd_poll_duration_seconds_bucket", "gatherd_sink_write_duration_seconds_bucket",
        "gatherd_sink_queue_batches", "gatherd_polls_in_flight", "gatherd_source_auth_state",
        "process_resident_memory_bytes", "gatherd_build_info", "gatherd_quota_amount_remaining_usd",
        "gatherd_sink_health", "gatherd_spool_bytes"}) {
    CHECK_THAT(text.body, Catch::Contains(family));
  }
  CHECK(text.body.find("test-cookie") == std::string::npos);
  CHECK(text.body.find("sk-SYNTHETIC") == std::string::npos);
  const auto exposition = dir.write("metrics.txt", text.body);
  std::string output;
  const int promtool_status = runTool("promtool check metrics < " + exposition.string(), output);
  INFO(output);
  CHECK(promtool_status == 0);
  const Reply open = get(gatherd_port, "/metrics",
                         {scrape[0], {"Accept", "application/openmetrics-text;version=1.0.0"}});
  CHECK(open.content_type == "application/openmetrics-text; version=1.0.0; charset=utf-8");
  CHECK(open.body.substr(open.body.size() - 6) == "# EOF\n");

  // A real Prometheus (it asks for OpenMetrics first) with a 1 s scrape interval.
  const int prometheus_port = freePort();
  const auto token_file = dir.write("scrape-token", "scrape-token-5678");
  const auto prometheus_config = dir.write(
      "prometheus.yml",
      "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
      "scrape_configs:\n  - job_name: gatherd\n    authorization:\n      credentials_file: " +
          token_file.string() + "\n    static_configs:\n      - targets: ['127.0.0.1:" +
          std::to_string(gatherd_port) + "']\n");
  ChildProcess prometheus(
      {onPath("prometheus"), "--config.file=" + prometheus_config.string(),
       "--storage.tsdb.path=" + (dir.path() / "tsdb").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port), "--log.level=warn"},
      dir.path());
  auto invocations = [&] { return promql(prometheus_port, "sum(gatherd_invocations_total)"); };
  const bool scraped = eventually([&] { return invocations().has_value(); }, 60s);
  INFO("prometheus log: " << prometheus.err() << prometheus.out());
  INFO("targets: " << get(prometheus_port, "/api/v1/targets").body);
  INFO("query: " << get(prometheus_port, "/api/v1/query?query=gatherd_invocations_total").body);
  REQUIRE(scraped);
  CHECK(*invocations() == expected.count);
  const auto cost = promql(prometheus_port, "sum(gatherd_cost_usd_total)");
  REQUIRE(cost);
  CHECK(*cost == Approx(expected.cost).epsilon(1e-9));
  CHECK(
      promql(prometheus_port, "gatherd_quota_amount_remaining_usd{source=\"acct\"}").value_or(0) ==
      Approx(69.8266));
  CHECK(promql(prometheus_port, "gatherd_source_auth_state{source=\"acct\",state=\"ok\"}")
            .value_or(0) == 1);
  // The server's own families: its scrapes are answered plugin requests (2xx) and the earlier
  // requests without the scrape token 4xx; the store sink is healthy and spooled.
  CHECK(eventually(
      [&] {
        return promql(prometheus_port, "gatherd_http_requests_total{route=\"plugin\",code=\"2xx\"}")
                   .value_or(0) >= 2;
      },
      10s));
  CHECK(promql(prometheus_port, "gatherd_http_requests_total{route=\"plugin\",code=\"4xx\"}")
            .value_or(0) >= 2);
  CHECK(promql(prometheus_port, "gatherd_sink_health{sink=\"db\",state=\"ok\"}").value_or(0) == 1);
  CHECK(promql(prometheus_port, "gatherd_spool_write_failing{sink=\"db\"}").value_or(-1) == 0);
  // Prometheus keeps its scrape connection open; the gauge follows within a second.
  CHECK(eventually(
      [&] { return promql(prometheus_port, "gatherd_http_connections").value_or(0) >= 1; }, 10s));
  // The scrape itself was healthy (Prometheus's OpenMetrics parser accepted it).
  CHECK(promql(prometheus_port, "up{job=\"gatherd\"}").value_or(0) == 1);
  const Reply targets = get(prometheus_port, "/api/v1/targets");
  CHECK_THAT(targets.body, Catch::Contains("\"lastError\":\"\""));
  // Every query of the Grafana dashboard is valid PromQL for this Prometheus, and the ones
  // about data this run has return something.
  {
    std::ifstream file(GATHERD_SOURCE_DIR "/conf/prometheus/grafana-dashboard.json");
    std::stringstream json;
    json << file.rdbuf();
    Poco::JSON::Parser parser;
    auto panels = parser.parse(json.str()).extract<Poco::JSON::Object::Ptr>()->getArray("panels");
    int queries = 0;
    for (std::size_t i = 0; i < panels->size(); ++i) {
      auto panel = panels->getObject(static_cast<unsigned>(i));
      if (!panel->has("targets")) continue;
      auto panel_targets = panel->getArray("targets");
      for (std::size_t t = 0; t < panel_targets->size(); ++t) {
        std::string expr =
            panel_targets->getObject(static_cast<unsigned>(t))->getValue<std::string>("expr");
        for (const auto& [from, to] :
             std::vector<std::pair<std::string, std::string>>{{"$__rate_interval", "1m"},
                                                              {"$__range", "1h"},
                                                              {"$source", ".*"},
                                                              {"$job", "gatherd"}}) {
          for (auto at = expr.find(from); at != std::string::npos; at = expr.find(from))
            expr.replace(at, from.size(), to);
        }
        std::string target;
        Poco::URI::encode(expr, "+&=#?/ ", target);
        const Reply reply = get(prometheus_port, "/api/v1/query?query=" + target);
        INFO(expr << " -> " << reply.body);
        CHECK(reply.status == 200);
        ++queries;
      }
    }
    CHECK(queries >= 20);
  }

  // Restart gatherd: the upstream sends the same 20 records again; the counters neither reset
  // nor double.
  const double first_start = promql(prometheus_port, "process_start_time_seconds").value_or(0);
  gatherd->signal(SIGTERM);
  REQUIRE(gatherd->wait(30s) == 0);
  std::this_thread::sleep_for(1100ms);  // a new start time, to the second
  gatherd = std::make_unique<GatherdProcess>(config_path, std::vector<std::string>{}, environment);
  REQUIRE(gatherd->waitForLog("http: listening", 30s));
  REQUIRE(eventually(
      [&] {
        return promql(prometheus_port, "process_start_time_seconds").value_or(0) > first_start &&
               promql(prometheus_port, "sum(gatherd_windows_total{outcome=\"ok\"})").value_or(0) >=
                   1;
      },
      60s));
  CHECK(*invocations() == expected.count);
  CHECK(promql(prometheus_port, "sum(resets(gatherd_invocations_total[5m]))").value_or(-1) == 0);
  CHECK(promql(prometheus_port, "sum(gatherd_cost_usd_total)").value_or(0) ==
        Approx(expected.cost).epsilon(1e-9));
  prometheus.signal(SIGTERM);
  prometheus.wait(10s);
}
