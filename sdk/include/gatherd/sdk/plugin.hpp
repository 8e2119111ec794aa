#pragma once
// The plugin descriptor and the macros that export it from a plugin library.

#include <cstdint>
#include <memory>

#include "gatherd/sdk/abi.hpp"
#include "gatherd/sdk/config.hpp"
#include "gatherd/sdk/sink.hpp"
#include "gatherd/sdk/source.hpp"

namespace gatherd::sdk {

enum class PluginKind : std::uint32_t { kSource = 1, kSink = 2 };

inline const char* pluginKindName(PluginKind kind) noexcept {
  return kind == PluginKind::kSource ? "source" : kind == PluginKind::kSink ? "sink" : "unknown";
}

/// The first bytes of every descriptor. Its layout never changes, so the host can read it from
/// any plugin before trusting the rest.
struct PluginAbi {
  std::uint32_t abi_major;
  std::uint32_t abi_minor;
  const char* fingerprint;  ///< GATHERD_SDK_FINGERPRINT of the plugin's build
};

/// Everything the host needs to know about a plugin. A static object inside the plugin
/// library: valid while the library is loaded. No work happens before create_* is called.
struct PluginDescriptor {
  PluginAbi abi;
  const char* id;  ///< unique plugin id, e.g. "xychatai-codex"
  PluginKind kind;
  const char* version;      ///< the plugin's own version
  const char* description;  ///< one line
  /// The config keys the plugin accepts (besides `plugin`). Returns a new vector each call.
  ConfigSchema (*schema)();
  /// Makes a new instance (nullptr for the other kind). The caller owns it and must destroy
  /// it before the library is unloaded.
  std::unique_ptr<Source> (*create_source)();
  std::unique_ptr<Sink> (*create_sink)();
};

/// The symbol alias every plugin exports (through BOOST_DLL_ALIAS or the macros below).
inline constexpr const char* kDescriptorSymbol = "gatherd_plugin_descriptor";

}  // namespace gatherd::sdk

/// Exports the descriptor function under the well-known name. Kept free of Boost so that the
/// sdk stays std-only: a plain extern "C" function is what BOOST_DLL_ALIAS produces too.
#define GATHERD_EXPORT_DESCRIPTOR(descriptor_expression)                                    \
  extern "C" __attribute__((visibility("default"))) const ::gatherd::sdk::PluginDescriptor* \
  gatherd_plugin_descriptor() {                                                             \
    static const ::gatherd::sdk::PluginDescriptor descriptor = descriptor_expression;       \
    return &descriptor;                                                                     \
  }

// The class arguments below are template arguments, which cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
/// Declares a source plugin: GATHERD_SOURCE_PLUGIN("demo", "1.0.0", "...", schemaFn, DemoSource)
#define GATHERD_SOURCE_PLUGIN(id, version, description, schema_function, SourceClass)              \
  GATHERD_EXPORT_DESCRIPTOR((::gatherd::sdk::PluginDescriptor{                                     \
      {::gatherd::sdk::kAbiMajor, ::gatherd::sdk::kAbiMinor, GATHERD_SDK_FINGERPRINT},             \
      id,                                                                                          \
      ::gatherd::sdk::PluginKind::kSource,                                                         \
      version,                                                                                     \
      description,                                                                                 \
      &schema_function,                                                                            \
      []() -> std::unique_ptr<::gatherd::sdk::Source> { return std::make_unique<SourceClass>(); }, \
      nullptr}))

/// Declares a sink plugin: GATHERD_SINK_PLUGIN("stdout", "1.0.0", "...", schemaFn, StdoutSink)
#define GATHERD_SINK_PLUGIN(id, version, description, schema_function, SinkClass)      \
  GATHERD_EXPORT_DESCRIPTOR((::gatherd::sdk::PluginDescriptor{                         \
      {::gatherd::sdk::kAbiMajor, ::gatherd::sdk::kAbiMinor, GATHERD_SDK_FINGERPRINT}, \
      id,                                                                              \
      ::gatherd::sdk::PluginKind::kSink,                                               \
      version,                                                                         \
      description,                                                                     \
      &schema_function,                                                                \
      nullptr,                                                                         \
      []() -> std::unique_ptr<::gatherd::sdk::Sink> { return std::make_unique<SinkClass>(); }}))
// NOLINTEND(bugprone-macro-parentheses)
