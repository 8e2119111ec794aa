// libFuzzer target: the xychatai quota response parser. Any body must parse without a crash, an
// exception, a sanitizer report or a secret reaching the result.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "parser.hpp"

namespace xy = gatherd::plugins::xychatai;

namespace {

constexpr std::string_view kCookie = "FUZZ-cookie-secret-value";

bool leaks(std::string_view text) {
  return text.find(kCookie) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  static const xy::Redactor* redactor = [] {
    auto* made = new xy::Redactor();
    made->add(kCookie);
    return made;
  }();
  for (const char* service : {"codex", "claudecode"}) {
    xy::ParseOptions options;
    options.service = service;
    options.now_utc_ms = 1'771'985'381'000;
    options.redactor = redactor;
    const xy::ParsedResponse parsed = xy::parseQuotaResponse(body, options);
    // The redactor promise: the configured secret is in no message, field or raw JSON.
    bool leaked = leaks(parsed.message);
    for (const auto& problem : parsed.problems) leaked = leaked || leaks(problem);
    for (const auto& record : parsed.invocations) {
      leaked = leaked || leaks(record.raw_json);
      (void)xy::changeFingerprint(record);
      (void)xy::contentFingerprint(record);
    }
    if (parsed.quota) leaked = leaked || leaks(parsed.quota->raw_json);
    if (leaked) std::abort();
  }
  return 0;
}
