// Fixed Prometheus buckets from the log-linear histograms: every sample
// counted once, each bound's count within the documented 1/32, the sum
// within 1/64 (src/metrics/latency_buckets.hpp).
#include "metrics/latency_buckets.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

namespace inferloop::detail {
namespace {

using std::chrono::nanoseconds;

FixedBuckets rebucket_one(const LatencyHistogram& histogram) {
  const LatencyHistogram* one = &histogram;
  return rebucket(std::span<const LatencyHistogram* const>(&one, 1));
}

std::size_t index_of(std::uint64_t bound) {
  for (std::size_t k = 0; k < kLatencyBucketBounds.size(); ++k) {
    if (kLatencyBucketBounds[k] == bound) return k;
  }
  ADD_FAILURE() << "no bound " << bound;
  return 0;
}

TEST(LatencyBuckets, BoundsAscendFrom250nsTo10s) {
  EXPECT_EQ(kLatencyBucketBounds.front(), 250U);
  EXPECT_EQ(kLatencyBucketBounds.back(), 10'000'000'000U);
  for (std::size_t k = 1; k < kLatencyBucketBounds.size(); ++k) {
    EXPECT_LT(kLatencyBucketBounds[k - 1], kLatencyBucketBounds[k]);
  }
}

TEST(LatencyBuckets, EverySampleIsCountedOnceAndTheCountsAreCumulative) {
  LatencyHistogram histogram;
  const std::vector<std::int64_t> samples = {0, 31, 240, 900, 12'000, 700'000, 3'000'000'000, 20'000'000'000};
  for (const std::int64_t sample : samples) histogram.record(nanoseconds(sample));
  const FixedBuckets buckets = rebucket_one(histogram);
  EXPECT_EQ(buckets.count, samples.size());
  // 0, 31 and 240 ns are at or below 250 ns, in log-linear buckets that end
  // there too ([240, 243] for 240: width 4 between 128 and 255 ns).
  EXPECT_EQ(buckets.cumulative[index_of(250)], 3U);
  EXPECT_EQ(buckets.cumulative[index_of(1'000)], 4U);
  EXPECT_EQ(buckets.cumulative[index_of(25'000)], 5U);
  EXPECT_EQ(buckets.cumulative[index_of(1'000'000)], 6U);
  EXPECT_EQ(buckets.cumulative[index_of(5'000'000'000)], 7U);
  // 20 s is beyond the last bound: only the +Inf bucket (the count) has it.
  EXPECT_EQ(buckets.cumulative.back(), 7U);
}

TEST(LatencyBuckets, ASampleInALogLinearBucketAcrossABoundGoesToTheNextBucketUp) {
  // 249 ns lands in [248, 251] (width 4), which straddles the 250 ns bound.
  const std::size_t straddling = LatencyHistogram::bucket_of(249);
  ASSERT_LE(LatencyHistogram::lower_bound_of(straddling), 250U);
  ASSERT_GT(LatencyHistogram::upper_bound_of(straddling), 250U);
  LatencyHistogram histogram;
  histogram.record(nanoseconds(249));
  const FixedBuckets buckets = rebucket_one(histogram);
  EXPECT_EQ(buckets.cumulative[index_of(250)], 0U);
  EXPECT_EQ(buckets.cumulative[index_of(500)], 1U);
}

// The documented precision, at every bound B: a sample at or below B * 31/32
// is counted at le=B; a sample above B never is.
TEST(LatencyBuckets, EachBoundCountsEverySampleWithinOneThirtySecondBelowIt) {
  for (std::size_t k = 0; k < kLatencyBucketBounds.size(); ++k) {
    const std::uint64_t bound = kLatencyBucketBounds[k];
    SCOPED_TRACE(bound);
    LatencyHistogram histogram;
    histogram.record(nanoseconds(bound * 31 / 32));
    histogram.record(nanoseconds(bound + 1));
    const FixedBuckets buckets = rebucket_one(histogram);
    EXPECT_EQ(buckets.cumulative[k], 1U);
    if (k > 0) {
      EXPECT_EQ(buckets.cumulative[k - 1], 0U);
    }
  }
}

TEST(LatencyBuckets, SumIsExactBelow32nsAndWithinOneSixtyFourthAbove) {
  LatencyHistogram small;
  for (std::int64_t ns = 0; ns < 32; ++ns) small.record(nanoseconds(ns));
  EXPECT_DOUBLE_EQ(rebucket_one(small).sum_seconds, 496e-9);  // 0 + 1 + ... + 31

  std::mt19937_64 random(7);
  std::uniform_int_distribution<std::int64_t> latency(32, 50'000'000);
  LatencyHistogram histogram;
  double exact = 0;
  for (int i = 0; i < 10'000; ++i) {
    const std::int64_t sample = latency(random);
    histogram.record(nanoseconds(sample));
    exact += static_cast<double>(sample) / 1e9;
  }
  EXPECT_NEAR(rebucket_one(histogram).sum_seconds, exact, exact / 64);
}

TEST(LatencyBuckets, SeveralHistogramsAddUp) {
  LatencyHistogram first, second;
  first.record(nanoseconds(300));
  second.record(nanoseconds(300));
  second.record(nanoseconds(3'000));
  const std::vector<const LatencyHistogram*> both = {&first, &second};
  const FixedBuckets buckets = rebucket(both);
  EXPECT_EQ(buckets.count, 3U);
  EXPECT_EQ(buckets.cumulative[index_of(500)], 2U);
  EXPECT_EQ(buckets.cumulative[index_of(5'000)], 3U);
}

}  // namespace
}  // namespace inferloop::detail
