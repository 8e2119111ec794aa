// libFuzzer target: the API's query-string parser and its typed getters. Bad input may only
// end in ParameterError.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/http/query_params.hpp"

using gatherd::core::ParameterError;
using gatherd::core::QueryParams;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view query(reinterpret_cast<const char*>(data), size);
  (void)gatherd::core::percentDecode(query, true);
  (void)gatherd::core::percentDecode(query, false);
  try {
    const QueryParams params(query);
    const auto guard = [](auto&& get) {
      try {
        get();
      } catch (const ParameterError&) {
      }
    };
    guard([&] { params.allowOnly({"from", "to", "limit", "tz", "model", "status", "cursor"}); });
    for (const char* name : {"from", "to", "limit", "tz", "model", "status", "cursor", "a"}) {
      guard([&] { (void)params.text(name); });
      guard([&] { (void)params.integer(name, -1'000'000, 1'000'000); });
      guard([&] { (void)params.integer(name, INT64_MIN, INT64_MAX); });
      guard([&] { (void)params.time(name); });
      guard([&] { (void)params.utcOffset(name); });
      guard([&] { (void)params.choice(name, {"success", "failed", "all"}); });
    }
  } catch (const ParameterError&) {
  }
  return 0;
}
