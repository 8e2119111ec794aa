#pragma once
// Turns store changes into named Server-Sent Events (docs/api.md, "/events").

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/store.hpp"

namespace gatherd::plugins::sse {

/// "id: <id>\nevent: <name>\ndata: <data>\n\n"; a data value with newlines becomes several
/// data: lines, which the client joins back.
std::string formatEvent(std::int64_t id, std::string_view name, std::string_view data);

/// Stateful: `quota` only when a source's quota changed, so one builder follows one ordered
/// stream of changes (live, or one replay).
class EventBuilder {
 public:
  /// Appends the event text(s) of `change` to `out`; returns how many events it added.
  int add(const sdk::Change& change, std::string& out);

 private:
  std::map<std::string, sdk::Fields, std::less<>> quotas_;
};

}  // namespace gatherd::plugins::sse
