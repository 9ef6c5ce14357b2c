// Fixed Prometheus buckets from log-linear histograms: see latency_buckets.hpp.
#include "metrics/latency_buckets.hpp"

namespace inferloop::detail {

FixedBuckets rebucket(std::span<const LatencyHistogram* const> histograms) noexcept {
  FixedBuckets out;
  std::array<std::uint64_t, kLatencyBucketBounds.size() + 1> per_bucket{};  // last: +Inf only
  double sum_nanoseconds = 0.0;
  // Log-linear buckets ascend, so the fixed bucket each one lands in only moves up.
  std::size_t fixed = 0;
  for (std::size_t bucket = 0; bucket < LatencyHistogram::kBuckets; ++bucket) {
    const std::uint64_t upper = LatencyHistogram::upper_bound_of(bucket);
    while (fixed < kLatencyBucketBounds.size() && upper > kLatencyBucketBounds[fixed]) ++fixed;
    std::uint64_t samples = 0;
    for (const LatencyHistogram* histogram : histograms) samples += histogram->bucket_count(bucket);
    if (samples == 0) continue;
    per_bucket[fixed] += samples;
    out.count += samples;
    const std::uint64_t lower = LatencyHistogram::lower_bound_of(bucket);
    const double middle = static_cast<double>(lower) + static_cast<double>(upper - lower) / 2.0;
    sum_nanoseconds += static_cast<double>(samples) * middle;
  }
  std::uint64_t cumulative = 0;
  for (std::size_t k = 0; k < kLatencyBucketBounds.size(); ++k) {
    cumulative += per_bucket[k];
    out.cumulative[k] = cumulative;
  }
  out.sum_seconds = sum_nanoseconds / 1e9;
  return out;
}

}  // namespace inferloop::detail
