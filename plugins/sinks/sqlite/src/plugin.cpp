// The sqlite sink's plugin entry: the one exported descriptor.
#include "gatherd/sdk/plugin.hpp"

#include "settings.hpp"
#include "sqlite_sink.hpp"

GATHERD_SINK_PLUGIN("sqlite", "1.0.0",
                    "keeps every record in SQLite (WAL, exact rollups) and serves the Store API",
                    gatherd::plugins::sqlite::settingsSchema, gatherd::plugins::sqlite::SqliteSink)
