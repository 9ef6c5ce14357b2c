// Fixed Prometheus buckets from the loop's log-linear latency histograms,
// computed when a scrape asks, never while the loop records.
//
// The loop records every latency into a LatencyHistogram (one per recording
// thread, 1920 log-linear buckets, each at most 1/32 of its value wide). A
// Prometheus histogram needs fixed, cumulative `le` buckets, a _count and a
// _sum. rebucket() folds the log-linear buckets into kLatencyBucketBounds:
//
//   - _count is exact: the number of samples recorded.
//   - a log-linear bucket goes whole into the first fixed bucket whose bound
//     is at or above its largest value. Where a fixed bound falls inside a
//     log-linear bucket [lower, upper] (it does for every bound here: a
//     bound is exact only when it equals some `upper`, and those are odd
//     numbers of nanoseconds), the samples in [lower, bound] are counted in
//     the next bucket up. lower > bound * 31/32, so the count at le=B is
//     exactly the number of samples <= B', for a B' within 1/32 (3.1%) below
//     B. Counts are never above the true ones, so a quantile estimated from
//     them is never below the true one, as with stats()' percentiles.
//   - _sum counts each sample at the middle of its log-linear bucket: within
//     1/64 (1.6%) of the true sum (exact below 32 ns). The histograms keep no
//     sum, and adding one would add a store to the publish-to-visible path.
//
// Pure functions of the histograms' counters (relaxed loads); any thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "inferloop/detail/latency_histogram.hpp"

namespace inferloop::detail {

// Upper bounds of the fixed buckets, in nanoseconds (+Inf follows them):
// 1-2.5-5 steps from 250 ns (a spinning hand-over) to 10 s (a remote
// predictor timing out). docs/metrics.md lists them in seconds.
inline constexpr std::array<std::uint64_t, 24> kLatencyBucketBounds = {
    250,         500,         1'000,         2'500,         5'000,         10'000,
    25'000,      50'000,      100'000,       250'000,       500'000,       1'000'000,
    2'500'000,   5'000'000,   10'000'000,    25'000'000,    50'000'000,    100'000'000,
    250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

struct FixedBuckets {
  // cumulative[k]: samples counted at or below kLatencyBucketBounds[k].
  std::array<std::uint64_t, kLatencyBucketBounds.size()> cumulative{};
  std::uint64_t count = 0;     // every sample (the +Inf bucket)
  double sum_seconds = 0.0;    // estimated, see the file comment
};

// The fixed buckets of the samples of `histograms` together.
[[nodiscard]] FixedBuckets rebucket(std::span<const LatencyHistogram* const> histograms) noexcept;

}  // namespace inferloop::detail
