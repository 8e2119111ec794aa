#include "core/plugins/plugin_loader.hpp"

#include <algorithm>
#include <filesystem>

#include <boost/dll/import.hpp>

#include <sys/stat.h>

namespace gatherd::core {

const RefusedPlugin* PluginCatalog::refusalFor(const std::string& id) const {
  const std::string file_name = "gatherd-" + id + ".so";
  for (const auto& refusal : refused) {
    if (std::filesystem::path(refusal.path).filename() == file_name) return &refusal;
  }
  return nullptr;
}

std::string loadPluginFile(const std::string& path, const HostAbi& host, LoadedPlugin& loaded) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return "cannot stat the file";
  // A library anyone else can rewrite would run their code inside the daemon.
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return "the file is writable by group or others (chmod go-w it)";
  }
  auto library = std::make_shared<boost::dll::shared_library>();
  boost::dll::fs::error_code error;
  library->load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, error);
  if (error) return "cannot load the library: " + error.message();
  if (!library->has(sdk::kDescriptorSymbol)) {
    return std::string("no plugin descriptor (the symbol ") + sdk::kDescriptorSymbol +
           " is missing; declare the plugin with GATHERD_SOURCE_PLUGIN or GATHERD_SINK_PLUGIN)";
  }
  const sdk::PluginDescriptor* descriptor = nullptr;
  try {
    auto function = library->get<const sdk::PluginDescriptor*()>(sdk::kDescriptorSymbol);
    descriptor = function();
  } catch (const std::exception& e) {
    return std::string("the descriptor function failed: ") + e.what();
  } catch (...) {
    return "the descriptor function failed";
  }
  if (descriptor == nullptr) return "the descriptor function returned null";
  // Only the leading PluginAbi block may be read before these checks pass.
  const sdk::PluginAbi& abi = descriptor->abi;
  if (abi.abi_major != host.major) {
    return "built for sdk ABI " + std::to_string(abi.abi_major) + "." +
           std::to_string(abi.abi_minor) + ", but this gatherd speaks ABI " +
           std::to_string(host.major) + "." + std::to_string(host.minor) +
           " (another major version): rebuild the plugin against this gatherd's sdk";
  }
  if (abi.abi_minor > host.minor) {
    return "built for a newer sdk ABI " + std::to_string(abi.abi_major) + "." +
           std::to_string(abi.abi_minor) + " than this gatherd's " + std::to_string(host.major) +
           "." + std::to_string(host.minor) + ": upgrade gatherd or rebuild the plugin";
  }
  const std::string fingerprint = abi.fingerprint != nullptr ? abi.fingerprint : "";
  if (fingerprint != host.fingerprint) {
    return "build fingerprint '" + fingerprint + "' differs from gatherd's '" + host.fingerprint +
           "' (another compiler or standard library): rebuild the plugin with the same toolchain";
  }
  if (descriptor->id == nullptr || *descriptor->id == '\0') return "the descriptor has no id";
  const bool source_ok =
      descriptor->kind == sdk::PluginKind::kSource && descriptor->create_source != nullptr;
  const bool sink_ok =
      descriptor->kind == sdk::PluginKind::kSink && descriptor->create_sink != nullptr;
  if (!source_ok && !sink_ok) return "the descriptor has no factory for its kind";
  if (descriptor->schema == nullptr) return "the descriptor has no config schema";
  loaded.library = std::move(library);
  loaded.descriptor = descriptor;
  loaded.path = path;
  return {};
}

namespace {

// Loads `files` into `catalog` (a file whose id is already there is refused as a duplicate;
// a file tried before is skipped).
void loadFiles(const std::vector<std::string>& files, const HostAbi& host, PluginCatalog& catalog) {
  for (const auto& path : files) {
    const bool seen =
        std::any_of(catalog.plugins.begin(), catalog.plugins.end(),
                    [&](const auto& entry) { return entry.second.path == path; }) ||
        std::any_of(catalog.refused.begin(), catalog.refused.end(),
                    [&](const RefusedPlugin& refusal) { return refusal.path == path; });
    if (seen) continue;  // tried already by its conventional name
    LoadedPlugin loaded;
    std::string reason = loadPluginFile(path, host, loaded);
    if (reason.empty()) {
      const std::string id = loaded.descriptor->id;
      auto existing = catalog.plugins.find(id);
      if (existing != catalog.plugins.end()) {
        reason =
            "duplicate plugin id '" + id + "' (already loaded from " + existing->second.path + ")";
      } else {
        catalog.plugins.emplace(id, std::move(loaded));
        continue;
      }
    }
    catalog.refused.push_back({path, std::move(reason)});
  }
}

// Every *.so of `directory`, sorted by name; false (and a refusal saying why) when the folder
// cannot be read.
bool listLibraries(const std::string& directory, std::vector<std::string>& files,
                   PluginCatalog& catalog) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    if (entry.path().extension() == ".so") files.push_back(entry.path().string());
  }
  if (error) {
    catalog.refused.push_back({directory, "cannot read the plugin directory: " + error.message()});
    return false;
  }
  std::sort(files.begin(), files.end());
  return true;
}

}  // namespace

PluginCatalog loadPlugins(const std::string& directory, const HostAbi& host) {
  PluginCatalog catalog;
  std::vector<std::string> files;
  if (listLibraries(directory, files, catalog)) loadFiles(files, host, catalog);
  return catalog;
}

PluginCatalog loadPlugins(const std::string& directory, const std::set<std::string>& ids,
                          const HostAbi& host) {
  PluginCatalog catalog;
  std::vector<std::string> conventional;
  for (const std::string& id : ids) {
    const std::filesystem::path path = std::filesystem::path(directory) / ("gatherd-" + id + ".so");
    std::error_code error;
    if (std::filesystem::exists(path, error)) conventional.push_back(path.string());
  }
  loadFiles(conventional, host, catalog);
  const bool all_found = std::all_of(ids.begin(), ids.end(), [&](const std::string& id) {
    return catalog.plugins.count(id) > 0 || catalog.refusalFor(id) != nullptr;
  });
  if (all_found) return catalog;
  std::vector<std::string> files;
  if (listLibraries(directory, files, catalog)) loadFiles(files, host, catalog);
  return catalog;
}

}  // namespace gatherd::core
