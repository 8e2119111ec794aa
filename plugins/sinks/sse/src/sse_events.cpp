#include "sse_events.hpp"

#include "api_json/api_json.hpp"
#include "gatherd/sdk/streams.hpp"
#include "json/json_writer.hpp"

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
    case Kind::kWindow: {
      if (!change.window) return 0;
      const sdk::WindowResult& window = *change.window;
      out += formatEvent(change.sequence, "window", api_json::window(window));
      const std::string& name = window.source.empty() ? change.source : window.source;
      auto it = auth_states_.find(name);
      // The first window seen of an instance only matters when its credentials need a human.
      const bool changed = it == auth_states_.end()
                               ? window.auth_state == sdk::AuthState::kExpired ||
                                     window.auth_state == sdk::AuthState::kMissing
                               : it->second != window.auth_state;
      auth_states_[name] = window.auth_state;
      if (!changed) return 1;
      std::string data;
      json::Writer writer(data);
      writer.beginObject();
      writer.key("name").string(name);
      writer.key("state").string("running");
      writer.key("authState").string(sdk::authStateName(window.auth_state));
      writer.key("authHint").string(window.auth_state == sdk::AuthState::kOk ? "" : window.message);
      writer.endObject();
      out += formatEvent(change.sequence, "source", data);
      return 2;
    }
    case Kind::kOther:
      // Alert transitions the core's rules publish: pushed as they are stored.
      if (!change.record || change.record->stream != sdk::streams::kAlert) return 0;
      out += formatEvent(change.sequence, "alert", api_json::alert(*change.record));
      return 1;
  }
  return 0;
}

}  // namespace gatherd::plugins::sse
