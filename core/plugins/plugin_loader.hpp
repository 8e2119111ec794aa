#pragma once
// Finds plugin libraries in a folder, checks the ABI handshake and keeps the libraries loaded.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "gatherd/sdk/plugin.hpp"

namespace gatherd::core {

/// A plugin that passed the handshake. The library stays loaded while anything holds `library`:
/// every instance made from the descriptor must hold it too (objects must not outlive their code).
struct LoadedPlugin {
  std::shared_ptr<boost::dll::shared_library> library;
  const sdk::PluginDescriptor* descriptor = nullptr;
  std::string path;
};

struct RefusedPlugin {
  std::string path;
  std::string reason;
};

struct PluginCatalog {
  std::map<std::string, LoadedPlugin> plugins;  ///< by plugin id
  std::vector<RefusedPlugin> refused;
  /// The refusal of the file that would have provided `id`, if a refused file's name suggests
  /// it (gatherd-<id>.so): lets "plugin not found" say why.
  const RefusedPlugin* refusalFor(const std::string& id) const;
};

/// The host's own expectations (tests pass others to exercise the checks).
struct HostAbi {
  std::uint32_t major = sdk::kAbiMajor;
  std::uint32_t minor = sdk::kAbiMinor;
  std::string fingerprint = sdk::kBuildFingerprint;
};

/// Loads every `*.so` in `directory` (sorted by name). A missing directory is an empty catalog
/// with one refusal explaining it. Never throws.
PluginCatalog loadPlugins(const std::string& directory, const HostAbi& host = {});

/// Loads only the plugins that provide `ids` (the ones a config uses), each from its
/// conventional file `gatherd-<id>.so`; the rest of the folder is read only when an id has no
/// such file (a plugin file named otherwise). Unused plugins then bring none of their libraries
/// into the process (the postgres sink's libpq, GnuTLS and Kerberos: about 4 MB of RSS). Ids
/// that no file provides are simply absent from the catalog. Never throws.
PluginCatalog loadPlugins(const std::string& directory, const std::set<std::string>& ids,
                          const HostAbi& host = {});

/// Loads and checks one file; returns the refusal reason, or an empty string and fills `loaded`.
std::string loadPluginFile(const std::string& path, const HostAbi& host, LoadedPlugin& loaded);

}  // namespace gatherd::core
