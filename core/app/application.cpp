#include "core/app/application.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <system_error>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "core/alerts/alert_engine.hpp"
#include "core/app/migrate_command.hpp"
#include "core/app/runtime.hpp"
#include "core/app/service_notifier.hpp"
#include "core/config/daemon_config.hpp"
#include "core/observe/logging.hpp"
#include "core/observe/startup_pages.hpp"
#include "core/plugins/plugin_loader.hpp"
#include "core/schedule/system_clock.hpp"
#include <unistd.h>

namespace gatherd::core {
namespace {

// The name of a stop signal for the log (strsignal() is not thread-safe).
const char* stopSignalName(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return signal == SIGQUIT ? "SIGQUIT" : "a stop signal";
}

constexpr const char* kDefaultConfig = "conf/gatherd.ini";
// Where the .deb and the Docker image install it: the default when ./conf/gatherd.ini is absent.
constexpr const char* kInstalledConfig = "/etc/gatherd/gatherd.ini";
constexpr const char* kPidFile = "gatherd.pid";

// The running service's pid, in data_dir, so that `gatherd reload` finds it.
class PidFile {
 public:
  explicit PidFile(const std::string& data_dir)
      : path_(std::filesystem::path(data_dir) / kPidFile) {
    std::ofstream(path_) << ::getpid() << "\n";
    std::error_code error;
    std::filesystem::permissions(
        path_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
        std::filesystem::perm_options::replace, error);
  }
  ~PidFile() {
    std::error_code error;
    std::filesystem::remove(path_, error);
  }
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

 private:
  std::filesystem::path path_;
};

void reportRefused(const PluginCatalog& catalog, spdlog::logger& log) {
  for (const auto& refused : catalog.refused) {
    log.warn("plugin refused: {}: {}", refused.path, refused.reason);
  }
}

// Makes `logger` spdlog's default for the scope's lifetime, then restores the previous one.
class DefaultLoggerScope {
 public:
  explicit DefaultLoggerScope(std::shared_ptr<spdlog::logger> logger)
      : previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::move(logger));
  }
  ~DefaultLoggerScope() { spdlog::set_default_logger(previous_); }
  DefaultLoggerScope(const DefaultLoggerScope&) = delete;
  DefaultLoggerScope& operator=(const DefaultLoggerScope&) = delete;

