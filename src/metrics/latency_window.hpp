// LatencyWindow: percentiles of the samples recorded in a recent window, for
// a live view that shows "p99 over the last second" beside per-second rates
// (stats()' percentiles are cumulative since start, so a spike a minute ago
// would hide in them, and a spike now would barely move them).
//
// Each advance() copies the bucket counts of the histograms (relaxed loads,
// as stats() reads them) and summarises the difference to the previous copy:
// exactly the samples recorded in between, at the histograms' own precision
// (each percentile within 1/32 above the true one). The window's largest
// sample is not kept by the histograms, so `max` is the upper bound of the
// highest bucket the window touched (capped by the all-time maximum).
//
// Costs the caller 1920 loads per histogram and 15 kB; nothing in the loop.
// Threads: one caller at a time (the CLI's main thread); the histograms'
// writers keep recording meanwhile.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "inferloop/detail/latency_histogram.hpp"
#include "inferloop/stats.hpp"

namespace inferloop::detail {

class LatencyWindow {
 public:
  // The samples `histograms` (together) recorded since the previous call,
  // or since they were created on the first call. Pass the same histograms
  // every time.
  [[nodiscard]] LatencySummary advance(std::span<const LatencyHistogram* const> histograms);

 private:
  std::vector<std::uint64_t> previous_ = std::vector<std::uint64_t>(LatencyHistogram::kBuckets, 0);
};

}  // namespace inferloop::detail
