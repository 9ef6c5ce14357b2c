#include "util/text.hpp"

#include <gtest/gtest.h>

#include <string>

#include "inferloop/error.hpp"

namespace inferloop::detail {
namespace {

TEST(Quote, ShortTextIsQuotedWhole) { EXPECT_EQ(quote("abc"), "'abc'"); }

TEST(Quote, ControlCharactersAndQuotesAreEscaped) {
  EXPECT_EQ(quote(std::string("a\nb\tc'd\\e\x01", 10)), "'a\\nb\\tc\\'d\\\\e\\x01'");
}

TEST(Quote, LongTextShowsABoundedPrefixAndTheLength) {
  const std::string cell(10'000'000, '7');
  const std::string quoted = quote(cell);
  EXPECT_EQ(quoted, "'" + std::string(kQuotedMaxChars, '7') + "...' (10000000 bytes)");
  EXPECT_EQ(quote("abcdef", 3), "'abc...' (6 bytes)");
}

TEST(ScrubSecrets, RemovesUserinfoFromEveryUriInTheText) {
  EXPECT_EQ(scrub_secrets("model_uri 'https://alice:s3cret@host:5000/a/b' failed; "
                          "tracking http://bob@example.com and s3://k:v@bucket/key"),
            "model_uri 'https://***@host:5000/a/b' failed; "
            "tracking http://***@example.com and s3://***@bucket/key");
}

TEST(ScrubSecrets, RemovesSecretQueryValuesButKeepsTheRest) {
  EXPECT_EQ(scrub_secrets("GET https://h/p?run_id=7&token=abc&X-Amz-Signature=ff#frag done"),
            "GET https://h/p?run_id=7&token=***&X-Amz-Signature=***#frag done");
}

TEST(ScrubSecrets, LeavesTextWithoutUrisAlone) {
  const std::string text = "a:b@c is not a URI, nor is ://x@y, and models:/name@alias stays";
  EXPECT_EQ(scrub_secrets(text), text);
}

TEST(ScrubSecrets, ErrorMessagesAreScrubbedOnConstruction) {
  const Error error("cannot reach https://user:hunter2@mlflow.internal/api");
  EXPECT_STREQ(error.what(), "cannot reach https://***@mlflow.internal/api");
}

TEST(DurationText, UsesTheLargestExactUnit) {
  EXPECT_EQ(duration_text(std::chrono::nanoseconds(0)), "0s");
  EXPECT_EQ(duration_text(std::chrono::seconds(10)), "10s");
  EXPECT_EQ(duration_text(std::chrono::microseconds(1500)), "1500us");
  EXPECT_EQ(duration_text(std::chrono::nanoseconds(1501)), "1501ns");
}

TEST(VersionText, JoinsWithDots) {
  const int version[] = {1, 7, 4};
  EXPECT_EQ(version_text(version), "1.7.4");
  EXPECT_EQ(version_text({}), "");
}

}  // namespace
}  // namespace inferloop::detail
