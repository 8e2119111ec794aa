#include "gatherd/lib/storage/error_normalizer.hpp"

#include <catch2/catch.hpp>

using gatherd::storage::normaliseErrorMessage;

TEST_CASE("error messages that differ in ids, numbers and durations normalise alike") {
  CHECK(normaliseErrorMessage("request req_8f3a2b timed out after 30s (attempt 2)") ==
        "request <id> timed out after <dur> (attempt <n>)");
  CHECK(normaliseErrorMessage("request req_0c1d9e timed out after 45 s (attempt 3)") ==
        "request <id> timed out after <dur> (attempt <n>)");
  CHECK(normaliseErrorMessage("upstream 502:  bad   gateway") == "upstream <n>: bad gateway");
  CHECK(normaliseErrorMessage("id 123e4567-e89b-12d3-a456-426614174000 unknown") ==
        "id <id> unknown");
  CHECK(normaliseErrorMessage("rate limited, retry in 1.5 seconds") ==
        "rate limited, retry in <dur>");
  CHECK(normaliseErrorMessage("") == "");
  CHECK(normaliseErrorMessage("quota exceeded") == "quota exceeded");
}

TEST_CASE("long messages are cut without splitting a UTF-8 character") {
  std::string message;
  for (int i = 0; i < 150; ++i) message += "\xc3\xa9";  // é, two bytes each
  const std::string normalised = normaliseErrorMessage(message);
  CHECK(normalised.size() <= 200);
  CHECK(normalised.size() % 2 == 0);
  CHECK(normalised.substr(0, 2) == "\xc3\xa9");
}
