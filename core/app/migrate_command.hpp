#pragma once
// gatherd migrate: copies the history one store sink keeps into another (sqlite -> postgres),
// through the sdk's history calls, so the core holds no SQL of either store.

#include <iosfwd>
#include <string>

namespace gatherd::core {

struct MigrateOptions {
  std::string
      config_path;       ///< the ini: plugin_dir, data_dir and the sinks `sqlite`/`postgres` name
  std::string from;      ///< "sqlite:PATH" or "sqlite" (the ini's sqlite sink)
  std::string to;        ///< "postgres:DSN" or "postgres" (the ini's postgres sink)
  std::string sink;      ///< with several postgres sinks in the ini: which [sink.NAME]
  int page_rows = 1000;  ///< rows per read and per target transaction
};

/// Runs the copy. Progress lines go to `progress` (stderr), the summary to `out`. Returns an
/// exit code: kExitOk when every row is in the target, kExitRuntimeError when a store cannot be
/// opened or the copy stopped (running it again resumes), kExitConfigError for bad arguments.
/// Throws ConfigError / StartupError like the other verbs (the caller maps them to exit codes).
int runMigrate(const MigrateOptions& options, std::ostream& out, std::ostream& progress);

}  // namespace gatherd::core
