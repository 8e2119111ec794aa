#include "core/config/redaction.hpp"

#include <catch2/catch.hpp>

#include "gatherd/sdk/support/redaction.hpp"

using gatherd::core::maskSecrets;

TEST_CASE("redaction: every occurrence of every secret becomes ***", "[redaction]") {
  CHECK(maskSecrets("cookie=abc123; again abc123 and tok-9", {"abc123", "tok-9"}) ==
        "cookie=***; again *** and ***");
}

TEST_CASE("redaction: text without secrets is unchanged", "[redaction]") {
  CHECK(maskSecrets("nothing to hide", {}) == "nothing to hide");
  CHECK(maskSecrets("nothing to hide", {"secret"}) == "nothing to hide");
  CHECK(maskSecrets("", {"secret"}).empty());
}

TEST_CASE("redaction: short secrets are masked too, empty ones ignored", "[redaction]") {
  CHECK(maskSecrets("a1 b a1", {"", "a1"}) == "*** b ***");
}

TEST_CASE("redaction: overlapping secrets leave no fragment behind", "[redaction]") {
  // Masking "abcd" first and then looking for "cdef" would leave "ef" visible.
  CHECK(maskSecrets("x abcdef y", {"abcd", "cdef"}) == "x *** y");
  CHECK(maskSecrets("x abcdef y", {"abc", "abcdef"}) == "x *** y");
  CHECK(maskSecrets("aaaa", {"aa"}) == "***");
}

TEST_CASE("redaction: a secret at the very start and end is masked", "[redaction]") {
  CHECK(maskSecrets("s3cr3t", {"s3cr3t"}) == "***");
  CHECK(maskSecrets("s3cr3t-s3cr3t", {"s3cr3t"}) == "***-***");
}

TEST_CASE("redaction: URL-encoded copies are masked, upper or lower hex, '+' for a space",
          "[redaction]") {
  const std::set<std::string> secrets = {"k/ey=1 2"};
  CHECK(maskSecrets("a k%2Fey%3D1%202 b", secrets) == "a *** b");
  CHECK(maskSecrets("a k%2fey%3d1+2 b", secrets) == "a *** b");
  CHECK(maskSecrets("a k/ey%3D1 2 b", secrets) == "a *** b");  // partly encoded
  CHECK(maskSecrets("100% sure, k/ey=1 2", secrets) == "100% sure, ***");
  CHECK(maskSecrets("trailing %2", secrets) == "trailing %2");
}

TEST_CASE("redaction: a secret configured URL-encoded is masked decoded too", "[redaction]") {
  gatherd::sdk::SecretMask mask("***", 4);
  mask.add("abc%3Ddef");
  CHECK(mask.apply("x abc=def y abc%3Ddef") == "x *** y ***");
  CHECK_FALSE(mask.add("ab"));  // shorter than the minimum: ignored
  CHECK(mask.apply("ab") == "ab");
}
