// The postgres sink's plugin entry: the one exported descriptor.
#include "gatherd/sdk/plugin.hpp"

#include "postgres_sink.hpp"
#include "settings.hpp"

GATHERD_SINK_PLUGIN("postgres", "1.0.0",
                    "keeps every record in PostgreSQL (several collectors, one database, exact "
                    "rollups, LISTEN/NOTIFY) and serves the Store API",
                    gatherd::plugins::postgres::settingsSchema,
                    gatherd::plugins::postgres::PostgresSink)
