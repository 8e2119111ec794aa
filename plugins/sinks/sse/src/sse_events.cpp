#include "sse_events.hpp"

#include "gatherd/lib/api_json/api_json.hpp"
#include "gatherd/sdk/streams.hpp"

namespace gatherd::plugins::sse {

std::string formatEvent(std::int64_t id, std::string_view name, std::string_view data) {
  std::string out;
  out.reserve(data.size() + name.size() + 40);
  out += "id: ";
  out += std::to_string(id);
  out += "\nevent: ";
  out += name;
  out += '\n';
  std::size_t pos = 0;
  while (true) {
    std::size_t end = data.find('\n', pos);
    std::string_view line = data.substr(pos, end == std::string_view::npos ? end : end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out += "data: ";
    out += line;
    out += '\n';
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  out += '\n';
  return out;
}

int EventBuilder::add(const sdk::Change& change, std::string& out) {
  using Kind = sdk::Change::Kind;
  switch (change.kind) {
    case Kind::kInvocationNew:
    case Kind::kInvocationUpdated:
      if (!change.invocation) return 0;
      out += formatEvent(change.sequence,
                         change.kind == Kind::kInvocationNew ? "invocation" : "invocation-updated",
                         api_json::invocation(*change.invocation));
      return 1;
    case Kind::kQuota: {
      if (!change.record) return 0;
      auto it = quotas_.find(change.source);
      if (it != quotas_.end() && it->second == change.record->fields) return 0;
      quotas_[change.source] = change.record->fields;
      out += formatEvent(change.sequence, "quota", api_json::quota(change.source, *change.record));
      return 1;
    }
    case Kind::kWindow:
      if (!change.window) return 0;
      out += formatEvent(change.sequence, "window", api_json::window(*change.window));
      return 1;
    case Kind::kOther:
      if (!change.record) return 0;
      // Alert transitions the core's rules publish: pushed as they are stored.
      if (change.record->stream == sdk::streams::kAlert) {
        out += formatEvent(change.sequence, "alert", api_json::alert(*change.record));
        return 1;
      }
      // The core's state of a source, published when it changed: passed on as it is, never
      // re-derived here.
      if (change.record->stream == sdk::streams::kSourceStatus) {
        out += formatEvent(change.sequence, "source",
                           api_json::sourceStatus(change.source, *change.record));
        return 1;
      }
      return 0;
  }
  return 0;
}

}  // namespace gatherd::plugins::sse
