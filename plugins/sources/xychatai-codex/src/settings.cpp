#include "settings.hpp"

#include <algorithm>
#include <cstdlib>

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include "gatherd/lib/json/time_format.hpp"

namespace gatherd::plugins::xychatai {
namespace {

std::string lowerCase(std::string_view text) {
  std::string lower;
  for (char c : text) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  return lower;
}

bool startsWithHttp(const std::string& text) {
  return text.rfind("http", 0) == 0;
}

/// `secret`: the value may hold credentials (a proxy URL), so messages do not repeat it.
sdk::Status checkHttpsUrl(const std::string& key_name, const std::string& text,
                          bool secret = false) {
  const std::string shown = secret ? std::string("the value") : "'" + text + "'";
  try {
    const Poco::URI uri(text);
    if ((uri.getScheme() != "https" && uri.getScheme() != "http") || uri.getHost().empty()) {
      return sdk::Status::failure(key_name + ": " + shown +
                                  " is not an http(s) URL with a host name");
    }
  } catch (const Poco::Exception& error) {
    // Poco's message quotes the text too.
    return sdk::Status::failure(key_name + ": " + shown + " is not a URL" +
                                (secret ? std::string() : ": " + error.message()));
  }
  return sdk::Status::success();
}

bool isLoopback(const std::string& host) {
  return host == "localhost" || host == "127.0.0.1" || host == "::1" || host == "[::1]";
}

}  // namespace

std::string effectiveProxy(const Settings& settings) {
  if (!settings.proxy.empty()) return settings.proxy;
  const char* from_env = std::getenv("HTTPS_PROXY");
  if (from_env == nullptr || *from_env == '\0') from_env = std::getenv("https_proxy");
  if (from_env == nullptr || *from_env == '\0') return {};
  std::string host;
  try {
    host = lowerCase(Poco::URI(settings.url()).getHost());
  } catch (...) {
    return {};
  }
  if (isLoopback(host)) return {};
  const char* no_proxy = std::getenv("NO_PROXY");
  if (no_proxy == nullptr) no_proxy = std::getenv("no_proxy");
  if (no_proxy != nullptr) {
    std::string list = lowerCase(no_proxy);
    std::size_t start = 0;
    while (start <= list.size()) {
      const std::size_t end = std::min(list.find(',', start), list.size());
      std::string entry = list.substr(start, end - start);
      entry.erase(0, entry.find_first_not_of(" \t"));
      entry.erase(entry.find_last_not_of(" \t") + 1);
      if (entry == "*") return {};
      if (!entry.empty() && entry.front() == '.') entry.erase(0, 1);
      if (!entry.empty() &&
          (host == entry || (host.size() > entry.size() &&
                             host.compare(host.size() - entry.size(), entry.size(), entry) == 0 &&
                             host[host.size() - entry.size() - 1] == '.'))) {
        return {};
      }
      start = end + 1;
    }
  }
  std::string proxy = from_env;
  if (proxy.find("://") == std::string::npos) proxy = "http://" + proxy;
  return proxy;
}

std::string Settings::url() const {
  if (startsWithHttp(endpoint)) return endpoint;
  std::string base = base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return endpoint.empty() || endpoint.front() == '/' ? base + endpoint : base + "/" + endpoint;
}

sdk::ConfigSchema settingsSchema() {
  using sdk::ConfigType;
  return {
      sdk::key("base_url", ConfigType::kString)
          .byDefault(kDefaultBaseUrl)
          .describedAs("site root, e.g. https://new.xychatai.com or https://new.sharedchat.cc"),
      sdk::key("endpoint", ConfigType::kString)
          .byDefault(kDefaultEndpoint)
          .describedAs("quota API path; a value starting with http is an absolute URL"),
      sdk::key("cookie_name", ConfigType::kString)
          .byDefault(kDefaultCookieName)
          .describedAs("name of the session cookie"),
      sdk::key("cookie", ConfigType::kString)
          .secret()
          .describedAs(
              "session cookie value exported from the browser; use ${XY_SESSION_COOKIE_VALUE}"),
      sdk::key("service", ConfigType::kString)
          .byDefault("codex")
          .oneOf({"codex", "claudecode"})
          .describedAs("service key under data"),
      sdk::key("utc_offset", ConfigType::kString)
          .byDefault("+08:00")
          .describedAs("offset of the upstream's naive times (Asia/Shanghai is +08:00)"),
      sdk::key("ca_file", ConfigType::kPath)
          .describedAs("PEM CA bundle; empty uses the system trust store"),
      sdk::key("proxy", ConfigType::kString)
          .secret()
          .describedAs("http://[user:password@]host:port of an HTTP proxy; empty uses HTTPS_PROXY "
                       "when it is "
                       "set; a secret (it can hold credentials)"),
      sdk::key("user_agent", ConfigType::kString)
          .describedAs("User-Agent header; empty names gatherd"),
      sdk::key("shared_connections", ConfigType::kInt)
          .byDefault("2")
          .describedAs(
              "keep-alive connections are reused while at most this many requests are in flight"),
  };
}

sdk::Status parseSettings(const sdk::Config& given, Settings& settings) {
  // Defaults come from the schema only (getters below take no fallback).
  const sdk::Config config = sdk::withDefaults(given, settingsSchema());
  Settings parsed;
  parsed.base_url = config.getString("base_url");
  parsed.endpoint = config.getString("endpoint");
  parsed.cookie_name = config.getString("cookie_name");
  parsed.cookie = config.getString("cookie");
  parsed.service = config.getString("service");
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
    return sdk::Status::failure(
        "cookie: the value contains ';' or a line break; set only the "
        "value of the " +
        parsed.cookie_name + " cookie");
  }
  if (parsed.service != "codex" && parsed.service != "claudecode") {
    return sdk::Status::failure("service: '" + parsed.service +
                                "' is not one of codex, claudecode");
  }
  const std::string offset_text = config.getString("utc_offset");
  const auto offset = json::parseUtcOffset(offset_text);
  if (!offset) {
    return sdk::Status::failure("utc_offset: '" + offset_text +
                                "' is not an offset like +08:00, -05:30 or Z");
  }
  parsed.utc_offset_minutes = *offset;
  const std::int64_t shared = config.getInt("shared_connections");
  if (shared < 0 || shared > 64) {
    return sdk::Status::failure("shared_connections: must be between 0 and 64");
  }
  parsed.shared_connections = static_cast<int>(shared);
  if (!parsed.proxy.empty()) {
    if (auto status = checkHttpsUrl("proxy", parsed.proxy, /*secret=*/true); !status) {
      return status;
    }
  }
  settings = std::move(parsed);
  return sdk::Status::success();
}

}  // namespace gatherd::plugins::xychatai
