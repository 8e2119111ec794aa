#include "settings.hpp"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "json/time_format.hpp"

namespace gatherd::plugins::xychatai {
namespace {

sdk::ConfigKey key(std::string name, sdk::ConfigType type, std::string default_value,
                   std::string description, bool secret = false,
                   std::vector<std::string> choices = {}) {
  sdk::ConfigKey result;
  result.name = std::move(name);
  result.type = type;
  result.default_value = std::move(default_value);
  result.secret = secret;
  result.description = std::move(description);
  result.choices = std::move(choices);
  return result;
}

bool startsWithHttp(const std::string& text) { return text.rfind("http", 0) == 0; }

sdk::Status checkHttpsUrl(const std::string& key_name, const std::string& text) {
  try {
    const Poco::URI uri(text);
    if ((uri.getScheme() != "https" && uri.getScheme() != "http") || uri.getHost().empty()) {
      return sdk::Status::failure(key_name + ": '" + text +
                                  "' is not an http(s) URL with a host name");
    }
  } catch (const Poco::Exception& error) {
    return sdk::Status::failure(key_name + ": '" + text + "' is not a URL: " + error.message());
  }
  return sdk::Status::success();
}

}  // namespace

std::string Settings::url() const {
  if (startsWithHttp(endpoint)) return endpoint;
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return endpoint.empty() || endpoint.front() == '/' ? base + endpoint : base + "/" + endpoint;
}

sdk::ConfigSchema settingsSchema() {
  using sdk::ConfigType;
  return {
      key("base_url", ConfigType::kString, kDefaultBaseUrl,
          "site root, e.g. https://new.xychatai.com or https://new.sharedchat.cc"),
      key("endpoint", ConfigType::kString, kDefaultEndpoint,
          "quota API path; a value starting with http is an absolute URL"),
      key("cookie_name", ConfigType::kString, kDefaultCookieName, "name of the session cookie"),
      key("cookie", ConfigType::kString, "",
          "session cookie value exported from the browser; use ${XY_SESSION_COOKIE_VALUE}",
          /*secret=*/true),
      key("service", ConfigType::kString, "codex", "service key under data",
          false, {"codex", "claudecode"}),
      key("utc_offset", ConfigType::kString, "+08:00",
          "offset of the upstream's naive times (Asia/Shanghai is +08:00)"),
      key("ca_file", ConfigType::kPath, "", "PEM CA bundle; empty uses the system trust store"),
      key("proxy", ConfigType::kString, "",
          "http://host:port of an HTTP proxy; empty uses HTTPS_PROXY when it is set"),
      key("user_agent", ConfigType::kString, "", "User-Agent header; empty names gatherd"),
      key("shared_connections", ConfigType::kInt, "2",
          "keep-alive connections are reused while at most this many requests are in flight"),
  };
}

sdk::Status parseSettings(const sdk::Config& config, Settings& settings) {
  Settings parsed;
  parsed.base_url = config.getString("base_url", kDefaultBaseUrl);
  parsed.endpoint = config.getString("endpoint", kDefaultEndpoint);
  parsed.cookie_name = config.getString("cookie_name", kDefaultCookieName);
  parsed.cookie = config.getString("cookie");
  parsed.service = config.getString("service", "codex");
  parsed.ca_file = config.getString("ca_file");
  parsed.proxy = config.getString("proxy");
  parsed.user_agent = config.getString("user_agent");

  if (parsed.endpoint.empty()) return sdk::Status::failure("endpoint: must not be empty");
  if (startsWithHttp(parsed.endpoint)) {
    if (auto status = checkHttpsUrl("endpoint", parsed.endpoint); !status) return status;
  } else if (auto status = checkHttpsUrl("base_url", parsed.base_url); !status) {
    return status;
  }
  if (parsed.cookie_name.empty() ||
      parsed.cookie_name.find_first_of("=; \t\r\n") != std::string::npos) {
    return sdk::Status::failure("cookie_name: '" + parsed.cookie_name +
                                "' is not a valid cookie name");
  }
  if (parsed.cookie.find_first_of(";\r\n") != std::string::npos) {
    // The value is a secret, so the message must not repeat it.
    return sdk::Status::failure("cookie: the value contains ';' or a line break; set only the "
                                "value of the " + parsed.cookie_name + " cookie");
  }
  if (parsed.service != "codex" && parsed.service != "claudecode") {
    return sdk::Status::failure("service: '" + parsed.service +
                                "' is not one of codex, claudecode");
  }
  const std::string offset_text = config.getString("utc_offset", "+08:00");
  const auto offset = json::parseUtcOffset(offset_text);
  if (!offset) {
    return sdk::Status::failure("utc_offset: '" + offset_text +
                                "' is not an offset like +08:00, -05:30 or Z");
  }
  parsed.utc_offset_minutes = *offset;
  const std::int64_t shared = config.getInt("shared_connections", 2);
  if (shared < 0 || shared > 64) {
    return sdk::Status::failure("shared_connections: must be between 0 and 64");
  }
  parsed.shared_connections = static_cast<int>(shared);
  if (!parsed.proxy.empty()) {
    if (auto status = checkHttpsUrl("proxy", parsed.proxy); !status) return status;
  }
  settings = std::move(parsed);
  return sdk::Status::success();
}

}  // namespace gatherd::plugins::xychatai
