// The exported descriptor of the stdout sink.
#include "gatherd/sdk/plugin.hpp"

#include "stdout_sink.hpp"

GATHERD_SINK_PLUGIN("stdout", "1.0.0", "writes every record as a JSON line (stdout or a file)",
                    gatherd::plugins::stdout_sink::stdoutSchema,
                    gatherd::plugins::stdout_sink::StdoutSink)
