// Over 500 lines: start, stop, reload and once of the daemon: the ordering between plugins,
// pipeline, scheduler and HTTP lives in one file on purpose.
#include "core/app/runtime.hpp"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <ostream>
#include <set>
#include <thread>

#include "core/alerts/alert_engine.hpp"
#include "core/app/service_notifier.hpp"
#include "core/http/http_server.hpp"
#include "core/pipeline/pipeline.hpp"
#include "core/schedule/scheduler.hpp"
#include "gatherd/lib/json/record_json.hpp"
#include "gatherd/lib/json/time_format.hpp"

namespace gatherd::core {
namespace {

std::string where(const DaemonConfig& config, const InstanceSection& section) {
  return config.file + ":" + std::to_string(section.line) + ": [" + section.section + "]";
}

bool sameEntries(const std::vector<IniEntry>& a, const std::vector<IniEntry>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].key != b[i].key || a[i].value != b[i].value) return false;
  }
  return true;
}

SchedulerOptions schedulerOptions(const DaemonConfig& config) {
  SchedulerOptions options;
  options.timeout_ms = config.timeout_ms;
  options.max_parallel = config.max_parallel;
  options.shutdown_grace_ms = config.shutdown_grace_ms;
  return options;
}

}  // namespace

namespace {

AlertOptions alertOptions(const DaemonConfig& config) {
  AlertOptions options;
  options.enabled = config.alerts.enabled;
  options.failure_window_ms = config.alerts.failure_window_ms;
  options.failure_min_calls = config.alerts.failure_min_calls;
  options.failure_ratio = config.alerts.failure_ratio;
  options.source_down_windows = config.alerts.source_down_windows;
  options.quota_remaining = config.alerts.quota_remaining;
  options.forecast_window_ms = config.alerts.forecast_window_ms;
  options.expiry_warn_ms = config.alerts.expiry_warn_ms;
  options.state_file = (std::filesystem::path(config.data_dir) / "alerts.json").string();
  return options;
}

std::set<std::string> sourceNames(const DaemonConfig& config) {
  std::set<std::string> names;
  for (const auto& section : config.sources) names.insert(section.name);
  return names;
}

}  // namespace

Runtime::Runtime(Logging& logging, sdk::Clock& clock)
    : logging_(logging), clock_(clock), log_(logging.get("core")) {}

Runtime::~Runtime() {
  stop();
}

const LoadedPlugin& Runtime::findPlugin(const InstanceSection& section,
                                        const PluginCatalog& catalog, sdk::PluginKind kind) const {
  auto it = catalog.plugins.find(section.plugin);
  if (it == catalog.plugins.end()) {
    std::string message = where(config_, section) + " plugin: no plugin '" + section.plugin +
                          "' in " + config_.plugin_dir;
    if (const RefusedPlugin* refusal = catalog.refusalFor(section.plugin)) {
      message += " (" + refusal->path + " was refused: " + refusal->reason + ")";
    } else {
      message += " (run `gatherd plugins` to see what is there)";
    }
    throw StartupError(message, kExitConfigError);
  }
  if (it->second.descriptor->kind != kind) {
    throw StartupError(where(config_, section) + " plugin: '" + section.plugin + "' is a " +
                           sdk::pluginKindName(it->second.descriptor->kind) + " plugin, not a " +
                           sdk::pluginKindName(kind),
                       kExitConfigError);
  }
  return it->second;
}

template <class Instance>
std::shared_ptr<Instance> Runtime::makeInstance(const InstanceSection& section,
                                                const PluginCatalog& catalog,
                                                sdk::PluginKind kind) {
  const LoadedPlugin& plugin = findPlugin(section, catalog, kind);
  sdk::Config config;
  try {
    config = validateInstance(config_, section, plugin.descriptor->schema());
  } catch (const ConfigError& error) {
    throw StartupError(error.what(), kExitConfigError);
  }
  logging_.secrets().replace(config_.secret_values);
  auto instance = std::make_shared<Instance>(plugin, section.name, *services_);
  if (auto status = instance->init(config); !status) {
    throw StartupError(where(config_, section) + " " + status.message(), kExitConfigError);
  }
  return instance;
}

