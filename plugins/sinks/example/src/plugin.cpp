// The smallest useful sink: counts the records of one stream and logs the running total. A
// real sink (see plugins/sinks/stdout, plugins/sinks/sqlite) stores or forwards the batch; it
// answers kRetry when a later try may work (the core keeps the batch and backs off) and kDrop
// only when it never will.
#include "gatherd/sdk/plugin.hpp"

#include <cstdint>
#include <string>

namespace {

namespace sdk = gatherd::sdk;

/// The [sink.*] keys this plugin accepts; gatherd check-config validates against it.
sdk::ConfigSchema schema() {
  return {sdk::key("stream", sdk::ConfigType::kString)
              .byDefault("invocation")
              .describedAs("the record stream to count")};
}

class ExampleSink final : public sdk::Sink {
 public:
  sdk::Status init(const sdk::Config& given, sdk::Host& host) override {
    // Defaults come from the schema only (getters below take no fallback).
    const sdk::Config config = sdk::withDefaults(given, schema());
    stream_ = config.getString("stream");
    host_ = &host;
    return sdk::Status::success();
  }

  // write() runs on the sink's own delivery thread, one batch at a time.
  sdk::WriteResult write(const sdk::Batch& batch) override {
    std::int64_t seen = 0;
    for (const auto& record : batch.records) seen += record.stream == stream_ ? 1 : 0;
    if (seen == 0) return sdk::WriteResult::kOk;
    total_ += seen;
    host_->metrics().increment("example_records", seen);
    host_->logger().info(std::to_string(total_) + " " + stream_ + " record(s) so far");
    return sdk::WriteResult::kOk;
  }

 private:
  std::string stream_;
  sdk::Host* host_ = nullptr;
  std::int64_t total_ = 0;
};

}  // namespace

GATHERD_SINK_PLUGIN("example-sink", "0.1.0", "counts the records of one stream (an example)",
                    schema, ExampleSink)