 private:
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace

Application::Application() {
  setUnixOptions(true);
}

void Application::defineOptions(Poco::Util::OptionSet& options) {
  ServerApplication::defineOptions(options);
  options.addOption(
      Poco::Util::Option("config", "c",
                         "the ini file (default conf/gatherd.ini, else /etc/gatherd/gatherd.ini)")
          .required(false)
          .repeatable(false)
          .argument("FILE"));
  options.addOption(
      Poco::Util::Option("from", "", "migrate: the history to copy, sqlite:PATH or sqlite")
          .required(false)
          .repeatable(false)
          .argument("STORE"));
  options.addOption(
      Poco::Util::Option("to", "", "migrate: where it goes, postgres:DSN or postgres (the ini's)")
          .required(false)
          .repeatable(false)
          .argument("STORE"));
  options.addOption(Poco::Util::Option("sink", "",
                                       "test-alert: only this [sink.NAME]; migrate --to postgres: "
                                       "this one of several postgres sinks")
                        .required(false)
                        .repeatable(false)
                        .argument("NAME"));
  options.addOption(Poco::Util::Option("help", "h", "show this help").required(false));
  options.addOption(Poco::Util::Option("version", "V", "print the version").required(false));
}

void Application::handleOption(const std::string& name, const std::string& value) {
  ServerApplication::handleOption(name, value);
  if (name == "config") {
    // Absolute now: --daemon changes to / before main() runs.
    config_path_ = std::filesystem::absolute(value).string();
  } else if (name == "sink") {
    sink_name_ = value;
  } else if (name == "from") {
    migrate_from_ = value;
  } else if (name == "to") {
    migrate_to_ = value;
  } else if (name == "help") {
    printHelp();
    stop_ = true;
    stopOptionsProcessing();
  } else if (name == "version") {
    std::cout << "gatherd " << GATHERD_VERSION << " (sdk ABI " << sdk::kAbiMajor << "."
              << sdk::kAbiMinor << ", " << sdk::kBuildFingerprint << ")\n";
    stop_ = true;
    stopOptionsProcessing();
  }
}

void Application::printHelp() {
  Poco::Util::HelpFormatter help(options());
  help.setCommand("gatherd");
  help.setWidth(110);
  help.setUsage(
      "[--config FILE] [once | check-config | plugins | reload | health | check-db | test-alert "
      "[--sink NAME] | migrate --from sqlite[:PATH] --to postgres[:DSN]]");
  help.setHeader(
      "gatherd collects records from source plugins every interval and hands them to sink "
      "plugins.\n"
      "  (no verb)      run the service (SIGHUP reloads the config, SIGTERM/SIGINT stop)\n"
      "  once           poll every source once and print the records as JSON lines; write nothing\n"
      "  check-config   validate the config against the plugins' schemas and print it\n"
      "  plugins        list the plugins found in plugin_dir, and why any was refused\n"
      "  reload         ask the running service (pid file in data_dir) to re-read its config\n"
      "  health         ask the running service's /ready on [http] bind: exit 0 ready, 1 not\n"
      "  check-db       run the full integrity check of every sqlite store (may take a while)\n"
      "  test-alert     send a sample alert to every webhook sink (or only --sink NAME)\n"
      "  migrate        copy a sqlite store's history into PostgreSQL (idempotent: run it\n"
      "                 again to resume); without :PATH / :DSN the ini's sqlite / postgres sink\n"
      "Exit codes: 0 ok, 1 runtime error, 2 configuration or usage error, 3 a `once` poll failed.");
  help.format(std::cout);
}

int Application::main(const std::vector<std::string>& args) {
  if (stop_) return kExitOk;
  if (config_path_.empty()) {
    std::error_code error;
    config_path_ = !std::filesystem::exists(kDefaultConfig, error) &&
                           std::filesystem::exists(kInstalledConfig, error)
                       ? kInstalledConfig
                       : std::filesystem::absolute(kDefaultConfig).string();
  }
  if (args.size() > 1) {
    std::cerr << "gatherd: one verb at most (see --help)\n";
    return kExitConfigError;
  }
  const std::string verb = args.empty() ? "" : args.front();
  if (!verb.empty()) {
    // Only the service loop takes signals with sigwait; the short verbs stop on Ctrl-C as usual.
    sigset_t signals;
    sigemptyset(&signals);
    for (int signal : {SIGINT, SIGTERM, SIGQUIT, SIGHUP}) sigaddset(&signals, signal);
    pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
  }
  try {
    if (verb.empty()) return runService();
    if (verb == "once") return runOnce();
    if (verb == "check-config") return checkConfig();
    if (verb == "plugins") return listPlugins();
    if (verb == "reload") return signalReload();
    if (verb == "health") return checkHealth();
    if (verb == "check-db") return checkDatabases();
    if (verb == "test-alert") return testAlert();
    if (verb == "migrate") {
      return runMigrate({config_path_, migrate_from_, migrate_to_, sink_name_}, std::cout,
                        std::cerr);
    }
    std::cerr << "gatherd: unknown verb '" << verb << "' (see --help)\n";
    return kExitConfigError;
  } catch (const ConfigError& error) {
    std::cerr << "gatherd: configuration error: " << error.what() << "\n";
    return kExitConfigError;
  } catch (const StartupError& error) {
    std::cerr << "gatherd: " << error.what() << "\n";
    return error.exitCode();
  } catch (const std::exception& error) {
    std::cerr << "gatherd: " << error.what() << "\n";
    return kExitRuntimeError;
  }
}

int Application::runService() {
  Logging logging;
  auto log = logging.get("core");
  // Code that logs through spdlog's default logger (the HTTP server) goes through the masking
  // sink and the same format too, until `logging` goes away.
  DefaultLoggerScope default_logger(logging.get("http"));
  SystemClock clock;
  DaemonConfig config = loadDaemonConfig(config_path_);
  std::vector<std::unique_ptr<PluginCatalog>> catalogs;  // kept: libraries are never unloaded
  catalogs.push_back(
      std::make_unique<PluginCatalog>(loadPlugins(config.plugin_dir, config.pluginIds())));
  reportRefused(*catalogs.back(), *log);
  ServiceNotifier notifier;  // systemd Type=notify; does nothing outside systemd
  Runtime runtime(logging, clock);
  runtime.setNotifier(&notifier);
  runtime.build(std::move(config), *catalogs.back(), Runtime::Mode::kService);
  runtime.start();
  PidFile pid_file(runtime.config().data_dir);
  // Logged before READY, so that whoever sees READY finds the line in the log.
  if (notifier.watchdogPingIntervalMs() > 0) {
    log->info("systemd watchdog: the scheduler pings every {} ms",
              notifier.watchdogPingIntervalMs());
  }
  // The store is open and HTTP listens (start() returned): ready.
  notifier.ready("ready: " + runtime.statusLine());
  releaseStartupPages(*log);

  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGINT, SIGTERM, SIGQUIT, SIGHUP}) sigaddset(&signals, signal);
  for (;;) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal != SIGHUP) {
      log->info("{} received: stopping (in-flight polls get {} ms)", stopSignalName(signal),
                runtime.config().shutdown_grace_ms);
      notifier.stopping();
      break;
    }
    log->info("SIGHUP received: reloading {}", config_path_);
    notifier.reloading();
    std::string outcome = "reloaded";
    try {
      DaemonConfig next = loadDaemonConfig(config_path_);
      catalogs.push_back(
          std::make_unique<PluginCatalog>(loadPlugins(next.plugin_dir, next.pluginIds())));
      runtime.reload(std::move(next), *catalogs.back());
    } catch (const std::exception& error) {
      log->error("reload failed, the running config stays: {}", error.what());
      outcome = "reload failed, the old config runs";
    }
    notifier.ready(outcome + ": " + runtime.statusLine());
  }
  runtime.stop();
  return kExitOk;
}

