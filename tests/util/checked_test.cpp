#include "util/checked.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "inferloop/error.hpp"

namespace inferloop::detail {
namespace {

using std::chrono::nanoseconds;

std::string message_of(auto&& call) {
  try {
    call();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(ParseInteger, AcceptsSignedDecimalText) {
  EXPECT_EQ(parse_integer<int>("42", "n"), 42);
  EXPECT_EQ(parse_integer<int>("+7", "n"), 7);
  EXPECT_EQ(parse_integer<int>("-3", "n", -5, 5), -3);
}

TEST(ParseInteger, RefusesJunkAndOutOfRangeNamingWhatAndTheRange) {
  EXPECT_EQ(message_of([] { (void)parse_integer<int>("12x", "--threads", 1, 256); }),
            "--threads: expected an integer in [1, 256], found '12x'");
  EXPECT_EQ(message_of([] { (void)parse_integer<int>("0", "--threads", 1, 256); }),
            "--threads: expected an integer in [1, 256], found '0'");
  EXPECT_EQ(message_of([] { (void)parse_integer<std::uint8_t>("300", "x"); }),
            "x: expected an integer in [0, 255], found '300'");
  EXPECT_NE(message_of([] { (void)parse_integer<int>(std::string(50'000, '9'), "x"); })
                .find("(50000 bytes)"),
            std::string::npos);
  EXPECT_NE(message_of([] { (void)parse_integer<int>(" 1", "x"); }), "(no error)");
  EXPECT_NE(message_of([] { (void)parse_integer<int>("", "x"); }), "(no error)");
  EXPECT_NE(message_of([] { (void)parse_integer<int>("-", "x"); }), "(no error)");
}

TEST(ParseBoolean, AcceptsTrueFalseOneZeroInAnyCase) {
  EXPECT_TRUE(parse_boolean("true", "X"));
  EXPECT_TRUE(parse_boolean(" TRUE ", "X"));
  EXPECT_TRUE(parse_boolean("1", "X"));
  EXPECT_FALSE(parse_boolean("False", "X"));
  EXPECT_FALSE(parse_boolean("0", "X"));
}

TEST(ParseBoolean, RefusesAnythingElseNamingTheVariable) {
  for (const char* text : {"", "yes", "no", "2", "tru", "on"}) {
    EXPECT_EQ(message_of([&] { (void)parse_boolean(text, "MLFLOW_S3_IGNORE_TLS"); }),
              "MLFLOW_S3_IGNORE_TLS: expected true or false (or 1 or 0), found '" + std::string(text) + "'");
  }
}

TEST(ParseReal, RefusesNonFiniteAndOutOfRange) {
  EXPECT_DOUBLE_EQ(parse_real("2.5e-3", "x", 0, 1), 2.5e-3);
  EXPECT_EQ(message_of([] { (void)parse_real("inf", "--rate", 1e-3, 1e9); }),
            "--rate: expected a number in [0.001, 1e+09], found 'inf'");
  EXPECT_NE(message_of([] { (void)parse_real("nan", "x", 0, 1); }), "(no error)");
  EXPECT_NE(message_of([] { (void)parse_real("1e-12", "--rate", 1e-3, 1e9); }), "(no error)");
}

TEST(NumberText, IsTheShortestTextThatReadsBack) {
  EXPECT_EQ(number_text(1e300), "1e+300");
  EXPECT_EQ(number_text(0.25), "0.25");
  EXPECT_EQ(number_text(600), "600");
  EXPECT_EQ(number_text(std::nan("")), "nan");
  EXPECT_EQ(number_text(-std::numeric_limits<double>::infinity()), "-inf");
}

TEST(Narrow, RefusesValuesThatDoNotFit) {
  EXPECT_EQ(narrow<int>(std::size_t{5}, "x"), 5);
  EXPECT_EQ(message_of([] { (void)narrow<std::uint32_t>(std::int64_t{-1}, "rows"); }),
            "rows: expected a value in [0, 4294967295], found '-1'");
}

TEST(SecondsToDuration, RoundsToNanosecondsInsideTheRange) {
  EXPECT_EQ(seconds_to_duration(0.0001, "t", std::chrono::milliseconds(0), std::chrono::hours(1)),
            std::chrono::microseconds(100));
  EXPECT_EQ(seconds_to_duration(120, "t", nanoseconds(1), std::chrono::hours(1)),
            std::chrono::seconds(120));
}

TEST(SecondsToDuration, RefusesWhatWouldOverflowOrVanish) {
  const auto min = std::chrono::milliseconds(1);
  const auto max = std::chrono::hours(24);
  for (double seconds : {1e300, -1.0, 0.0001, std::numeric_limits<double>::infinity(),
                         std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_NE(message_of([&] { (void)seconds_to_duration(seconds, "MLFLOW_HTTP_REQUEST_TIMEOUT", min, max); }),
              "(no error)")
        << seconds;
  }
  EXPECT_EQ(message_of([&] { (void)seconds_to_duration(1e300, "T", min, max); }),
            "T: expected a number of seconds from 1ms to 86400s, found '1e+300'");
}

TEST(CheckedAdd, DetectsOverflowInBothDirections) {
  const nanoseconds max(std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(checked_add(nanoseconds(1), nanoseconds(2)), nanoseconds(3));
  EXPECT_FALSE(checked_add(max, nanoseconds(1)));
  EXPECT_FALSE(checked_add(-max, nanoseconds(-2)));
}

}  // namespace
}  // namespace inferloop::detail
