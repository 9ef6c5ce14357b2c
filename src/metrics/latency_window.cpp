// LatencyWindow: see latency_window.hpp.
#include "metrics/latency_window.hpp"

#include <algorithm>
#include <array>

namespace inferloop::detail {

LatencySummary LatencyWindow::advance(std::span<const LatencyHistogram* const> histograms) {
  std::array<std::uint64_t, LatencyHistogram::kBuckets> window{};
  std::uint64_t all_time_max = 0;
  std::uint64_t window_max = 0;
  for (std::size_t bucket = 0; bucket < LatencyHistogram::kBuckets; ++bucket) {
    std::uint64_t now = 0;
    for (const LatencyHistogram* histogram : histograms) now += histogram->bucket_count(bucket);
    // A count only grows (one writer, load + store), so `now` is never
    // below the previous copy; the guard keeps a misuse (other histograms
    // than last time) from wrapping around.
    window[bucket] = now > previous_[bucket] ? now - previous_[bucket] : 0;
    previous_[bucket] = now;
    if (window[bucket] > 0) window_max = LatencyHistogram::upper_bound_of(bucket);
  }
  for (const LatencyHistogram* histogram : histograms) {
    all_time_max = std::max(all_time_max, histogram->max_value());
  }
  return LatencyHistogram::summarize_counts(window, std::min(window_max, all_time_max));
}

}  // namespace inferloop::detail
