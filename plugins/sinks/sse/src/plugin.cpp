// The exported descriptor of the SSE broadcaster sink.
#include "gatherd/sdk/plugin.hpp"

#include "sse_sink.hpp"

GATHERD_SINK_PLUGIN("sse", "1.0.0",
                    "streams stored changes to browsers as Server-Sent Events on GET /events",
                    gatherd::plugins::sse::sseSchema, gatherd::plugins::sse::SseSink)
