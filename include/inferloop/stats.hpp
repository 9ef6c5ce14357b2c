// LoopStats: what InferenceLoop::stats() returns. A snapshot of counters
// and latency percentiles; computing it reads a few thousand relaxed atomics,
// cheap enough to call every second from any thread.
//
// Counter identity (exact once the loop is stopped):
//   snapshots_published == dispatched + conflated + discarded_at_stop
//   dispatched          == predictions + errors
#pragma once

#include <chrono>
#include <cstdint>

namespace inferloop {

struct LatencySummary {
  std::uint64_t count = 0;
  // Percentiles from a log-linear histogram: each value is within 1/32
  // (about 3%) of the exact sample percentile.
  std::chrono::nanoseconds p50{0}, p90{0}, p99{0}, p999{0}, max{0};
};

struct LoopStats {
  std::uint64_t snapshots_published = 0;  // feature snapshots the loop saw a feature_seq for
  std::uint64_t snapshots_rejected = 0;   // publish() calls refused for their shape
  std::uint64_t dispatched = 0;           // snapshots handed to a replica
  std::uint64_t conflated = 0;            // snapshots replaced by a newer one before dispatch
  std::uint64_t discarded_at_stop = 0;    // a pending snapshot stop() did not dispatch
  std::uint64_t predictions = 0;          // predict() calls that succeeded
  std::uint64_t errors = 0;               // predict() calls that threw
  std::uint64_t source_errors = 0;        // feature source calls that threw or returned a bad shape
  std::uint64_t stale_results = 0;        // results not published: a newer one was already there
  std::uint64_t history_dropped = 0;      // results pushed out of the bounded history
  std::uint64_t in_flight = 0;            // snapshots being predicted right now
  std::uint64_t model_swaps = 0;          // new models swapped in (live reload)
  std::uint64_t model_reload_failures = 0;  // reload attempts that failed (old model kept)

  LatencySummary queue_wait;          // published_at -> a replica starts predicting
  LatencySummary predict;             // predictor call alone
  LatencySummary publish_to_visible;  // published_at -> result readable by latest()
};

}  // namespace inferloop
