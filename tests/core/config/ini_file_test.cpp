#include "core/config/ini_file.hpp"

#include <catch2/catch.hpp>

#include "config_test_support.hpp"

using gatherd::core::parseIniFile;
using gatherd::core::parseIniText;
using gatherd::core::testing::requireConfigError;
using gatherd::core::testing::TempDir;

TEST_CASE("ini: sections and entries keep their line numbers", "[ini]") {
  const auto document = parseIniText(
      "; a comment\n"
      "# another comment\n"
      "\n"
      "[gatherd]\n"
      "Interval = 10s\n"
      "max_parallel=4\n"
      "\n"
      "[source.xy]\n"
      "  plugin   =   xychatai  \n"
      "cookie = \"a b; c\"\n"
      "name = 'single'\n"
      "url = https://example.test/?a=b#frag ; kept\n"
      "empty =\n",
      "test.ini");
  REQUIRE(document.path == "test.ini");
  REQUIRE(document.sections.size() == 2);

  const auto& gatherd = document.sections[0];
  CHECK(gatherd.name == "gatherd");
  CHECK(gatherd.line == 4);
  REQUIRE(gatherd.entries.size() == 2);
  CHECK(gatherd.entries[0].key == "interval");
  CHECK(gatherd.entries[0].value == "10s");
  CHECK(gatherd.entries[0].line == 5);
  CHECK(gatherd.entries[1].key == "max_parallel");
  CHECK(gatherd.entries[1].value == "4");
  CHECK(gatherd.entries[1].line == 6);

  const auto* source = document.find("source.xy");
  REQUIRE(source != nullptr);
  CHECK(source->line == 8);
  REQUIRE(source->find("plugin") != nullptr);
  CHECK(source->find("plugin")->value == "xychatai");
  CHECK(source->find("plugin")->line == 9);
  CHECK(source->find("cookie")->value == "a b; c");
  CHECK(source->find("name")->value == "single");
  CHECK(source->find("url")->value == "https://example.test/?a=b#frag ; kept");
  CHECK(source->find("url")->line == 12);
  CHECK(source->find("empty")->value.empty());
  CHECK(document.find("http") == nullptr);
}

TEST_CASE("ini: CRLF line ends, a UTF-8 BOM and a missing final newline are fine", "[ini]") {
  const auto document =
      parseIniText("\xEF\xBB\xBF[http]\r\nbind = 127.0.0.1:0\r\ntoken=x", "t.ini");
  REQUIRE(document.sections.size() == 1);
  CHECK(document.sections[0].name == "http");
  REQUIRE(document.sections[0].entries.size() == 2);
  CHECK(document.sections[0].entries[0].value == "127.0.0.1:0");
  CHECK(document.sections[0].entries[1].value == "x");
  CHECK(document.sections[0].entries[1].line == 3);
}

TEST_CASE("ini: only one pair of matching quotes is removed", "[ini]") {
  const auto document = parseIniText("[s]\na = \"x'\nb = \"\"q\"\"\nc = \"\n", "t.ini");
  const auto& section = document.sections.at(0);
  CHECK(section.find("a")->value == "\"x'");
  CHECK(section.find("b")->value == "\"q\"");
  CHECK(section.find("c")->value == "\"");
}

TEST_CASE("ini: syntax errors name file and line", "[ini]") {
  SECTION("a line without '='") {
    const auto error =
        requireConfigError([] { parseIniText("[s]\na = 1\nnonsense\n", "bad.ini"); });
    CHECK(error.location().file == "bad.ini");
    CHECK(error.location().line == 3);
    CHECK(error.location().section == "s");
    CHECK_THAT(error.what(), Catch::StartsWith("bad.ini:3: [s]: expected 'key = value'"));
  }
  SECTION("an unterminated section header") {
    const auto error = requireConfigError([] { parseIniText("\n[gatherd\n", "bad.ini"); });
    CHECK(error.location().line == 2);
    CHECK_THAT(error.what(), Catch::StartsWith("bad.ini:2: section header must end with ']'"));
  }
  SECTION("an empty section name") {
    const auto error = requireConfigError([] { parseIniText("[ ]\n", "bad.ini"); });
    CHECK(std::string(error.what()) == "bad.ini:1: empty section name");
  }
  SECTION("a key before any section") {
    const auto error = requireConfigError([] { parseIniText("# c\nkey = v\n", "bad.ini"); });
    CHECK(std::string(error.what()) == "bad.ini:2: key: key outside of any [section]");
  }
  SECTION("a missing key") {
    const auto error = requireConfigError([] { parseIniText("[s]\n = v\n", "bad.ini"); });
    CHECK(error.location().line == 2);
  }
  SECTION("a key with spaces inside") {
    const auto error = requireConfigError([] { parseIniText("[s]\nmy key = v\n", "bad.ini"); });
    CHECK(error.location().line == 2);
    CHECK(error.location().key == "my key");
    CHECK_THAT(error.what(), Catch::Contains("invalid key"));
  }
}

TEST_CASE("ini: duplicate keys and sections are errors with both lines", "[ini]") {
  SECTION("keys compare case-insensitively") {
    const auto error =
        requireConfigError([] { parseIniText("[s]\nToken = a\n\ntoken = b\n", "dup.ini"); });
    CHECK(std::string(error.what()) == "dup.ini:4: [s] token: duplicate key (first set at line 2)");
  }
  SECTION("the same key in two sections is fine") {
    const auto document = parseIniText("[a]\nk = 1\n[b]\nk = 2\n", "ok.ini");
    CHECK(document.sections.size() == 2);
  }
  SECTION("sections") {
    const auto error =
        requireConfigError([] { parseIniText("[http]\n[gatherd]\n[http]\n", "dup.ini"); });
    CHECK(std::string(error.what()) ==
          "dup.ini:3: [http]: duplicate section (first defined at line 1)");
  }
}

TEST_CASE("ini: files are read from disk, unreadable ones are errors naming the file", "[ini]") {
  TempDir dir;
  const auto path = dir.write("a.ini", "[gatherd]\ninterval = 5s\n");
  const auto document = parseIniFile(path);
  CHECK(document.path == path);
  REQUIRE(document.sections.size() == 1);
  CHECK(document.sections[0].entries.at(0).line == 2);

  const auto missing = dir.file("missing.ini");
  const auto error = requireConfigError([&] { parseIniFile(missing); });
  CHECK(error.location().file == missing);
  CHECK_THAT(error.what(),
             Catch::StartsWith(missing + ": cannot read:") && Catch::Contains("No such file"));

  const auto folder_error = requireConfigError([&] { parseIniFile(dir.path().string()); });
  CHECK_THAT(folder_error.what(), Catch::Contains("is a directory"));
}
