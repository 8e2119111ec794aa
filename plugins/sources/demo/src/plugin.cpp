// The exported descriptor of the demo source.
#include "gatherd/sdk/plugin.hpp"

#include "demo_settings.hpp"
#include "demo_source.hpp"

GATHERD_SOURCE_PLUGIN("demo", "1.0.0",
                      "simulated Codex invocations (models, tokens, costs, failures, latencies, "
                      "bursts) for trying gatherd without an account",
                      gatherd::plugins::demo::demoSchema, gatherd::plugins::demo::DemoSource)
