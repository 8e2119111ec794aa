// The smallest useful source: one "greeting" record per window. A real source (see
// plugins/sources/demo, plugins/sources/xychatai-codex) fetches in poll() and reports the
// outcome and auth state in batch.window; the core schedules the windows and fans the batch out.
#include "gatherd/sdk/plugin.hpp"

namespace {

namespace sdk = gatherd::sdk;

/// The [source.*] keys this plugin accepts; gatherd check-config validates against it.
sdk::ConfigSchema schema() {
  return {sdk::key("greeting", sdk::ConfigType::kString)
              .byDefault("hello")
              .describedAs("the text each record carries")};
}

class ExampleSource final : public sdk::Source {
 public:
  sdk::Status init(const sdk::Config& given, sdk::Host& host) override {
    // Defaults come from the schema only (getters below take no fallback).
    const sdk::Config config = sdk::withDefaults(given, schema());
    greeting_ = config.getString("greeting");
    if (greeting_.empty()) return sdk::Status::failure("greeting must not be empty");
    host.logger().info("will greet with '" + greeting_ + "'");
    return sdk::Status::success();
  }

  void poll(const sdk::PollContext& context, sdk::Batch& batch) override {
    sdk::Record record;
    record.stream = "greeting";
    record.key = std::to_string(context.window_ms);  // one record per window: stored once
    record.time_ms = context.window_ms;
    record.fields["text"] = greeting_;
    batch.records.push_back(std::move(record));
    batch.window.outcome = sdk::Outcome::kOk;
  }

 private:
  std::string greeting_;
};

}  // namespace

GATHERD_SOURCE_PLUGIN("example-source", "0.1.0", "one greeting record per window (an example)",
                      schema, ExampleSource)
