#include "core/observe/startup_pages.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "core/observe/process_metrics.hpp"
#include <malloc.h>
#include <sys/mman.h>

namespace gatherd::core {
namespace {

struct Mapping {
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
  std::string permissions;  ///< "r-xp"
  std::string path;
  std::size_t anonymous_kb = 0;  ///< pages written since mapping (copy-on-write copies)
};

std::vector<Mapping> readMappings() {
  std::vector<Mapping> mappings;
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  while (std::getline(smaps, line)) {
    unsigned long start = 0;
    unsigned long end = 0;
    char permissions[8] = {};
    int path_at = 0;
    // "start-end perms offset dev inode path"; the field lines ("Rss:   12 kB") do not match.
    if (std::sscanf(line.c_str(), "%lx-%lx %7s %*s %*s %*s %n", &start, &end, permissions,
                    &path_at) >= 3 &&
        path_at > 0) {
      Mapping mapping;
      mapping.start = start;
      mapping.end = end;
      mapping.permissions = permissions;
      mapping.path = line.substr(static_cast<std::size_t>(path_at));
      mappings.push_back(std::move(mapping));
    } else if (!mappings.empty() && line.rfind("Anonymous:", 0) == 0) {
      mappings.back().anonymous_kb = std::strtoul(line.c_str() + 10, nullptr, 10);
    }
  }
  return mappings;
}

std::size_t residentKb() {
  return static_cast<std::size_t>(residentBytes() / 1024);
}

}  // namespace

ReleasedPages releaseStartupPages() {
  ReleasedPages released;
  released.resident_before_kb = residentKb();
  const std::vector<Mapping> mappings = readMappings();
  // Loaded objects are the files with an executable mapping; other files a library may have
  // mapped privately (data it reads) are left as they are.
  std::set<std::string> objects;
  for (const auto& mapping : mappings) {
    if (mapping.path.rfind('/', 0) == 0 && mapping.permissions.size() == 4 &&
        mapping.permissions[2] == 'x') {
      objects.insert(mapping.path);
    }
  }
  for (const auto& mapping : mappings) {
    const std::string& perms = mapping.permissions;
    // Private, not writable, nothing written into it: every page equals the file's, so
    // dropping it loses nothing (MADV_DONTNEED on a private file mapping maps the file again).
    if (perms.size() != 4 || perms[1] == 'w' || perms[3] != 'p' || mapping.anonymous_kb > 0 ||
        objects.count(mapping.path) == 0) {
      continue;
    }
    // The address is text from /proc/self/maps: an integer is what there is to cast.
    void* start = reinterpret_cast<void*>(mapping.start);  // NOLINT(performance-no-int-to-ptr)
    if (::madvise(start, mapping.end - mapping.start, MADV_DONTNEED) == 0) {
      ++released.mappings;
    }
  }
  ::malloc_trim(0);
  released.resident_after_kb = residentKb();
  return released;
}

void releaseStartupPages(spdlog::logger& log) {
  const ReleasedPages released = releaseStartupPages();
  log.info("released the pages only start-up used: resident {} -> {} kB ({} mappings)",
           released.resident_before_kb, released.resident_after_kb, released.mappings);
}

}  // namespace gatherd::core
