// The exported descriptor of the Prometheus sink.
#include "gatherd/sdk/plugin.hpp"

#include "prometheus_sink.hpp"

GATHERD_SINK_PLUGIN("prometheus", "1.0.0",
                    "serves GET /metrics for Prometheus: invocations, cost, tokens, quota and "
                    "the collector's own health",
                    gatherd::plugins::prometheus::prometheusSchema,
                    gatherd::plugins::prometheus::PrometheusSink)
