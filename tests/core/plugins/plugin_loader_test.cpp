#include "core/plugins/plugin_loader.hpp"

#include <cstdlib>
#include <filesystem>

#include <catch2/catch.hpp>

#include "gatherd/sdk/testing/temp_dir.hpp"
#include <sys/stat.h>

namespace fs = std::filesystem;
using namespace gatherd::core;

namespace {

// A fresh plugin directory holding copies of the named fixtures (as gatherd-<name>.so).
class PluginDir {
 public:
  fs::path add(const std::string& fixture, const std::string& file_name = {}) {
    const fs::path target =
        dir_.path() / (file_name.empty() ? "gatherd-" + fixture + ".so" : file_name);
    fs::copy_file(fs::path(LOADER_FIXTURE_DIR) / fixture / (fixture + ".so"), target);
    fs::permissions(target, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
    return target;
  }
  const fs::path& path() const { return dir_.path(); }

 private:
  gatherd::sdk::testing::TempDir dir_{"gatherd-loader"};
};

std::string refusal(const PluginCatalog& catalog, const fs::path& file) {
  for (const auto& refused : catalog.refused) {
    if (refused.path == file.string()) return refused.reason;
  }
  return {};
}

}  // namespace

TEST_CASE("a good plugin loads and exposes its descriptor") {
  PluginDir dir;
  dir.add("good");
  PluginCatalog catalog = loadPlugins(dir.path().string());
  REQUIRE(catalog.refused.empty());
  REQUIRE(catalog.plugins.count("fixture") == 1);
  const auto& plugin = catalog.plugins.at("fixture");
  CHECK(plugin.descriptor->kind == gatherd::sdk::PluginKind::kSource);
  CHECK(plugin.descriptor->schema().front().name == "mode");
  CHECK(plugin.library->is_loaded());
}

TEST_CASE("each bad plugin is refused with a reason naming the file and the cause") {
  PluginDir dir;
  const auto good = dir.add("good");
  const auto major = dir.add("wrong_major");
  const auto minor = dir.add("newer_minor");
  const auto fingerprint = dir.add("wrong_fingerprint");
  const auto none = dir.add("no_descriptor");
  PluginCatalog catalog = loadPlugins(dir.path().string());

  CHECK(catalog.plugins.size() == 1);
  CHECK(catalog.plugins.count("fixture") == 1);
  CHECK(catalog.refused.size() == 4);
  CHECK_THAT(refusal(catalog, major),
             Catch::Contains("ABI 99.") && Catch::Contains("another major"));
  CHECK_THAT(refusal(catalog, minor), Catch::Contains("newer sdk ABI"));
  CHECK_THAT(refusal(catalog, fingerprint),
             Catch::Contains("fingerprint") && Catch::Contains("other-compiler/other-abi"));
  CHECK_THAT(refusal(catalog, none), Catch::Contains("no plugin descriptor"));
  CHECK(catalog.refusalFor("wrong_major") != nullptr);
}

TEST_CASE("a plugin writable by group or others is refused before it is loaded") {
  PluginDir dir;
  const auto file = dir.add("good");
  fs::permissions(file, fs::perms::group_write, fs::perm_options::add);
  PluginCatalog catalog = loadPlugins(dir.path().string());
  CHECK(catalog.plugins.empty());
  CHECK_THAT(refusal(catalog, file), Catch::Contains("writable by group or others"));

  fs::permissions(file, fs::perms::group_write, fs::perm_options::remove);
  fs::permissions(file, fs::perms::others_write, fs::perm_options::add);
  catalog = loadPlugins(dir.path().string());
  CHECK(catalog.plugins.empty());
  CHECK_THAT(refusal(catalog, file), Catch::Contains("writable by group or others"));
}

TEST_CASE("a second plugin with the same id is refused and names the first") {
  PluginDir dir;
  const auto first = dir.add("good", "gatherd-a.so");
  const auto second = dir.add("duplicate", "gatherd-b.so");
  PluginCatalog catalog = loadPlugins(dir.path().string());
  REQUIRE(catalog.plugins.count("fixture") == 1);
  CHECK(catalog.plugins.at("fixture").path == first.string());
  CHECK_THAT(refusal(catalog, second),
             Catch::Contains("duplicate plugin id 'fixture'") && Catch::Contains(first.string()));
}

TEST_CASE("loading for a config opens only the plugins it uses, by their file names") {
  PluginDir dir;
  dir.add("good", "gatherd-fixture.so");
  const auto broken = dir.add("wrong_major");
  const auto unrelated = dir.add("no_descriptor", "gatherd-other.so");
  PluginCatalog catalog = loadPlugins(dir.path().string(), {"fixture"});
  CHECK(catalog.plugins.count("fixture") == 1);
  CHECK(catalog.refused.empty());  // the other files were never opened

  // An id without a file of its name: the whole folder is read, each file once.
  catalog = loadPlugins(dir.path().string(), {"fixture", "elsewhere"});
  CHECK(catalog.plugins.size() == 1);
  CHECK(catalog.refused.size() == 2);
  CHECK_FALSE(refusal(catalog, broken).empty());
  CHECK_FALSE(refusal(catalog, unrelated).empty());

  // A plugin file named otherwise is still found.
  PluginDir renamed;
  renamed.add("good", "gatherd-renamed.so");
  CHECK(loadPlugins(renamed.path().string(), {"fixture"}).plugins.count("fixture") == 1);
  // A refused file of the id's name is reported, and nothing else is opened.
  catalog = loadPlugins(dir.path().string(), {"wrong_major"});
  CHECK(catalog.plugins.empty());
  REQUIRE(catalog.refused.size() == 1);
  CHECK(catalog.refusalFor("wrong_major") != nullptr);
}

TEST_CASE("a missing plugin directory is reported, not fatal") {
  PluginCatalog catalog = loadPlugins("/nonexistent/gatherd/plugins");
  CHECK(catalog.plugins.empty());
  REQUIRE(catalog.refused.size() == 1);
  CHECK_THAT(catalog.refused.front().reason, Catch::Contains("cannot read the plugin directory"));
}

TEST_CASE("copies of the example plugins build out of tree against the installed sdk and load") {
  PluginDir work;
  const fs::path prefix = work.path() / "prefix";
  const std::string cmake = CMAKE_COMMAND_PATH;
  auto run = [](const std::string& command) {
    INFO(command);
    REQUIRE(std::system((command + " > /dev/null 2>&1").c_str()) == 0);
  };
  run(cmake + " --install " GATHERD_BINARY_DIR " --prefix " + prefix.string() + " --component sdk");
  REQUIRE(fs::exists(prefix / "include/gatherd/sdk/plugin.hpp"));
  for (const char* example : {"sources/example", "sinks/example"}) {
    INFO(example);
    // What a plugin author does: copy the folder out of gatherd's tree and build it there.
    const fs::path copy = work.path() / "copies" / example;
    fs::create_directories(copy.parent_path());
    fs::copy(fs::path(GATHERD_SOURCE_DIR) / "plugins" / example, copy, fs::copy_options::recursive);
    const fs::path build = copy / "build";
    run(cmake + " -S " + copy.string() + " -B " + build.string() +
        " -DCMAKE_PREFIX_PATH=" + prefix.string() + " -DCMAKE_CXX_COMPILER=" CXX_COMPILER_PATH);
    run(cmake + " --build " + build.string());
  }
  for (const char* id : {"example-source", "example-sink"}) {
    const fs::path plugin_dir = work.path() / "copies" /
                                (std::string(id) == "example-source" ? "sources" : "sinks") /
                                "example" / "build" / "plugins";
    REQUIRE(fs::exists(plugin_dir / ("gatherd-" + std::string(id) + ".so")));
    PluginCatalog catalog = loadPlugins(plugin_dir.string());
    INFO((catalog.refused.empty() ? std::string() : catalog.refused.front().reason));
    REQUIRE(catalog.plugins.count(id) == 1);
    const auto& descriptor = *catalog.plugins.at(id).descriptor;
    if (descriptor.kind == gatherd::sdk::PluginKind::kSource) {
      CHECK(descriptor.create_source() != nullptr);
    } else {
      CHECK(descriptor.create_sink() != nullptr);
    }
  }
}
