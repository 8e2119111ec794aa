// The smallest useful source: one record per poll.
#include "gatherd/sdk/plugin.hpp"

namespace {

gatherd::sdk::ConfigSchema schema() {
  return {{"greeting", gatherd::sdk::ConfigType::kString, "hello", false, false, "text to emit", {}}};
}

class GreetingSource final : public gatherd::sdk::Source {
 public:
  gatherd::sdk::Status init(const gatherd::sdk::Config& config, gatherd::sdk::Host&) override {
    greeting_ = config.getString("greeting", "hello");
    return gatherd::sdk::Status::success();
  }
  void poll(const gatherd::sdk::PollContext& context, gatherd::sdk::Batch& batch) override {
    gatherd::sdk::Record record;
    record.stream = "greeting";
    record.key = std::to_string(context.window_ms);
    record.time_ms = context.window_ms;
    record.fields["text"] = greeting_;
    batch.records.push_back(record);
  }

 private:
  std::string greeting_;
};

}  // namespace

GATHERD_SOURCE_PLUGIN("out-of-tree", "0.1.0", "built against the installed sdk", schema, GreetingSource)