std::shared_ptr<SourceInstance> Runtime::makeSource(const InstanceSection& section,
                                                    const PluginCatalog& catalog) {
  return makeInstance<SourceInstance>(section, catalog, sdk::PluginKind::kSource);
}

std::shared_ptr<SinkInstance> Runtime::makeSink(const InstanceSection& section,
                                                const PluginCatalog& catalog) {
  return makeInstance<SinkInstance>(section, catalog, sdk::PluginKind::kSink);
}

void Runtime::build(DaemonConfig config, const PluginCatalog& catalog, Mode mode) {
  config_ = std::move(config);
  logging_.setLevel(config_.log_level);
  logging_.secrets().replace(config_.secret_values);
  std::error_code error;
  // The database holds usage data: a folder gatherd makes is private to its user.
  if (!std::filesystem::exists(config_.data_dir, error) &&
      std::filesystem::create_directories(config_.data_dir, error)) {
    std::filesystem::permissions(config_.data_dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, error);
  }
  if (error) {
    throw StartupError("cannot create data_dir " + config_.data_dir + ": " + error.message(),
                       kExitRuntimeError);
  }
  services_ = std::make_unique<HostServices>(HostServices{logging_,
                                                          metrics_,
                                                          clock_,
                                                          sources_,
                                                          config_.data_dir,
                                                          GATHERD_VERSION,
                                                          {},
                                                          [this] { return store_.load(); },
                                                          &telemetry_,
                                                          {}});

  if (mode == Mode::kService) {
    alerts_ = std::make_unique<AlertEngine>(alertOptions(config_), clock_);
    if (auto problem = alerts_->load(); !problem.empty()) log_->warn("alerts: {}", problem);
    HttpServerOptions options;
    options.alerts_json = [this](std::size_t limit) { return alerts_->toJson(limit); };
    options.bind = config_.http_bind;
    options.web_root = config_.http_web_root;
    options.token = config_.http_token;
    options.cors_origins = config_.http_cors_origins;
    options.hosts = config_.http_hosts;
    options.io_threads = config_.http_threads;
    options.header_timeout_ms = config_.http_header_timeout_ms;
    options.body_timeout_ms = config_.http_body_timeout_ms;
    options.keepalive_timeout_ms = config_.http_keepalive_timeout_ms;
    options.max_uri_bytes = static_cast<std::size_t>(config_.http_max_uri_bytes);
    options.max_header_bytes = static_cast<std::size_t>(config_.http_max_header_bytes);
    options.max_headers = static_cast<std::size_t>(config_.http_max_headers);
    options.max_body_bytes = static_cast<std::size_t>(config_.http_max_body_bytes);
    options.max_connections = static_cast<std::size_t>(config_.http_max_connections);
    options.session_ttl_ms = config_.http_session_ttl_ms;
    options.trusted_proxies = config_.http_trusted_proxies;
    options.metrics = &metrics_;
    http_ = std::make_unique<HttpServer>(options, sources_, [this] { return store_.load(); });
    services_->register_route = [this](const std::string& path, sdk::RouteHandler handler,
                                       const sdk::RouteOptions& options) {
      return http_->registerRoute(path, std::move(handler), options);
    };
    services_->register_stream_route = [this](const std::string& path,
                                              sdk::StreamRouteHandler handler) {
      return http_->registerStreamRoute(path, std::move(handler));
    };
    for (const auto& section : config_.sinks) {
      sinks_.push_back(makeSink(section, catalog));
      sources_.addSink(section.name, section.plugin);
    }
  }
  if (mode == Mode::kAlertTest) {
    std::vector<InstanceSection> webhooks;
    for (const auto& section : config_.sinks) {
      if (section.plugin == "webhook") webhooks.push_back(section);
    }
    config_.sinks = webhooks;
  }
  if (mode == Mode::kAlertTest || mode == Mode::kSinksOnly) {
    for (const auto& section : config_.sinks) sinks_.push_back(makeSink(section, catalog));
    return;
  }
  for (const auto& section : config_.sources) {
    sources_.add(section.name, section.plugin, config_.interval_ms);
    source_entries_[section.name] = {makeSource(section, catalog), section.entries, section.plugin};
  }
}

