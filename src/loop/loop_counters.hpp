// LoopCounters: every counter and latency histogram of one loop. Each one has
// exactly one writer thread at a time, so recording is a relaxed load and
// store on a cache line no other thread writes; snapshot() sums them into a
// LoopStats from any thread.
//
// Writers:
//   DispatchCounters   the poller thread (live) or the backtest simulation
//   ReplicaCounters[r] whoever runs replica r's predictions and deliveries:
//                      its own thread, the poller (one inline replica, or
//                      a job r's thread did not claim: Replica's claims
//                      order the two), or the backtest's delivering thread
//                      (under its mutex)
//   history_dropped    Delivery, under its delivery mutex
//   model_swaps, model_reload_failures   ModelReloader, under its reload lock
//
// Memory ordering: relaxed everywhere. A snapshot taken while the loop runs
// is consistent enough for monitoring (in_flight is derived and clamped at 0);
// it is exact once the writers are joined.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "inferloop/detail/latency_histogram.hpp"
#include "inferloop/stats.hpp"

namespace inferloop::detail {

// A counter with one writer thread at a time.
class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void set(std::uint64_t n) noexcept { value_.store(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

struct alignas(64) DispatchCounters {
  Counter source_snapshots;  // snapshots a feature source produced (pull mode)
  Counter dispatched;
  Counter conflated;
  Counter discarded_at_stop;
  Counter source_errors;
};

struct alignas(64) ReplicaCounters {
  Counter predictions;
  Counter errors;
  Counter stale_results;
  LatencyHistogram queue_wait;
  LatencyHistogram predict;
  LatencyHistogram publish_to_visible;
};

class LoopCounters {
 public:
  explicit LoopCounters(std::size_t replicas) {
    for (std::size_t r = 0; r < replicas; ++r) replicas_.push_back(std::make_unique<ReplicaCounters>());
  }

  DispatchCounters& dispatch() noexcept { return dispatch_; }
  ReplicaCounters& replica(std::size_t r) noexcept { return *replicas_[r]; }
  // For readers that need more than snapshot()'s sums (the metrics, per
  // replica); index = replica id. Valid as long as this object.
  [[nodiscard]] std::vector<const ReplicaCounters*> replicas() const {
    std::vector<const ReplicaCounters*> out;
    for (const auto& replica : replicas_) out.push_back(replica.get());
    return out;
  }
  Counter& history_dropped() noexcept { return history_dropped_; }
  Counter& model_swaps() noexcept { return model_swaps_; }
  Counter& model_reload_failures() noexcept { return model_reload_failures_; }

  // `published` and `rejected` come from whoever counts snapshots (the
  // FeatureSlot, or dispatch().source_snapshots with a feature source).
  [[nodiscard]] LoopStats snapshot(std::uint64_t published, std::uint64_t rejected) const {
    LoopStats s;
    s.snapshots_published = published;
    s.snapshots_rejected = rejected;
    s.dispatched = dispatch_.dispatched.value();
    s.conflated = dispatch_.conflated.value();
    s.discarded_at_stop = dispatch_.discarded_at_stop.value();
    s.source_errors = dispatch_.source_errors.value();
    std::vector<const LatencyHistogram*> queue_wait, predict, publish_to_visible;
    for (const auto& replica : replicas_) {
      s.predictions += replica->predictions.value();
      s.errors += replica->errors.value();
      s.stale_results += replica->stale_results.value();
      queue_wait.push_back(&replica->queue_wait);
      predict.push_back(&replica->predict);
      publish_to_visible.push_back(&replica->publish_to_visible);
    }
    const std::uint64_t finished = s.predictions + s.errors;
    s.in_flight = s.dispatched > finished ? s.dispatched - finished : 0;
    s.history_dropped = history_dropped_.value();
    s.model_swaps = model_swaps_.value();
    s.model_reload_failures = model_reload_failures_.value();
    s.queue_wait = LatencyHistogram::summarize(queue_wait);
    s.predict = LatencyHistogram::summarize(predict);
    s.publish_to_visible = LatencyHistogram::summarize(publish_to_visible);
    return s;
  }

 private:
  DispatchCounters dispatch_;
  std::vector<std::unique_ptr<ReplicaCounters>> replicas_;
  alignas(64) Counter history_dropped_;
  Counter model_swaps_;
  Counter model_reload_failures_;
};

}  // namespace inferloop::detail
