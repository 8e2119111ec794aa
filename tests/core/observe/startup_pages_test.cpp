#include "core/observe/startup_pages.hpp"

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using gatherd::core::ReleasedPages;
using gatherd::core::releaseStartupPages;

namespace {

// In a writable mapping (.data): changed at run time, so only memory holds the new value.
int changed_at_run_time = 1;

int twice(int value) {
  return 2 * value;
}
int thrice(int value) {
  return 3 * value;
}
// A table of function pointers: relocated at load time into memory that is made read-only
// after (RELRO), so its pages differ from the file's while the mapping is not writable.
int (*const kOperations[])(int) = {twice, thrice};

}  // namespace

TEST_CASE("releasing the start-up pages gives back code pages and keeps what was written",
          "[observe]") {
  changed_at_run_time = 7;
  std::vector<std::string> heap_strings(1'000, std::string(64, 'h'));

  const ReleasedPages released = releaseStartupPages();
  REQUIRE(released.mappings > 0);
  REQUIRE(released.resident_after_kb < released.resident_before_kb);

  REQUIRE(changed_at_run_time == 7);
  volatile int index = 1;  // read at run time: the call goes through the table
  REQUIRE(kOperations[index](5) == 15);
  REQUIRE(heap_strings[999] == std::string(64, 'h'));
  // Code and relocated data of other libraries still work: a virtual call into libstdc++.
  try {
    throw std::runtime_error("after release");
  } catch (const std::exception& error) {
    REQUIRE(std::string(error.what()) == "after release");
  }
  std::ostringstream text;
  text << 3.5 << ' ' << 42;
  REQUIRE(text.str() == "3.5 42");

  // A second call finds the pages mapped again by these uses and gives them back again.
  const ReleasedPages again = releaseStartupPages();
  REQUIRE(again.mappings > 0);
  REQUIRE(changed_at_run_time == 7);
  REQUIRE(kOperations[0](5) == 10);
}