int Application::runOnce() {
  Logging logging;
  SystemClock clock;
  DaemonConfig config = loadDaemonConfig(config_path_);
  PluginCatalog catalog = loadPlugins(config.plugin_dir, config.pluginIds());
  reportRefused(catalog, *logging.get("core"));
  Runtime runtime(logging, clock);
  runtime.build(std::move(config), catalog, Runtime::Mode::kOnce);
  return runtime.pollOnce(std::cout, std::cerr);
}

int Application::testAlert() {
  Logging logging;
  SystemClock clock;
  DaemonConfig config = loadDaemonConfig(config_path_);
  PluginCatalog catalog = loadPlugins(config.plugin_dir, config.pluginIds());
  reportRefused(catalog, *logging.get("core"));
  Runtime runtime(logging, clock);
  runtime.build(std::move(config), catalog, Runtime::Mode::kAlertTest);
  Alert alert;
  alert.rule = "test";
  alert.source = "gatherd";
  alert.fired_ms = clock.utcNowMs();
  alert.id = "test|gatherd||" + std::to_string(alert.fired_ms);
  sdk::Batch batch;
  batch.window.source = "gatherd";
  batch.window.window_ms = batch.window.started_ms = batch.window.finished_ms = alert.fired_ms;
  batch.records.push_back(alertRecord(alert));
  int exit_code = kExitOk;
  for (const auto& [name, result] : runtime.writeDirect(batch, "webhook", sink_name_)) {
    if (result == sdk::WriteResult::kOk) {
      std::cout << "sink." << name << ": sample alert sent\n";
    } else {
      std::cout << "sink." << name << ": not sent ("
                << (result == sdk::WriteResult::kRetry ? "the receiver is unreachable or failed"
                                                       : "the receiver refused it")
                << "; the log above says why)\n";
      exit_code = kExitRuntimeError;
    }
  }
  runtime.stop();
  return exit_code;
}

