#include "gatherd/lib/json/record_json.hpp"

#include "gatherd/lib/json/json_writer.hpp"
#include "gatherd/lib/json/time_format.hpp"

namespace gatherd::json {

std::string camelCase(std::string_view snake) {
  std::string out;
  out.reserve(snake.size());
  bool upper = false;
  for (char c : snake) {
    if (c == '_') {
      upper = !out.empty();
      continue;
    }
    out.push_back(upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
    upper = false;
  }
  return out;
}

void appendRecord(std::string& out, const sdk::Record& record, bool include_raw) {
  Writer writer(out);
  writer.beginObject();
  writer.key("stream").string(record.stream);
  writer.key("key").string(record.key);
  writer.key("time").string(formatIsoUtc(record.time_ms));
  writer.key("timeMs").integer(record.time_ms);
  writer.key("fields").beginObject();
  for (const auto& [name, value] : record.fields) writer.key(camelCase(name)).value(value);
  writer.endObject();
  if (include_raw) {
    if (record.raw_json.empty())
      writer.key("raw").null();
    else
      writer.key("raw").raw(record.raw_json);
  }
  writer.endObject();
}

std::string recordToJson(const sdk::Record& record, bool include_raw) {
  std::string out;
  appendRecord(out, record, include_raw);
  return out;
}

void appendSourcedRecord(std::string& out, std::string_view source, const sdk::Record& record,
                         bool include_raw) {
  std::string object;
  appendRecord(object, record, include_raw);
  out += "{\"source\":";
  appendString(out, source);
  out += ",";
  out.append(object, 1, std::string::npos);
}

void appendWindowResult(std::string& out, const sdk::WindowResult& window) {
  Writer writer(out);
  writer.beginObject();
  writer.key("source").string(window.source);
  writer.key("window").string(formatIsoUtc(window.window_ms));
  writer.key("windowMs").integer(window.window_ms);
  writer.key("startedAt");
  if (window.started_ms > 0)
    writer.string(formatIsoUtc(window.started_ms));
  else
    writer.null();
  writer.key("finishedAt").string(formatIsoUtc(window.finished_ms));
  writer.key("outcome").string(sdk::outcomeName(window.outcome));
  writer.key("message").string(window.message);
  writer.key("httpStatus").integer(window.http_status);
  writer.key("recordsSeen").integer(window.records_seen);
  writer.key("recordsEmitted").integer(window.records_emitted);
  writer.key("recordsRejected").integer(window.records_rejected);
  writer.key("gapSuspected").boolean(window.gap_suspected);
  writer.key("gapFrom");
  if (window.gap_suspected)
    writer.string(formatIsoUtc(window.gap_from_ms));
  else
    writer.null();
  writer.key("gapTo");
  if (window.gap_suspected)
    writer.string(formatIsoUtc(window.gap_to_ms));
  else
    writer.null();
  writer.key("authState").string(sdk::authStateName(window.auth_state));
  writer.key("clockJump").boolean(window.clock_jump);
  writer.endObject();
}

std::string windowResultToJson(const sdk::WindowResult& window) {
  std::string out;
  appendWindowResult(out, window);
  return out;
}

}  // namespace gatherd::json
