#include "core/plugins/plugin_instance.hpp"

namespace gatherd::core {
namespace {

template <class Function>
std::string runGuarded(Function&& function) {
  try {
    function();
    return {};
  } catch (const std::exception& e) {
    return e.what()[0] != '\0' ? e.what() : "exception";
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

InstanceBase::InstanceBase(const LoadedPlugin& plugin, std::string kind, std::string name,
                           HostServices& services)
    : services_(services),
      library_(plugin.library),
      kind_(std::move(kind)),
      name_(std::move(name)),
      plugin_id_(plugin.descriptor->id),
      host_(services, name_, kind_ + "." + name_) {}

void InstanceBase::markFailed(const std::string& what, const std::string& reason) {
  failed_ = true;
  services_.metrics.increment("plugin_errors", name_);
  services_.logging.get(kind_ + "." + name_)->error("{} failed: {}", what, reason);
  if (kind_ == "source")
    services_.sources.setState(name_, InstanceState::kFailed, what + ": " + reason);
}

void InstanceBase::markHealthy() {
  if (!failed_.exchange(false)) return;
  if (kind_ == "source") services_.sources.setState(name_, InstanceState::kRunning);
}

SourceInstance::SourceInstance(const LoadedPlugin& plugin, std::string name, HostServices& services)
    : InstanceBase(plugin, "source", std::move(name), services) {
  const auto* descriptor = plugin.descriptor;
  const std::string error = runGuarded([&] { source_ = descriptor->create_source(); });
  if (!error.empty() || !source_)
    markFailed("create", error.empty() ? "factory returned null" : error);
}

SourceInstance::~SourceInstance() {
  stop();
}

sdk::Status SourceInstance::init(const sdk::Config& config) {
  if (!source_) return sdk::Status::failure("the plugin could not create an instance");
  sdk::Status status = sdk::Status::success();
  const std::string error = runGuarded([&] { status = source_->init(config, host()); });
  if (!error.empty()) {
    markFailed("init", error);
    return sdk::Status::failure("init threw: " + error);
  }
  return status;
}

sdk::Status SourceInstance::start() {
  if (!source_) return sdk::Status::failure("no instance");
  sdk::Status status = sdk::Status::success();
  const std::string error = runGuarded([&] { status = source_->start(); });
  if (!error.empty()) {
    markFailed("start", error);
    return sdk::Status::failure("start threw: " + error);
  }
  return status;
}

void SourceInstance::poll(const sdk::PollContext& context, sdk::Batch& batch) {
  if (!source_ || stopped_) {
    batch.window.outcome = sdk::Outcome::kAborted;
    batch.window.message = "the source instance is not running";
    return;
  }
  const std::string error = runGuarded([&] { source_->poll(context, batch); });
  if (!error.empty()) {
    batch.records.clear();
    batch.window.outcome = sdk::Outcome::kTransportError;
    batch.window.message = "the plugin threw: " + error;
    markFailed("poll", error);
    return;
  }
  markHealthy();
}

void SourceInstance::stop() {
  if (!source_ || stopped_.exchange(true)) return;
  const std::string error = runGuarded([&] { source_->stop(); });
  if (!error.empty()) markFailed("stop", error);
}

SinkInstance::SinkInstance(const LoadedPlugin& plugin, std::string name, HostServices& services)
    : InstanceBase(plugin, "sink", std::move(name), services) {
  const auto* descriptor = plugin.descriptor;
  abi_minor_ = descriptor->abi.abi_minor;
  const std::string error = runGuarded([&] { sink_ = descriptor->create_sink(); });
  if (!error.empty() || !sink_)
    markFailed("create", error.empty() ? "factory returned null" : error);
}

SinkInstance::~SinkInstance() {
  stop();
}

sdk::Status SinkInstance::init(const sdk::Config& config) {
  if (!sink_) return sdk::Status::failure("the plugin could not create an instance");
  sdk::Status status = sdk::Status::success();
  const std::string error = runGuarded([&] { status = sink_->init(config, host()); });
  if (!error.empty()) {
    markFailed("init", error);
    return sdk::Status::failure("init threw: " + error);
  }
  return status;
}

sdk::Status SinkInstance::start() {
  if (!sink_) return sdk::Status::failure("no instance");
  sdk::Status status = sdk::Status::success();
  const std::string error = runGuarded([&] { status = sink_->start(); });
  if (!error.empty()) {
    markFailed("start", error);
    return sdk::Status::failure("start threw: " + error);
  }
  return status;
}

sdk::WriteResult SinkInstance::write(const sdk::Batch& batch) {
  std::lock_guard lock(calls_);
  if (!sink_ || stopped_) return sdk::WriteResult::kRetry;
  sdk::WriteResult result = sdk::WriteResult::kDrop;
  const std::string error = runGuarded([&] { result = sink_->write(batch); });
  if (!error.empty()) {
    markFailed("write", error);
    return sdk::WriteResult::kDrop;
  }
  markHealthy();
  return result;
}

sdk::Store* SinkInstance::store() {
  if (!sink_) return nullptr;
  sdk::Store* store = nullptr;
  const std::string error = runGuarded([&] { store = sink_->store(); });
  return error.empty() ? store : nullptr;
}

sdk::Status SinkInstance::historySupported() const {
  // Virtual functions appended in 2.3: an older plugin's object has no such slots to call.
  if (abi_minor_ >= 3) return sdk::Status::success();
  return sdk::Status::failure("plugin '" + pluginId() + "' was built against sdk ABI " +
                              std::to_string(sdk::kAbiMajor) + "." + std::to_string(abi_minor_) +
                              ", before history copies (2.3); rebuild it");
}

template <class Call>
sdk::Status SinkInstance::historyCall(const char* what, Call&& call) {
  if (!sink_) return sdk::Status::failure("no instance");
  if (auto supported = historySupported(); !supported) return supported;
  sdk::Status status = sdk::Status::success();
  const std::string error = runGuarded([&] { status = call(); });
  if (!error.empty()) {
    markFailed(what, error);
    return sdk::Status::failure(std::string(what) + " threw: " + error);
  }
  return status;
}

sdk::Status SinkInstance::countHistory(sdk::HistoryCounts& counts) {
  return historyCall("countHistory", [&] {
    sdk::Store* store = sink_->store();
    return store != nullptr ? store->countHistory(counts)
                            : sdk::Status::failure("sink '" + name() + "' has no store");
  });
}

sdk::Status SinkInstance::readHistory(sdk::HistoryTable table, std::int64_t after_id, int limit,
                                      sdk::HistoryPage& page) {
  return historyCall("readHistory", [&] {
    sdk::Store* store = sink_->store();
    return store != nullptr ? store->readHistory(table, after_id, limit, page)
                            : sdk::Status::failure("sink '" + name() + "' has no store");
  });
}

sdk::Status SinkInstance::importHistory(const sdk::HistoryPage& page, std::int64_t& inserted) {
  std::lock_guard lock(calls_);
  if (stopped_) return sdk::Status::failure("sink '" + name() + "' is stopped");
  return historyCall("importHistory", [&] { return sink_->importHistory(page, inserted); });
}

void SinkInstance::stop() {
  std::lock_guard lock(calls_);
  if (!sink_ || stopped_.exchange(true)) return;
  const std::string error = runGuarded([&] { sink_->stop(); });
  if (!error.empty()) markFailed("stop", error);
}

}  // namespace gatherd::core
