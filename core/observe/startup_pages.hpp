#pragma once
// Gives back the memory that only start-up used. Loading plugins, reading the config, starting
// the stores (migrations, Poco::Data's session set-up) and OpenSSL's initialisation touch code
// and read-only data that the polling never runs again; the kernel maps each touched page and
// its neighbours (fault-around) and keeps them in the process's resident set until memory is
// short. Measured on the default config (bench/footprint): of 18.4 MB resident, 4.8 MB were
// referenced in 30 s of steady polling.

#include <cstddef>

#include <spdlog/logger.h>

namespace gatherd::core {

struct ReleasedPages {
  std::size_t resident_before_kb = 0;
  std::size_t resident_after_kb = 0;
  std::size_t mappings = 0;  ///< mappings whose pages were released
};

/// Unmaps the resident pages of the loaded executables' and libraries' code and read-only data
/// that were never written (a later access maps them again from the page cache, as on first
/// use), and returns the heap's free pages (malloc_trim). Writable mappings and read-only ones
/// holding written pages (relocations made read-only after loading) are left alone: their
/// contents exist only in memory. Safe to call from any thread at any time.
ReleasedPages releaseStartupPages();
/// The same, logging what it gave back (info).
void releaseStartupPages(spdlog::logger& log);

}  // namespace gatherd::core