void Runtime::onWindowResult(sdk::Batch&& batch) {
  const sdk::WindowResult& window = batch.window;
  sources_.recordWindow(window);
  const sdk::MetricLabels source = {{"source", window.source}};
  metrics_.add(metric::kWindows,
               {{"source", window.source}, {"outcome", sdk::outcomeName(window.outcome)}});
  if (window.records_seen != 0) {
    metrics_.add(metric::kRecordsSeen, source, static_cast<double>(window.records_seen));
  }
  if (window.records_emitted != 0) {
    metrics_.add(metric::kRecordsEmitted, source, static_cast<double>(window.records_emitted));
  }
  if (window.records_rejected != 0) {
    metrics_.add(metric::kRecordsRejected, source, static_cast<double>(window.records_rejected));
  }
  if (window.gap_suspected) metrics_.add(metric::kGaps, source);
  if (window.clock_jump) metrics_.add(metric::kClockJumps, source);
  if (window.started_ms != 0 && window.finished_ms >= window.started_ms) {
    metrics_.observe(metric::kPollDuration,
                     {{"source", window.source}, {"outcome", sdk::outcomeName(window.outcome)}},
                     static_cast<double>(window.finished_ms - window.started_ms) / 1000.0);
  }
  {
    // A failing source would otherwise log the same warning every interval.
    std::lock_guard lock(outcome_mutex_);
    auto [it, inserted] = last_outcome_.try_emplace(window.source, sdk::Outcome::kOk);
    if (window.outcome != it->second) {
      auto logger = logging_.get("source." + window.source);
      if (window.outcome == sdk::Outcome::kOk) {
        logger->info("windows are ok again");
      } else {
        logger->warn("window {} ended {}: {} (logged again only when the outcome changes)",
                     json::formatIsoUtc(window.window_ms), sdk::outcomeName(window.outcome),
                     window.message);
      }
      it->second = window.outcome;
    }
    std::string summary = window.source + " " + sdk::outcomeName(window.outcome) + " at " +
                          json::formatIsoUtc(window.window_ms);
    if (window.outcome == sdk::Outcome::kOk) {
      summary += " (" + std::to_string(batch.records.size()) + " records)";
    } else if (!window.message.empty()) {
      summary += ": " + window.message.substr(0, 160);
    }
    last_window_[window.source] = std::move(summary);
  }
  publishSourceStatus(batch);
  if (notifier_ != nullptr && notifier_->enabled()) notifier_->status(statusLine());
  if (window.gap_suspected) {
    logging_.get("source." + window.source)
        ->warn(
            "records may have been lost between {} and {} (the upstream keeps only its newest "
            "records)",
            json::formatIsoUtc(window.gap_from_ms), json::formatIsoUtc(window.gap_to_ms));
  }
  if (alerts_) {
    // Alert transitions travel with the window that caused them, so every sink sees them in
    // order (the store keeps them, sse pushes them, webhooks send them).
    std::vector<sdk::Record> transitions;
    {
      // Alerts resolved because their source is gone go with the next window of any source.
      std::lock_guard lock(retired_alerts_mutex_);
      transitions.swap(retired_alerts_);
    }
    const auto status = sources_.find(window.source);
    for (auto& record : alerts_->observe(batch, status ? status->consecutive_failures : 0)) {
      transitions.push_back(std::move(record));
    }
    for (auto& record : transitions) {
      auto logger = logging_.get("alerts");
      const std::string state = record.get<std::string>("state").value_or("");
      const std::string rule = record.get<std::string>("rule").value_or("");
      const std::string source = record.get<std::string>("source").value_or(window.source);
      if (state == "firing")
        logger->warn("{} alert for source {} fired ({})", rule, source, record.key);
      else
        logger->info("{} alert for source {} resolved ({})", rule, source, record.key);
      batch.records.push_back(std::move(record));
    }
    if (auto problem = alerts_->lastSaveError(); !problem.empty()) {
      logging_.get("alerts")->warn("alert state not saved: {}", problem);
    }
  }
  if (pipeline_) pipeline_->publish(std::make_shared<const sdk::Batch>(std::move(batch)));
}

