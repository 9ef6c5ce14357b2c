#include "inferloop/detail/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace inferloop::detail {
namespace {

using std::chrono::nanoseconds;

TEST(LatencyHistogram, EmptySummaryIsZero) {
  LatencyHistogram h;
  const auto s = h.summary();
  EXPECT_EQ(s.count, 0U);
  EXPECT_EQ(s.p50.count(), 0);
  EXPECT_EQ(s.max.count(), 0);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int v = 1; v <= 10; ++v) h.record(nanoseconds(v));
  const auto s = h.summary();
  EXPECT_EQ(s.count, 10U);
  EXPECT_EQ(s.p50.count(), 5);
  EXPECT_EQ(s.p90.count(), 9);
  EXPECT_EQ(s.p99.count(), 10);
  EXPECT_EQ(s.max.count(), 10);
}

TEST(LatencyHistogram, BucketsCoverEveryValueWithBoundedWidth) {
  for (std::uint64_t v : {32ULL, 33ULL, 63ULL, 64ULL, 1000ULL, 123456789ULL, (1ULL << 40) + 12345}) {
    const auto bucket = LatencyHistogram::bucket_of(v);
    const auto upper = LatencyHistogram::upper_bound_of(bucket);
    EXPECT_GE(upper, v) << v;
    EXPECT_LE(static_cast<double>(upper - v), static_cast<double>(v) / LatencyHistogram::kSubCount) << v;
    if (bucket > 0) EXPECT_LT(LatencyHistogram::upper_bound_of(bucket - 1), v) << v;
  }
  EXPECT_LT(LatencyHistogram::bucket_of(~0ULL), LatencyHistogram::kBuckets);
}

TEST(LatencyHistogram, PercentilesAreWithinOneBucketOfTheExactOnes) {
  LatencyHistogram h;
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(9.0, 1.0);  // around 8 us
  std::vector<std::int64_t> samples;
  for (int i = 0; i < 100000; ++i) {
    samples.push_back(static_cast<std::int64_t>(dist(rng)));
    h.record(nanoseconds(samples.back()));
  }
  std::sort(samples.begin(), samples.end());
  const auto s = h.summary();
  auto exact = [&](double q) {
    return static_cast<double>(samples[static_cast<std::size_t>(q * samples.size()) - 1]);
  };
  for (auto [reported, q] : {std::pair{s.p50, 0.5}, {s.p90, 0.9}, {s.p99, 0.99}, {s.p999, 0.999}}) {
    EXPECT_GE(static_cast<double>(reported.count()), exact(q)) << q;
    EXPECT_LE(static_cast<double>(reported.count()), exact(q) * (1.0 + 1.0 / 32) + 1) << q;
  }
  EXPECT_EQ(s.max.count(), samples.back());
}

}  // namespace
}  // namespace inferloop::detail
