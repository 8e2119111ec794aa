// The exported descriptor of the webhook sink.
#include "gatherd/sdk/plugin.hpp"

#include "webhook_sink.hpp"

GATHERD_SINK_PLUGIN("webhook", "1.0.0",
                    "sends alerts (session expired, failures, quota, ...) to a chat webhook",
                    gatherd::plugins::webhook::webhookSchema,
                    gatherd::plugins::webhook::WebhookSink)