void Runtime::publishSourceStatus(sdk::Batch& batch) {
  // Only when it changed: a healthy source adds no record. (A state set between windows, such as
  // failed at start, reaches the dashboard through /api/sources, which it re-reads as windows
  // arrive.)
  const auto status = sources_.find(batch.window.source);
  if (!status) return;
  std::lock_guard lock(outcome_mutex_);
  const auto published = published_status_.find(status->name);
  if (published != published_status_.end() && published->second.state == status->state &&
      published->second.state_reason == status->state_reason &&
      published->second.auth_state == status->auth_state &&
      published->second.consecutive_failures == status->consecutive_failures) {
    return;
  }
  batch.records.push_back(sourceStatusRecord(*status, batch.window.finished_ms));
  published_status_[status->name] = *status;
}

void Runtime::retireAlerts() {
  auto retired = alerts_->retireSources(sourceNames(config_));
  if (retired.empty()) return;
  logging_.get("alerts")->info("{} open alert(s) of sources no longer configured resolved",
                               retired.size());
  std::lock_guard lock(retired_alerts_mutex_);
  for (auto& record : retired) retired_alerts_.push_back(std::move(record));
}

void Runtime::fillSinkStats(std::vector<SinkStatus>& sinks) {
  std::lock_guard lock(pipeline_mutex_);
  if (!pipeline_) return;
  for (SinkStatus& sink : sinks) {
    Pipeline::SinkStats stats;
    try {
      stats = pipeline_->stats(sink.name);
    } catch (const std::out_of_range&) {
      continue;
    }
    sink.delivered = stats.delivered;
    sink.retries = stats.retries;
    sink.dropped = stats.dropped;
    sink.overflowed = stats.overflowed;
    sink.queued = stats.queued;
    sink.queued_bytes = stats.queued_bytes;
    sink.memory_bytes = stats.memory_bytes;
    sink.oldest_age_ms = stats.oldest_age_ms;
    sink.spooled = stats.spooled;
    sink.spool_bytes = stats.spool_bytes;
    sink.spool_records = stats.spool_records;
    sink.spool_dropped = stats.spool_dropped;
    sink.spool_bad_records = stats.spool_bad_records;
    sink.spool_write_errors = stats.spool_write_errors;
    sink.spool_error = stats.spool_error;
    sink.backlogged = stats.retrying || !stats.spool_error.empty();
  }
}

std::string Runtime::statusLine() {
  std::string line;
  {
    std::lock_guard lock(outcome_mutex_);
    for (const auto& [source, summary] : last_window_) {
      line += (line.empty() ? "" : "; ") + summary;
    }
  }
  if (line.empty()) line = "no window has ended yet";
  return logging_.secrets().mask(line);
}

std::vector<std::pair<std::string, sdk::WriteResult>> Runtime::writeDirect(
    const sdk::Batch& batch, const std::string& plugin, const std::string& sink) {
  std::vector<std::pair<std::string, sdk::WriteResult>> results;
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    const auto& section = config_.sinks[i];
    if (section.plugin != plugin || (!sink.empty() && section.name != sink)) continue;
    results.emplace_back(section.name, sinks_[i]->write(batch));
  }
  if (results.empty()) {
    throw StartupError(sink.empty() ? "no [sink.*] with plugin = " + plugin + " is configured"
                                    : "no [sink." + sink + "] with plugin = " + plugin,
                       kExitConfigError);
  }
  return results;
}

