#include "core/app/migrate_command.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <ostream>

#include "core/app/runtime.hpp"
#include "core/config/config_error.hpp"
#include "core/observe/logging.hpp"
#include "core/schedule/system_clock.hpp"
#include "gatherd/lib/json/time_format.hpp"
#include <sys/stat.h>
#include <unistd.h>

namespace gatherd::core {
namespace {

constexpr const char* kFromName = "migrate-from";
constexpr const char* kToName = "migrate-to";

struct Table {
  sdk::HistoryTable table;
  const char* name;
};
constexpr std::array<Table, 5> kTables = {{
    {sdk::HistoryTable::kInvocations, "invocations"},
    {sdk::HistoryTable::kQuotaSnapshots, "quota snapshots"},
    {sdk::HistoryTable::kWindows, "windows"},
    {sdk::HistoryTable::kRecords, "records"},
    {sdk::HistoryTable::kPrunedTotals, "pruned totals"},
}};

std::size_t pageSize(const sdk::HistoryPage& page) {
  return page.invocations.size() + page.records.size() + page.windows.size() + page.pruned.size();
}

[[noreturn]] void usage(const std::string& message) {
  throw StartupError("migrate: " + message +
                         " (usage: gatherd [--config FILE] migrate --from sqlite[:PATH] --to "
                         "postgres[:DSN] [--sink NAME])",
                     kExitConfigError);
}

/// The ini's only [sink.*] with plugin `plugin`, or the one named `name`.
InstanceSection configuredSink(const DaemonConfig& config, const std::string& plugin,
                               const std::string& name, const char* option) {
  std::vector<const InstanceSection*> found;
  for (const auto& section : config.sinks) {
    if (section.plugin == plugin && (name.empty() || section.name == name)) {
      found.push_back(&section);
    }
  }
  if (found.empty()) {
    usage(std::string(option) + " " + plugin + ": " + config.file + " has no " +
          (name.empty() ? "[sink.*]" : "[sink." + name + "]") + " with plugin = " + plugin +
          "; name the database as " + option + " " + plugin + ":" +
          (plugin == "sqlite" ? "PATH" : "DSN"));
  }
  if (found.size() > 1) {
    usage(std::string(option) + " " + plugin + ": " + config.file + " has several [sink.*] with " +
          "plugin = " + plugin + "; pick one with --sink NAME");
  }
  return *found.front();
}

InstanceSection adHocSink(const char* name, const std::string& plugin, const std::string& key,
                          const std::string& value) {
  InstanceSection section;
  section.kind = InstanceSection::Kind::kSink;
  section.name = name;
  section.plugin = plugin;
  section.section = std::string("sink.") + name;
  section.entries.push_back({key, value, 0});
  return section;
}

/// Refuses a source file that is not there: the sqlite sink would create an empty database.
void requireDatabaseFile(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    // Checked here: the sqlite sink would create an empty database instead.
    usage("--from sqlite:" + path + ": no such file");
  }
  if (!S_ISREG(info.st_mode)) usage("--from sqlite:" + path + ": not a regular file");
  if (::access(path.c_str(), R_OK | W_OK) != 0) {
    usage("--from sqlite:" + path + ": not readable and writable by this user (SQLite's WAL " +
          "needs both)");
  }
}

InstanceSection sourceSection(const DaemonConfig& config, const std::string& from) {
  if (from == "sqlite") {
    InstanceSection section = configuredSink(config, "sqlite", "", "--from");
    // Where the sqlite sink keeps it: `path` (relative to the ini's folder), else data_dir.
    std::string path;
    for (const auto& entry : section.entries) {
      if (entry.key == "path") path = entry.value;
    }
    requireDatabaseFile(path.empty()
                            ? (std::filesystem::path(config.data_dir) / "gatherd.db").string()
                            : (std::filesystem::path(config.dir) / path).string());
    return section;
  }
  if (from.rfind("sqlite:", 0) != 0) usage("--from '" + from + "': only sqlite[:PATH] is a source");
  std::string path = from.substr(7);
  if (path.empty()) usage("--from sqlite: needs a path after the colon");
  // A path on the command line is relative to the working folder, not to the ini.
  path = std::filesystem::absolute(path).lexically_normal().string();
  requireDatabaseFile(path);
  return adHocSink(kFromName, "sqlite", "path", path);
}

InstanceSection targetSection(const DaemonConfig& config, const std::string& to,
                              const std::string& sink) {
  if (to == "postgres") return configuredSink(config, "postgres", sink, "--to");
  if (to.rfind("postgres:", 0) != 0) usage("--to '" + to + "': only postgres[:DSN] is a target");
  if (to.size() == 9) usage("--to postgres: needs a DSN after the colon");
  return adHocSink(kToName, "postgres", "dsn", to.substr(9));
}

/// One progress line at most per second: rewritten in place on a terminal, appended otherwise.
class Progress {
 public:
  Progress(std::ostream& out, std::int64_t total)
      : out_(out),
        total_(total),
        terminal_(::isatty(STDERR_FILENO) == 1),
        started_(std::chrono::steady_clock::now()),
        last_(started_) {}