int Application::checkConfig() {
  DaemonConfig config = loadDaemonConfig(config_path_);
  PluginCatalog catalog = loadPlugins(config.plugin_dir, config.pluginIds());
  std::map<std::string, sdk::ConfigSchema> schemas;
  for (const auto& [id, plugin] : catalog.plugins) schemas[id] = plugin.descriptor->schema();
  std::vector<std::string> problems;
  auto check = [&](const std::vector<InstanceSection>& sections, sdk::PluginKind kind) {
    for (const auto& section : sections) {
      auto it = catalog.plugins.find(section.plugin);
      const std::string where =
          config.file + ":" + std::to_string(section.line) + ": [" + section.section + "] plugin";
      if (it == catalog.plugins.end()) {
        const RefusedPlugin* refusal = catalog.refusalFor(section.plugin);
        problems.push_back(
            where + ": no plugin '" + section.plugin + "' in " + config.plugin_dir +
            (refusal ? " (" + refusal->path + " was refused: " + refusal->reason + ")" : ""));
        continue;
      }
      if (it->second.descriptor->kind != kind) {
        problems.push_back(where + ": '" + section.plugin + "' is not a " +
                           sdk::pluginKindName(kind) + " plugin");
        continue;
      }
      try {
        (void)validateInstance(config, section, schemas[section.plugin]);
      } catch (const ConfigError& error) {
        problems.push_back(error.what());
      }
    }
  };
  check(config.sources, sdk::PluginKind::kSource);
  check(config.sinks, sdk::PluginKind::kSink);
  std::cout << describeConfig(config, schemas);
  for (const auto& problem : problems)
    std::cerr << "gatherd: configuration error: " << problem << "\n";
  if (!problems.empty()) return kExitConfigError;
  std::cout << "configuration ok: " << config.sources.size() << " source(s), "
            << config.sinks.size() << " sink(s)\n";
  return kExitOk;
}

int Application::signalReload() {
  DaemonConfig config = loadDaemonConfig(config_path_);
  const auto path = std::filesystem::path(config.data_dir) / kPidFile;
  pid_t pid = 0;
  std::ifstream(path) >> pid;
  if (pid <= 0 || ::kill(pid, 0) != 0) {
    std::cerr << "gatherd: no running gatherd for " << config_path_ << " (" << path.string()
              << " names no live process)\n";
    return kExitRuntimeError;
  }
  if (::kill(pid, SIGHUP) != 0) {
    std::cerr << "gatherd: cannot signal pid " << pid << ": "
              << std::error_code(errno, std::generic_category()).message() << "\n";
    return kExitRuntimeError;
  }
  std::cout << "sent SIGHUP to gatherd (pid " << pid << "): it re-reads " << config_path_
            << "; its log says whether the new config was taken\n";
  return kExitOk;
}

