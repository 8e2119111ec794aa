#pragma once
// The gatherd command line: the service and its verbs, on Poco's ServerApplication.

#include <string>
#include <vector>

#include <Poco/Util/ServerApplication.h>

namespace gatherd::core {

/// `gatherd [--config FILE] [once | check-config | plugins | reload | health]`, `--help`,
/// `--version`. Signals: main() blocks SIGINT, SIGTERM, SIGQUIT and SIGHUP before any thread
/// starts; the service loop takes them with sigwait (SIGHUP reloads, the others drain and stop).
class Application final : public Poco::Util::ServerApplication {
 public:
  Application();

 protected:
  void defineOptions(Poco::Util::OptionSet& options) override;
  void handleOption(const std::string& name, const std::string& value) override;
  int main(const std::vector<std::string>& args) override;

 private:
  int runService();
  int runOnce();
  int testAlert();
  int checkConfig();
  int listPlugins();
  int signalReload();
  int checkHealth();  // `health`: GET /ready on [http] bind, for Docker's HEALTHCHECK
  /// `gatherd check-db`: PRAGMA integrity_check on every sqlite sink's database.
  int checkDatabases();
  void printHelp();

  std::string config_path_;
  std::string sink_name_;  ///< --sink of test-alert and migrate
  std::string migrate_from_;
  std::string migrate_to_;
  bool stop_ = false;  // --help or --version answered
};

}  // namespace gatherd::core