void Runtime::scheduleSources() {
  scheduler_->setSources(scheduledSources());
}

std::vector<ScheduledSource> Runtime::scheduledSources() {
  std::vector<ScheduledSource> scheduled;
  for (auto& [name, entry] : source_entries_) {
    std::shared_ptr<SourceInstance> instance = entry.instance;
    MetricsRegistry* metrics = &metrics_;
    scheduled.push_back(
        {name, config_.interval_ms,
         [instance, metrics, name = name](const sdk::PollContext& context, sdk::Batch& batch) {
           // The moment poll() is entered minus the window's scheduled start,
           // in microseconds (the ledger's started_ms has milliseconds only).
           const std::int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count();
           const std::int64_t lag_us = std::max<std::int64_t>(0, now_us - context.window_ms * 1000);
           metrics->observe(metric::kWindowStartLag, {{"source", name}},
                            static_cast<double>(lag_us) / 1e6);
           instance->poll(context, batch);
         }});
  }
  return scheduled;
}

void Runtime::start() {
  if (started_) return;
  started_ = true;
  // A sink that reads the store (sse) may be listed before the store sink: what fails to start
  // in ini order gets a second try once every other sink (and so the store) has started.
  std::vector<std::shared_ptr<SinkInstance>> retry;
  // Under systemd: more start-up time while a sink takes long (a database upgrading).
  const StartExtension extension(notifier_);
  auto startSink = [this](const std::shared_ptr<SinkInstance>& sink) {
    sdk::Status status = sink->start();
    if (status && store_.load() == nullptr && sink->store() != nullptr) {
      store_ = sink->store();
      log_->info("store: sink.{} answers the API", sink->name());
    }
    return status;
  };
  for (auto& sink : sinks_) {
    if (!startSink(sink)) retry.push_back(sink);
  }
  for (auto& sink : retry) {
    if (auto status = startSink(sink); !status) {
      throw StartupError("[sink." + sink->name() + "] cannot start: " + status.message(),
                         kExitRuntimeError);
    }
  }
  if (http_) {
    try {
      http_->start();
    } catch (const std::exception& error) {
      throw StartupError(std::string("http: ") + error.what(), kExitRuntimeError);
    }
    log_->info("http: listening on {}:{}",
               config_.http_bind.substr(0, config_.http_bind.rfind(':')), http_->port());
  }
  pipeline_ = std::make_unique<Pipeline>(clock_);
  pipeline_->setEventListener(
      [this](const std::string& sink, const std::string& message, bool warning) {
        auto logger = logging_.get("sink." + sink);
        if (warning)
          logger->warn("{}", message);
        else
          logger->info("{}", message);
      });
  for (auto& sink : sinks_) {
    SinkChannelOptions options;
    options.memory_max_bytes = static_cast<std::size_t>(config_.memory_queue_max_bytes);
    options.streams = sink->host().requestedStreams();
    if (sink->host().spoolRequested()) {
      options.spool = spool::SpoolOptions{
          (std::filesystem::path(config_.data_dir) / "spool" / sink->name()).string(),
          static_cast<std::uint64_t>(config_.spool_max_bytes), config_.spool_fsync, 0};
    }
    MetricsRegistry* metrics = &metrics_;
    try {
      pipeline_->addSink(
          sink->name(),
          [sink, metrics](const sdk::Batch& batch) {
            const auto begin = std::chrono::steady_clock::now();
            const sdk::WriteResult result = sink->write(batch);
            const std::chrono::duration<double> took = std::chrono::steady_clock::now() - begin;
            metrics->observe(metric::kSinkWriteDuration, {{"sink", sink->name()}}, took.count());
            metrics->add(metric::kSinkWrites,
                         {{"sink", sink->name()},
                          {"result", result == sdk::WriteResult::kOk      ? "ok"
                                     : result == sdk::WriteResult::kRetry ? "retry"
                                                                          : "drop"}});
            return result;
          },
          options);
    } catch (const std::exception& error) {
      throw StartupError("[sink." + sink->name() + "] " + error.what(), kExitRuntimeError);
    }
    if (options.spool) log_->info("sink.{}: durable spool in {}", sink->name(), options.spool->dir);
  }
  sources_.setSinkStatsFiller([this](std::vector<SinkStatus>& sinks) { fillSinkStats(sinks); });
  pipeline_->start();
  if (alerts_) retireAlerts();
  for (auto& [name, entry] : source_entries_) {
    if (auto status = entry.instance->start(); !status) {
      throw StartupError("[source." + name + "] cannot start: " + status.message(),
                         kExitRuntimeError);
    }
  }
  scheduler_ =
      std::make_unique<Scheduler>(clock_, schedulerOptions(config_),
                                  [this](sdk::Batch&& batch) { onWindowResult(std::move(batch)); });
  scheduleSources();
  telemetry_.attach(scheduler_.get(), pipeline_.get());
  if (notifier_ != nullptr && notifier_->watchdogPingIntervalMs() > 0) {
    const ServiceNotifier* notifier = notifier_;
    scheduler_->setHeartbeat(notifier->watchdogPingIntervalMs(),
                             [notifier] { notifier->watchdog(); });
  }
  scheduler_->start();
  log_->info("gatherd {} started: {} source(s) every {} ms, {} sink(s), at most {} polls in flight",
             GATHERD_VERSION, source_entries_.size(), config_.interval_ms, sinks_.size(),
             config_.max_parallel);
}

