#pragma once
// Source and sink instances behind the error barrier: no exception leaves a plugin call.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "core/plugins/plugin_host.hpp"
#include "core/plugins/plugin_loader.hpp"
#include "gatherd/sdk/sink.hpp"
#include "gatherd/sdk/source.hpp"

namespace gatherd::core {

/// Shared by sources and sinks: the library handle (kept alive longer than the object made from
/// it), the host, and the failed flag with its log line and counter.
class InstanceBase {
 public:
  InstanceBase(const LoadedPlugin& plugin, std::string kind, std::string name,
               HostServices& services);
  const std::string& name() const { return name_; }
  const std::string& kind() const { return kind_; }
  const std::string& pluginId() const { return plugin_id_; }
  bool failed() const { return failed_.load(); }
  PluginHost& host() { return host_; }

 protected:
  /// Logs "<what> threw: <reason>", counts plugin_errors and marks the instance failed.
  void markFailed(const std::string& what, const std::string& reason);
  void markHealthy();
  HostServices& services_;

 private:
  // Declared first so it is destroyed last: the plugin object must die before its code.
  std::shared_ptr<boost::dll::shared_library> library_;
  std::string kind_;
  std::string name_;
  std::string plugin_id_;
  PluginHost host_;
  std::atomic<bool> failed_{false};
};

class SourceInstance final : public InstanceBase {
 public:
  SourceInstance(const LoadedPlugin& plugin, std::string name, HostServices& services);
  ~SourceInstance();
  /// Constructs and initialises the plugin object. On failure returns the message.
  sdk::Status init(const sdk::Config& config);
  sdk::Status start();
  /// Never throws: a throwing plugin yields a transport_error window and a failed mark.
  void poll(const sdk::PollContext& context, sdk::Batch& batch);
  void stop();

 private:
  std::unique_ptr<sdk::Source> source_;
  std::atomic<bool> stopped_{false};
};

class SinkInstance final : public InstanceBase {
 public:
  SinkInstance(const LoadedPlugin& plugin, std::string name, HostServices& services);
  ~SinkInstance();
  sdk::Status init(const sdk::Config& config);
  sdk::Status start();
  /// Never throws: a throwing plugin drops the batch (logged, counted) and is marked failed.
  /// After stop() it answers kRetry without calling the plugin.
  sdk::WriteResult write(const sdk::Batch& batch);
  sdk::Store* store();
  /// The history copy of gatherd migrate: the store's countHistory/readHistory and the sink's
  /// importHistory, behind the error barrier. A plugin built against an sdk older than 2.3 has
  /// none of them: the status says so and names the plugin.
  sdk::Status countHistory(sdk::HistoryCounts& counts);
  sdk::Status readHistory(sdk::HistoryTable table, std::int64_t after_id, int limit,
                          sdk::HistoryPage& page);
  sdk::Status importHistory(const sdk::HistoryPage& page, std::int64_t& inserted);
  /// Waits for a write() in progress, then stops the plugin: no call reaches it afterwards.
  void stop();

 private:
  /// A failure when the plugin predates the history calls, else success.
  sdk::Status historySupported() const;
  template <class Call>
  sdk::Status historyCall(const char* what, Call&& call);

  std::uint32_t abi_minor_ = 0;
  std::unique_ptr<sdk::Sink> sink_;
  std::mutex calls_;  // serialises write() with stop()
  std::atomic<bool> stopped_{false};
};

}  // namespace gatherd::core
