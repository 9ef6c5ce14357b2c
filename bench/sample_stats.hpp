// Helpers the latency benchmarks share (handover_latency, metrics_overhead):
// percentiles of timed samples and the pause a polling loop makes between
// reads. Header-only; benchmarks only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace inferloop::bench {

// The q-quantile (0 < q <= 1) of `values` by the nearest-rank rule; 0 when empty.
inline double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::max<std::size_t>(rank, 1) - 1];
}

// One spin-wait step: tells the core this thread is polling (x86 PAUSE).
inline void relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

}  // namespace inferloop::bench