void Runtime::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  // HTTP first: no new requests or streams, open streams get their final event and close, and
  // no handler can reach a sink or the store once they stop below.
  if (http_) http_->stop();
  if (scheduler_) scheduler_->stop();
  for (auto& [name, entry] : source_entries_) {
    entry.instance->stop();
    sources_.setState(name, InstanceState::kStopped);
  }
  // What is still queued after the grace period stays in the spool of a spooled sink.
  if (pipeline_) pipeline_->stop(config_.shutdown_grace_ms);
  // Reverse order: a sink that reads the store (sse) stops before the store does. stop() waits
  // for a write() still in progress; later writes never reach the plugin.
  for (auto sink = sinks_.rbegin(); sink != sinks_.rend(); ++sink) (*sink)->stop();
  store_ = nullptr;
  // Joins the delivery threads (their writes now return at once without reaching the plugin);
  // the pipeline object stays for readers of its counters until the runtime goes.
  if (pipeline_) pipeline_->join();
  log_->info("gatherd stopped");
}

void Runtime::reload(DaemonConfig config, const PluginCatalog& catalog) {
  if (config.http_bind != config_.http_bind || config.http_token != config_.http_token ||
      config.http_web_root != config_.http_web_root) {
    log_->warn("reload: [http] changes take effect after a restart");
  }
  bool sinks_changed = config.sinks.size() != config_.sinks.size();
  for (std::size_t i = 0; !sinks_changed && i < config.sinks.size(); ++i) {
    sinks_changed = config.sinks[i].name != config_.sinks[i].name ||
                    config.sinks[i].plugin != config_.sinks[i].plugin ||
                    !sameEntries(config.sinks[i].entries, config_.sinks[i].entries);
  }
  if (sinks_changed) log_->warn("reload: [sink.*] changes take effect after a restart");

  // Build every new or changed source first: a bad section leaves the running config alone.
  DaemonConfig previous = config_;
  config_ = std::move(config);
  config_.sinks = previous.sinks;
  config_.http_bind = previous.http_bind;
  config_.http_token = previous.http_token;
  config_.http_web_root = previous.http_web_root;
  std::map<std::string, SourceEntry> next;
  try {
    for (const auto& section : config_.sources) {
      auto existing = source_entries_.find(section.name);
      if (existing != source_entries_.end() && existing->second.plugin == section.plugin &&
          sameEntries(existing->second.entries, section.entries)) {
        next[section.name] = existing->second;
        continue;
      }
      auto instance = makeSource(section, catalog);
      if (auto status = instance->start(); !status) {
        throw StartupError("[source." + section.name + "] cannot start: " + status.message(),
                           kExitRuntimeError);
      }
      next[section.name] = {instance, section.entries, section.plugin};
      log_->info("reload: source.{} {}", section.name,
                 existing == source_entries_.end() ? "added" : "reconfigured");
    }
  } catch (...) {
    config_ = std::move(previous);
    logging_.secrets().replace(config_.secret_values);
    throw;
  }
  for (const auto& [name, entry] : source_entries_) {
    if (next.count(name) == 0) {
      log_->info("reload: source.{} removed", name);
      sources_.setState(name, InstanceState::kStopped);
      std::lock_guard lock(outcome_mutex_);
      last_window_.erase(name);
    }
  }
  for (const auto& [name, entry] : next) sources_.add(name, entry.plugin, config_.interval_ms);
  source_entries_ = std::move(next);
  logging_.setLevel(config_.log_level);
  // Secrets of the old config stay masked too: they may still be in flight.
  std::set<std::string> secrets = config_.secret_values;
  secrets.insert(previous.secret_values.begin(), previous.secret_values.end());
  logging_.secrets().replace(secrets);
  if (alerts_) {
    alerts_->setOptions(alertOptions(config_));
    retireAlerts();
  }
  if (scheduler_) {
    scheduler_->setOptions(schedulerOptions(config_));
    scheduleSources();
  }
  log_->info("reload: done ({} source(s), every {} ms)", source_entries_.size(),
             config_.interval_ms);
}

