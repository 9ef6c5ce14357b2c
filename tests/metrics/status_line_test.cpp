// The live view of `inferloop run` (tools/inferloop/status_line.hpp): every
// line fits an 80-column terminal whatever the numbers, and says what its
// percentiles are over.
#include "status_line.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

namespace inferloop::cli {
namespace {

using namespace std::chrono_literals;

constexpr auto kLongest = std::chrono::nanoseconds::max();

StatusSample typical() {
  StatusSample sample;
  sample.elapsed = 3s;
  sample.published_per_s = 1000;
  sample.predicted_per_s = 997;
  sample.window.count = 997;
  sample.window.p50 = 121'300ns;
  sample.window.p99 = 193us;
  sample.age = 982us;
  sample.conflated = 3;
  sample.model_version = 1;
  sample.latest = 0.2317F;
  return sample;
}

TEST(StatusLine, TypicalLineReadsUnderItsHeader) {
  const std::string header = status_header();
  EXPECT_NE(header.find("over the last second"), std::string::npos);
  EXPECT_NE(header.find("p50 1s"), std::string::npos);
  EXPECT_NE(header.find("age"), std::string::npos);
  EXPECT_EQ(status_text(typical()),
            "  3.0s   1000    997   121us   193us   982us         3      0     v1     0.2317");
}

TEST(StatusLine, EveryLineHasTheSameWidthWhateverTheNumbers) {
  std::istringstream header(status_header());
  for (std::string line; std::getline(header, line);) EXPECT_LE(line.size(), kStatusColumns) << line;

  StatusSample huge;
  huge.elapsed = kLongest;
  huge.published_per_s = 1e30;
  huge.predicted_per_s = std::numeric_limits<double>::infinity();
  huge.window.count = std::numeric_limits<std::uint64_t>::max();
  huge.window.p50 = kLongest;
  huge.window.p99 = kLongest;
  huge.age = kLongest;
  huge.conflated = std::numeric_limits<std::uint64_t>::max();
  huge.errors = std::numeric_limits<std::uint64_t>::max();
  huge.model_version = std::numeric_limits<std::uint64_t>::max();
  huge.latest = -std::numeric_limits<float>::min();

  StatusSample odd = typical();
  odd.elapsed = 999'999ms;  // 999.999 s: one decimal rounds it up to 1000.0s
  odd.published_per_s = std::nan("");
  odd.age = -5ms;  // a wall clock that stepped back
  odd.latest = std::numeric_limits<float>::quiet_NaN();

  StatusSample empty;  // before the first result: no window, no age, no value
  for (const StatusSample& sample : {typical(), huge, odd, empty}) {
    const std::string line = status_text(sample);
    EXPECT_EQ(line.size(), kStatusColumns) << "'" << line << "'";
  }
  EXPECT_EQ(status_text(empty),
            "  0.0s      0      0       -       -       -         0      0     v0          -");
}

TEST(StatusLine, CountsAndDurationsKeepThreeSignificantDigits) {
  EXPECT_EQ(compact_count(0), "0");
  EXPECT_EQ(compact_count(9999), "9999");
  EXPECT_EQ(compact_count(12'345), "12.3k");
  EXPECT_EQ(compact_count(999'499), "999k");
  EXPECT_EQ(compact_count(999'500), "1.00M");
  EXPECT_EQ(compact_count(18'446'744'073'709'551'615.0), "18.4E");
  EXPECT_EQ(compact_duration(850ns), "850ns");
  EXPECT_EQ(compact_duration(999'499ns), "999us");
  EXPECT_EQ(compact_duration(999'500ns), "1.00ms");
  EXPECT_EQ(compact_duration(21'340ns), "21.3us");
  EXPECT_EQ(compact_duration(125ms), "125ms");
  EXPECT_EQ(compact_duration(3h), "3.00h");
  EXPECT_EQ(compact_duration(kLongest), "2562kh");  // 292 years
  for (auto duration : {0ns, 999ns, 9'995ns, 99'950ns, 999'500ns, 999'500'000ns, 999'500'000'000ns,
                        kLongest}) {
    EXPECT_LE(compact_duration(duration).size(), 6U) << duration.count();
  }
}

}  // namespace
}  // namespace inferloop::cli