int Application::checkHealth() {
  DaemonConfig config = loadDaemonConfig(config_path_);
  const std::string& bind = config.http_bind;
  const auto colon = bind.rfind(':');
  std::string host = colon == std::string::npos ? "" : bind.substr(0, colon);
  const std::string port_text = colon == std::string::npos ? "" : bind.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  // A wildcard bind listens on loopback too.
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  int port = 0;
  try {
    port = std::stoi(port_text);
  } catch (const std::exception&) {
  }
  if (port <= 0 || port > 65535) {
    std::cerr << "gatherd: health: [http] bind '" << bind << "' names no fixed port to ask\n";
    return kExitConfigError;
  }
  try {
    Poco::Net::HTTPClientSession session(host, static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(5, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/ready",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& body = session.receiveResponse(response);
    std::string text;
    Poco::StreamCopier::copyToString(body, text);
    std::cout << "http://" << (host.find(':') != std::string::npos ? "[" + host + "]" : host) << ":"
              << port << "/ready: " << static_cast<int>(response.getStatus()) << " " << text
              << "\n";
    return response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK ? kExitOk : kExitRuntimeError;
  } catch (const std::exception& error) {
    std::cerr << "gatherd: health: no answer from " << host << ":" << port << ": " << error.what()
              << "\n";
    return kExitRuntimeError;
  }
}

int Application::checkDatabases() {
  DaemonConfig config = loadDaemonConfig(config_path_);
  int checked = 0;
  bool all_ok = true;
  for (const auto& section : config.sinks) {
    if (section.plugin != "sqlite") continue;
    std::string path = "gatherd.db";
    for (const auto& entry : section.entries) {
      if (entry.key == "path" && !entry.value.empty()) path = entry.value;
    }
    if (path.front() != '/') path = (std::filesystem::path(config.data_dir) / path).string();
    ++checked;
    std::cout << "[" << section.section << "] " << path << ": ";
    std::cout.flush();
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      std::cout << "cannot open: " << (db != nullptr ? sqlite3_errmsg(db) : "out of memory")
                << "\n";
      sqlite3_close(db);
      all_ok = false;
      continue;
    }
    sqlite3_busy_timeout(db, 10'000);
    const auto started = std::chrono::steady_clock::now();
    sqlite3_stmt* statement = nullptr;
    std::vector<std::string> problems;
    int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check(100)", -1, &statement, nullptr);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
      if ((rc = sqlite3_step(statement)) != SQLITE_ROW) break;
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
      if (text != nullptr && std::string(text) != "ok") problems.emplace_back(text);
    }
    if (rc != SQLITE_DONE) problems.emplace_back(sqlite3_errmsg(db));
    sqlite3_finalize(statement);
    sqlite3_close(db);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    if (problems.empty()) {
      std::cout << "ok (integrity_check, " << ms << " ms)\n";
      continue;
    }
    all_ok = false;
    std::cout << problems.size() << " problem(s) found (integrity_check, " << ms << " ms):\n";
    for (const auto& problem : problems) std::cout << "  " << problem << "\n";
    std::cout << "  stop gatherd, then restore a backup or move the file aside; batches not yet "
                 "stored stay in data_dir/spool\n";
  }
  if (checked == 0) std::cout << "no sqlite sink is configured in " << config.file << "\n";
  return all_ok ? kExitOk : kExitRuntimeError;
}

int Application::listPlugins() {
  DaemonConfig config = loadDaemonConfig(config_path_);
  PluginCatalog catalog = loadPlugins(config.plugin_dir);
  std::cout << "plugin directory: " << config.plugin_dir << "\n";
  for (const auto& [id, plugin] : catalog.plugins) {
    const auto* descriptor = plugin.descriptor;
    std::cout << "\n"
              << id << " (" << sdk::pluginKindName(descriptor->kind) << " " << descriptor->version
              << ", ABI " << descriptor->abi.abi_major << "." << descriptor->abi.abi_minor << ")  "
              << plugin.path << "\n  " << descriptor->description << "\n";
    for (const auto& key : descriptor->schema()) {
      std::cout << "    " << key.name << " (" << sdk::configTypeName(key.type)
                << (key.required ? ", required" : "") << (key.secret ? ", secret" : "")
                << (key.default_value.empty() ? "" : ", default " + key.default_value) << ")  "
                << key.description << "\n";
    }
  }
  for (const auto& refused : catalog.refused) {
    std::cout << "\nrefused: " << refused.path << "\n  " << refused.reason << "\n";
  }
  return kExitOk;
}

}  // namespace gatherd::core
