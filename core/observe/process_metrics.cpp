#include "core/observe/process_metrics.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "gatherd/sdk/metric_family.hpp"
#include <sys/resource.h>
#include <unistd.h>

namespace gatherd::core {
namespace {

sdk::MetricFamily gauge(const char* name, const char* help, const char* unit, double value,
                        sdk::MetricType type = sdk::MetricType::kGauge) {
  sdk::MetricFamily family = sdk::makeMetricFamily(name, type, help, unit);
  sdk::addMetricSample(family, {}, value);
  return family;
}

// The fields of /proc/self/stat after the command name (which may contain spaces).
bool readStat(std::string& fields) {
  std::FILE* file = std::fopen("/proc/self/stat", "r");
  if (file == nullptr) return false;
  char buffer[1024];
  const std::size_t size = std::fread(buffer, 1, sizeof buffer - 1, file);
  std::fclose(file);
  buffer[size] = '\0';
  const char* close = std::strrchr(buffer, ')');
  if (close == nullptr) return false;
  fields.assign(close + 2);
  return true;
}

// Field `index` counted like proc(5) (1 = pid; 3 = state is the first after the name).
std::string statField(const std::string& fields, int index) {
  int current = 3;
  std::size_t begin = 0;
  while (current < index) {
    begin = fields.find(' ', begin);
    if (begin == std::string::npos) return {};
    ++begin;
    ++current;
  }
  return fields.substr(begin, fields.find(' ', begin) - begin);
}

double bootTimeSeconds() {
  std::FILE* file = std::fopen("/proc/stat", "r");
  if (file == nullptr) return 0;
  char line[256];
  double boot = 0;
  while (std::fgets(line, sizeof line, file) != nullptr) {
    if (std::strncmp(line, "btime ", 6) == 0) {
      boot = std::strtod(line + 6, nullptr);
      break;
    }
  }
  std::fclose(file);
  return boot;
}

double startTimeSeconds() {
  static const double start = [] {
    std::string fields;
    if (!readStat(fields)) return 0.0;
    const double ticks = std::strtod(statField(fields, 22).c_str(), nullptr);
    const long hertz = ::sysconf(_SC_CLK_TCK);
    return hertz > 0 ? bootTimeSeconds() + ticks / static_cast<double>(hertz) : 0.0;
  }();
  return start;
}

double openFds() {
  std::error_code error;
  double count = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error)) {
    ++count;
  }
  return count > 0 ? count - 1 : 0;  // the descriptor of the listing itself
}

}  // namespace

double residentBytes() {
  std::string fields;
  if (!readStat(fields)) return 0;
  return std::strtod(statField(fields, 24).c_str(), nullptr) *
         static_cast<double>(::sysconf(_SC_PAGESIZE));
}

void collectProcessMetrics(std::vector<sdk::MetricFamily>& families) {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                     static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  families.push_back(gauge("process_cpu_seconds", "User and system CPU time spent by gatherd",
                           "seconds", cpu, sdk::MetricType::kCounter));

  std::string fields;
  if (readStat(fields)) {
    families.push_back(gauge("process_resident_memory_bytes", "Resident memory size", "bytes",
                             std::strtod(statField(fields, 24).c_str(), nullptr) *
                                 static_cast<double>(::sysconf(_SC_PAGESIZE))));
    families.push_back(gauge("process_virtual_memory_bytes", "Virtual memory size", "bytes",
                             std::strtod(statField(fields, 23).c_str(), nullptr)));
    families.push_back(gauge("gatherd_process_threads", "Threads of the gatherd process", "",
                             std::strtod(statField(fields, 20).c_str(), nullptr)));
  }
  families.push_back(gauge("process_open_fds", "Open file descriptors", "", openFds()));
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    families.push_back(gauge("process_max_fds", "Limit of open file descriptors", "",
                             static_cast<double>(limit.rlim_cur)));
  }
  families.push_back(gauge("process_start_time_seconds",
                           "Start time of the process, seconds since the Unix epoch", "seconds",
                           startTimeSeconds()));
}

}  // namespace gatherd::core
