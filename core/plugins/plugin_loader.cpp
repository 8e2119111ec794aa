#include "core/plugins/plugin_loader.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include <boost/dll/import.hpp>

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
    auto function =
        library->get<const sdk::PluginDescriptor*()>(sdk::kDescriptorSymbol);
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

PluginCatalog loadPlugins(const std::string& directory, const HostAbi& host) {
  PluginCatalog catalog;
  std::error_code error;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    if (entry.path().extension() == ".so") files.push_back(entry.path().string());
  }
  if (error) {
    catalog.refused.push_back({directory, "cannot read the plugin directory: " + error.message()});
    return catalog;
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    LoadedPlugin loaded;
    std::string reason = loadPluginFile(path, host, loaded);
    if (reason.empty()) {
      const std::string id = loaded.descriptor->id;
      auto existing = catalog.plugins.find(id);
      if (existing != catalog.plugins.end()) {
        reason = "duplicate plugin id '" + id + "' (already loaded from " +
                 existing->second.path + ")";
      } else {
        catalog.plugins.emplace(id, std::move(loaded));
        continue;
      }
    }
    catalog.refused.push_back({path, std::move(reason)});
  }
  return catalog;
}

}  // namespace gatherd::core
