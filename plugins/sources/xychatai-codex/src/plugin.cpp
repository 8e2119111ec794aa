// The one exported symbol of gatherd-xychatai-codex.so.

#include "gatherd/sdk/plugin.hpp"

#include "settings.hpp"
#include "xychatai_source.hpp"

GATHERD_SOURCE_PLUGIN("xychatai-codex", "1.0.0",
                      "recent invocations and quota of a xychatai vibe-code account",
                      gatherd::plugins::xychatai::settingsSchema,
                      gatherd::plugins::xychatai::XychataiSource)