int Runtime::pollOnce(std::ostream& out, std::ostream& log) {
  for (auto& [name, entry] : source_entries_) {
    if (auto status = entry.instance->start(); !status) {
      throw StartupError("[source." + name + "] cannot start: " + status.message(),
                         kExitRuntimeError);
    }
  }
  // One window of each source through a scheduler of its own, without cadence: the deadline,
  // the cancellation at it and the late-result grace are the daemon's, not a second copy.
  std::mutex mutex;
  std::condition_variable arrived;
  std::map<std::string, sdk::Batch> results;
  SchedulerOptions options = schedulerOptions(config_);
  options.cadence = false;
  {
    Scheduler scheduler(clock_, options, [&](sdk::Batch&& batch) {
      std::lock_guard lock(mutex);
      results[batch.window.source] = std::move(batch);
      arrived.notify_all();
    });
    scheduler.setSources(scheduledSources());
    scheduler.start();
    scheduler.pollNow();
    std::unique_lock lock(mutex);
    // The scheduler ends every window in exactly one result (timeout at the latest).
    arrived.wait(lock, [&] { return results.size() == source_entries_.size(); });
  }
  int exit_code = kExitOk;
  for (auto& [name, batch] : results) {
    std::string text;
    for (const auto& record : batch.records) {
      json::appendSourcedRecord(text, name, record, true);
      text += "\n";
    }
    out << text << std::flush;
    log << logging_.secrets().mask(json::windowResultToJson(batch.window)) << "\n";
    if (batch.window.outcome != sdk::Outcome::kOk) exit_code = kExitPollFailed;
  }
  for (auto& [name, entry] : source_entries_) entry.instance->stop();
  return exit_code;
}

std::uint16_t Runtime::httpPort() const {
  return http_ ? http_->port() : 0;
}

}  // namespace gatherd::core
