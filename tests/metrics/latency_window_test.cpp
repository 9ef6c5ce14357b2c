// LatencyWindow: percentiles of only the samples recorded since the last look.
#include "metrics/latency_window.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace inferloop::detail {
namespace {

using namespace std::chrono_literals;

TEST(LatencyWindow, SummarisesOnlyTheSamplesSinceThePreviousCall) {
  LatencyHistogram histogram;
  const std::vector<const LatencyHistogram*> histograms = {&histogram};
  LatencyWindow window;
  for (int i = 0; i < 100; ++i) histogram.record(10us);
  const LatencySummary first = window.advance(histograms);
  EXPECT_EQ(first.count, 100U);
  EXPECT_EQ(first.p50, histogram.summary().p50);

  for (int i = 0; i < 10; ++i) histogram.record(1ms);
  const LatencySummary second = window.advance(histograms);
  EXPECT_EQ(second.count, 10U);
  // Only the 1 ms samples: the cumulative p50 would still say 10 us.
  EXPECT_GE(second.p50, 1ms);
  EXPECT_LE(second.p50, 1'000'000ns + 1'000'000ns / 32);
  EXPECT_EQ(second.p99, second.p50);
  EXPECT_LT(histogram.summary().p50, 11us);

  const LatencySummary empty = window.advance(histograms);
  EXPECT_EQ(empty.count, 0U);
  EXPECT_EQ(empty.p99, 0ns);
}

TEST(LatencyWindow, MaxIsTheTopOfTheHighestBucketTheWindowTouched) {
  LatencyHistogram histogram;
  const std::vector<const LatencyHistogram*> histograms = {&histogram};
  LatencyWindow window;
  histogram.record(5ms);  // an old spike
  (void)window.advance(histograms);
  histogram.record(20us);
  const LatencySummary recent = window.advance(histograms);
  EXPECT_EQ(recent.count, 1U);
  // Not the all-time 5 ms: the window saw only 20 us (its bucket's top).
  EXPECT_GE(recent.max, 20us);
  EXPECT_LE(recent.max, 20'000ns + 20'000ns / 32);
}

TEST(LatencyWindow, SeveralHistogramsAreOneWindow) {
  LatencyHistogram first, second;
  const std::vector<const LatencyHistogram*> histograms = {&first, &second};
  LatencyWindow window;
  first.record(1us);
  second.record(2us);
  second.record(3us);
  EXPECT_EQ(window.advance(histograms).count, 3U);
  second.record(4us);
  EXPECT_EQ(window.advance(histograms).count, 1U);
}

}  // namespace
}  // namespace inferloop::detail
