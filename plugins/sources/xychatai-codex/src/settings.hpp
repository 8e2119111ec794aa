#pragma once
// The validated configuration of one xychatai-codex instance, apart from any logic.

#include <cstdint>
#include <string>

#include "gatherd/sdk/config.hpp"
#include "gatherd/sdk/status.hpp"

namespace gatherd::plugins::xychatai {

inline constexpr const char* kDefaultBaseUrl = "https://new.xychatai.com";
inline constexpr const char* kDefaultEndpoint = "/frontend-api/vibe-code/quota";
inline constexpr const char* kDefaultCookieName = "share-session";
/// The environment variable the shipped config reads the cookie from (the seed's name).
inline constexpr const char* kCookieVariable = "XY_SESSION_COOKIE_VALUE";

/// Filled by parseSettings() from settingsSchema(), defaults included. The URL defaults are the
/// named constants above, which the schema uses too; everything else starts at a zero value here.
struct Settings {
  std::string base_url = kDefaultBaseUrl;
  std::string endpoint = kDefaultEndpoint;
  std::string cookie_name = kDefaultCookieName;
  std::string cookie;  ///< secret; empty when not configured
  std::string service;
  int utc_offset_minutes = 0;
  std::string ca_file;     ///< empty: the system trust store
  std::string proxy;       ///< "http://host:port"; empty: HTTPS_PROXY (if set) or none
  std::string user_agent;  ///< empty: "gatherd/<version> xychatai-codex/<plugin version>"
  int shared_connections = 0;

  /// The absolute URL polled: endpoint when it starts with "http", else base_url + endpoint.
  std::string url() const;
};

/// The keys this plugin accepts (the config schema the host validates against).
sdk::ConfigSchema settingsSchema();

/// The proxy to use: `proxy` when set; else HTTPS_PROXY / https_proxy from the environment,
/// except for loopback hosts and hosts listed in NO_PROXY / no_proxy. Empty: connect directly.
std::string effectiveProxy(const Settings& settings);

/// Reads and checks `config` into `settings`. The message of a failure names the key.
sdk::Status parseSettings(const sdk::Config& config, Settings& settings);

}  // namespace gatherd::plugins::xychatai
