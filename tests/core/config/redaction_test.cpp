#include "core/config/redaction.hpp"

#include <catch2/catch.hpp>

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
