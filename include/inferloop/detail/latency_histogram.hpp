// LatencyHistogram: a fixed-size log-linear histogram of nanosecond
// latencies. One thread records into it (each recording thread of the loop
// has its own: no shared cache line on the hot path, no locked instruction),
// and any thread summarises one or several of them at any time (stats()).
//
// Buckets: values below 2^kSubBits land in exact buckets; above that, each
// power of two is split into 2^kSubBits linear sub-buckets, so a bucket's
// width is at most 1/2^kSubBits (about 3%) of its value. A summary reports a
// bucket's upper bound, so a reported percentile is never below the true one.
//
// Memory ordering: every counter is a relaxed atomic that only its recording
// thread writes (a load and a store, not a read-modify-write). A summary
// taken while threads record is a consistent-enough snapshot for monitoring;
// counts are exact once recording threads have been joined.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>
#include <span>

#include "inferloop/stats.hpp"

namespace inferloop::detail {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr std::uint64_t kSubCount = 1ULL << kSubBits;
  static constexpr std::size_t kBuckets = (64 - kSubBits + 1) * kSubCount;

  // From the histogram's one recording thread.
  // `count` samples of one latency at once (a backtest's latencies repeat).
  void record(std::chrono::nanoseconds latency, std::uint64_t count = 1) noexcept {
    const std::uint64_t value = latency.count() < 0 ? 0 : static_cast<std::uint64_t>(latency.count());
    std::atomic<std::uint64_t>& bucket = buckets_[bucket_of(value)];
    bucket.store(bucket.load(std::memory_order_relaxed) + count, std::memory_order_relaxed);
    if (value > max_.load(std::memory_order_relaxed)) max_.store(value, std::memory_order_relaxed);
  }

  [[nodiscard]] LatencySummary summary() const noexcept {
    const LatencyHistogram* self = this;
    return summarize(std::span<const LatencyHistogram* const>(&self, 1));
  }

  // One summary of the samples of several histograms (one per thread).
  [[nodiscard]] static LatencySummary summarize(
      std::span<const LatencyHistogram* const> histograms) noexcept {
    std::array<std::uint64_t, kBuckets> counts{};
    std::uint64_t largest = 0;
    for (const LatencyHistogram* histogram : histograms) {
      for (std::size_t i = 0; i < kBuckets; ++i) counts[i] += histogram->bucket_count(i);
      largest = std::max(largest, histogram->max_value());
    }
    return summarize_counts(counts, largest);
  }

  // The summary of bucket counts taken from histograms earlier (or the
  // difference of two such takes: the samples of a window); no reported
  // value exceeds `largest`, the largest sample (or a bound on it).
  [[nodiscard]] static LatencySummary summarize_counts(
      std::span<const std::uint64_t, kBuckets> counts, std::uint64_t largest) noexcept {
    std::uint64_t total = 0;
    for (const std::uint64_t count : counts) total += count;
    LatencySummary out;
    out.count = total;
    if (total == 0) return out;
    auto at = [&](double quantile) {
      // The smallest bucket whose cumulative count reaches ceil(q * total).
      auto rank = static_cast<std::uint64_t>(quantile * static_cast<double>(total));
      if (static_cast<double>(rank) < quantile * static_cast<double>(total)) ++rank;
      if (rank == 0) rank = 1;
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < kBuckets; ++i) {
        cumulative += counts[i];
        if (cumulative >= rank) {
          const std::uint64_t upper = upper_bound_of(i);
          return std::chrono::nanoseconds(static_cast<std::int64_t>(upper < largest ? upper : largest));
        }
      }
      return std::chrono::nanoseconds(static_cast<std::int64_t>(largest));
    };
    out.p50 = at(0.50);
    out.p90 = at(0.90);
    out.p99 = at(0.99);
    out.p999 = at(0.999);
    out.max = std::chrono::nanoseconds(static_cast<std::int64_t>(largest));
    return out;
  }

  // Any thread: the samples in `bucket` so far, and the largest sample.
  [[nodiscard]] std::uint64_t bucket_count(std::size_t bucket) const noexcept {
    return buckets_[bucket].load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t max_value() const noexcept {
    return max_.load(std::memory_order_relaxed);
  }

  static constexpr std::size_t bucket_of(std::uint64_t value) noexcept {
    if (value < kSubCount) return static_cast<std::size_t>(value);
    const int top = 63 - std::countl_zero(value);  // >= kSubBits
    const int shift = top - kSubBits;
    const std::uint64_t sub = (value >> shift) - kSubCount;  // 0..kSubCount-1
    return static_cast<std::size_t>((shift + 1) * kSubCount + sub);
  }
  // The smallest and the largest value that land in `bucket`.
  static constexpr std::uint64_t lower_bound_of(std::size_t bucket) noexcept {
    if (bucket < kSubCount) return bucket;
    const std::uint64_t shift = bucket / kSubCount - 1;
    const std::uint64_t sub = bucket % kSubCount;
    return (kSubCount + sub) << shift;
  }
  static constexpr std::uint64_t upper_bound_of(std::size_t bucket) noexcept {
    if (bucket < kSubCount) return bucket;
    const std::uint64_t shift = bucket / kSubCount - 1;
    const std::uint64_t sub = bucket % kSubCount;
    return ((kSubCount + sub + 1) << shift) - 1;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> max_{0};
};

}  // namespace inferloop::detail