  void update(const char* table, std::int64_t copied, std::int64_t inserted, bool force) {
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - started_).count();
    const double percent =
        total_ > 0 ? 100.0 * static_cast<double>(copied) / static_cast<double>(total_) : 100.0;
    out_ << (terminal_ ? "\r" : "") << "migrate: " << copied << "/" << total_ << " rows ("
         << static_cast<int>(std::floor(percent)) << "%), " << inserted << " new, "
         << static_cast<std::int64_t>(seconds > 0 ? static_cast<double>(copied) / seconds : 0)
         << " rows/s, " << table << (terminal_ ? "   " : "\n");
    out_.flush();
  }
  void finish() {
    if (terminal_) out_ << "\n";
  }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  }

 private:
  std::ostream& out_;
  std::int64_t total_;
  bool terminal_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace

int runMigrate(const MigrateOptions& options, std::ostream& out, std::ostream& progress) {
  if (options.from.empty() || options.to.empty()) usage("--from and --to are both required");
  Logging logging;
  SystemClock clock;
  DaemonConfig config = loadDaemonConfig(options.config_path);
  const InstanceSection from = sourceSection(config, options.from);
  const InstanceSection to = targetSection(config, options.to, options.sink);
  config.sources.clear();
  config.sinks = {from, to};
  PluginCatalog catalog = loadPlugins(config.plugin_dir, config.pluginIds());
  Runtime runtime(logging, clock);
  runtime.build(std::move(config), catalog, Runtime::Mode::kSinksOnly);
  SinkInstance& source = *runtime.sinks().at(0);
  SinkInstance& target = *runtime.sinks().at(1);
  for (SinkInstance* sink : {&source, &target}) {
    if (auto status = sink->start(); !status) {
      throw StartupError("migrate: [sink." + sink->name() + "] cannot start: " + status.message(),
                         kExitRuntimeError);
    }
  }

  sdk::HistoryCounts counts;
  if (auto status = source.countHistory(counts); !status) {
    progress << "gatherd: migrate: cannot read the source: " << status.message() << "\n";
    return kExitRuntimeError;
  }
  out << "migrate: [sink." << from.name << "] (sqlite) -> [sink." << to.name
      << "] (postgres): " << counts.invocations << " invocations, " << counts.quota_snapshots
      << " quota snapshots, " << counts.windows << " windows, " << counts.records
      << " other records, " << counts.pruned_totals << " pruned totals\n";
  if (counts.invocations_pruned_before_ms > 0) {
    out << "migrate: the source's retention deleted invocations before "
        << json::formatIsoUtc(counts.invocations_pruned_before_ms)
        << "; their totals come along as " << counts.pruned_totals
        << " pruned totals (hour, model, status)\n";
  }
  out.flush();

  Progress line(progress, counts.total());
  std::int64_t copied = 0;
  std::int64_t inserted = 0;
  for (const Table& table : kTables) {
    std::int64_t after_id = 0;
    for (;;) {
      sdk::HistoryPage page;
      if (auto status = source.readHistory(table.table, after_id, options.page_rows, page);
          !status) {
        line.finish();
        progress << "gatherd: migrate: reading " << table.name << " failed: " << status.message()
                 << "\n  what was copied is kept; run the same command again to resume\n";
        return kExitRuntimeError;
      }
      if (pageSize(page) == 0) break;
      std::int64_t page_inserted = 0;
      if (auto status = target.importHistory(page, page_inserted); !status) {
        line.finish();
        progress << "gatherd: migrate: writing " << table.name << " failed: " << status.message()
                 << "\n  what was copied is kept; run the same command again to resume\n";
        return kExitRuntimeError;
      }
      after_id = page.last_id;
      copied += static_cast<std::int64_t>(pageSize(page));
      inserted += page_inserted;
      line.update(table.name, copied, inserted, false);
    }
    line.update(table.name, copied, inserted, true);
  }
  line.finish();
  const double seconds = line.seconds();
  out << "migrate: done: " << copied << " rows read, " << inserted << " new, " << copied - inserted
      << " already there, in " << static_cast<std::int64_t>(seconds * 1000) << " ms\n";
  return kExitOk;
}

}  // namespace gatherd::core
