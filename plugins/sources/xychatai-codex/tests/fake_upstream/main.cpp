// xychatai-fake-upstream: the fake quota API as a process, for runtime and e2e tests.
//
//   xychatai-fake-upstream [--port N] [--tls CERTDIR] [--print-port]
//                          (--fixture FILE [--gzip] | --scenario FILE | --rolling N | --expired)
//                          [--served-log FILE]
//
// --tls serves HTTPS with CERTDIR/localhost.{crt,key}, made there with a test CA (ca.crt) when
// missing. --scenario FILE is JSON: {"responses":[{"status":200,"fixture":"x.json" | "body":"..",
// "gzip":false,"delay_ms":0,"mode":"normal|hang|drip","content_type":"..","headers":{..}}, ..]}
// served in order, the last one repeated. GET /__fake/stats answers
// {"connections":N,"requests":M}, the stats requests not counted. Runs until SIGINT or SIGTERM.
//
// With --rolling, --served-log FILE appends one line per answer, "<total>", after the answer
// was made: that answer listed the records roll-<n> for n in [max(0, total - 20), total). A
// fault test thus knows every record it served. SIGUSR1 freezes the account: later answers
// repeat the last total, so a test can let the collector catch up before it checks.

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Path.h>

#include "fake_upstream.hpp"
#include "test_certificates.hpp"
#include <signal.h>

namespace {

using gatherd::plugins::xychatai::testing::FakeUpstream;
using gatherd::plugins::xychatai::testing::ScriptedResponse;
namespace fake = gatherd::plugins::xychatai::testing;

int usage(const std::string& problem) {
  std::cerr << "xychatai-fake-upstream: " << problem << "\n"
            << "usage: xychatai-fake-upstream [--port N] [--tls CERTDIR] [--print-port]\n"
            << "         (--fixture FILE [--gzip] | --scenario FILE | --rolling N | --expired)\n";
  return 2;
}

ScriptedResponse responseFromJson(const Poco::JSON::Object& item, const std::string& base_dir) {
  ScriptedResponse response;
  response.status = item.optValue<int>("status", 200);
  if (item.has("fixture")) {
    Poco::Path path(item.getValue<std::string>("fixture"));
    if (path.isRelative()) path = Poco::Path(base_dir).append(path);
    response.body = fake::readFile(path.toString());
  } else {
    response.body = item.optValue<std::string>("body", "");
  }
  response.gzip = item.optValue<bool>("gzip", false);
  response.delay_ms = item.optValue<int>("delay_ms", 0);
  response.content_type = item.optValue<std::string>("content_type", response.content_type);
  const std::string mode = item.optValue<std::string>("mode", "normal");
  if (mode == "hang") {
    response.mode = ScriptedResponse::Mode::kHang;
  } else if (mode == "drip") {
    response.mode = ScriptedResponse::Mode::kDrip;
  } else if (mode != "normal") {
    throw std::runtime_error("unknown mode '" + mode + "'");
  }
  if (auto headers = item.getObject("headers")) {
    for (const auto& [name, value] : *headers) {
      response.headers.emplace_back(name, value.convert<std::string>());
    }
  }
  return response;
}

void loadScenario(FakeUpstream& server, const std::string& file) {
  Poco::JSON::Parser parser;
  const auto root = parser.parse(fake::readFile(file)).extract<Poco::JSON::Object::Ptr>();
  const auto responses = root->getArray("responses");
  if (!responses || responses->size() == 0) throw std::runtime_error("no \"responses\" in " + file);
  const std::string base_dir = Poco::Path(file).makeAbsolute().parent().toString();
  for (std::size_t i = 0; i < responses->size(); ++i) {
    const auto item = responses->getObject(static_cast<unsigned>(i));
    if (!item) throw std::runtime_error("responses[" + std::to_string(i) + "] is not an object");
    ScriptedResponse response = responseFromJson(*item, base_dir);
    if (i + 1 == responses->size()) {
      server.setDefault(std::move(response));
    } else {
      server.enqueue(std::move(response));
    }
  }
}

}  // namespace

namespace {
std::atomic<std::int64_t> g_frozen_total{-1};  // >= 0 after SIGUSR1
std::atomic<std::int64_t> g_last_total{0};
}  // namespace

int main(int argc, char** argv) {
  std::string port_text = "0", tls_dir, fixture, scenario, rolling, served_log;
  bool print_port = false, gzip = false, expired = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&](std::string& target) {
      if (i + 1 >= argc) return false;
      target = argv[++i];
      return true;
    };
    bool ok = true;
    if (arg == "--port")
      ok = next(port_text);
    else if (arg == "--tls")
      ok = next(tls_dir);
    else if (arg == "--fixture")
      ok = next(fixture);
    else if (arg == "--scenario")
      ok = next(scenario);
    else if (arg == "--rolling")
      ok = next(rolling);
    else if (arg == "--served-log")
      ok = next(served_log);
    else if (arg == "--print-port")
      print_port = true;
    else if (arg == "--gzip")
      gzip = true;
    else if (arg == "--expired")
      expired = true;
    else if (arg == "--help" || arg == "-h")
      return usage("help"), 0;
    else
      return usage("unknown argument '" + arg + "'");
    if (!ok) return usage(arg + " needs a value");
  }
  const int modes = !fixture.empty() + !scenario.empty() + !rolling.empty() + expired;
  if (modes != 1) return usage("give exactly one of --fixture, --scenario, --rolling, --expired");

  // Block the stop signals before any thread starts, so only sigwait() below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    FakeUpstream::Options options;
    options.port = static_cast<std::uint16_t>(std::stoi(port_text));
    if (!tls_dir.empty()) {
      const auto certificates = fake::TestCertificates::create(tls_dir);
      options.tls_certificate = certificates.localhost_cert;
      options.tls_key = certificates.localhost_key;
    }
    FakeUpstream server(options);
    if (!fixture.empty()) {
      ScriptedResponse response = ScriptedResponse::json(fake::readFile(fixture));
      response.gzip = gzip;
      server.setDefault(std::move(response));
    } else if (!scenario.empty()) {
      loadScenario(server, scenario);
    } else if (!rolling.empty()) {
      const long per_request = std::stol(rolling);
      if (per_request < 0) return usage("--rolling needs a count >= 0");
      const fake::RollingRecords records(per_request);
      auto log = std::make_shared<std::ofstream>();
      if (!served_log.empty()) log->open(served_log, std::ios::app);
      auto log_mutex = std::make_shared<std::mutex>();
      server.setResponder([records, per_request, log, log_mutex](std::int64_t index) {
        std::int64_t total = (index + 1) * per_request;
        {
          std::lock_guard lock(*log_mutex);
          if (g_frozen_total.load() >= 0) total = g_frozen_total.load();
          g_last_total = total;
          if (log->is_open()) *log << total << std::endl;
        }
        return fake::ScriptedResponse::json(records.bodyWithTotal(total));
      });
    } else {
      server.setDefault(ScriptedResponse::json(fake::expiredSessionBody()));
    }
    server.start();
    if (print_port) {
      std::cout << server.port() << std::endl;
    } else {
      std::cout << "xychatai-fake-upstream listening on " << server.baseUrl() << std::endl;
    }
    int received = 0;
    while (sigwait(&signals, &received) == 0 && received == SIGUSR1)
      g_frozen_total = g_last_total.load();
    server.stop();
  } catch (const Poco::Exception& error) {
    std::cerr << "xychatai-fake-upstream: " << error.displayText() << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "xychatai-fake-upstream: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
