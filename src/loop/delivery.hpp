// Delivery: what happens to a finished prediction. It becomes visible in the
// ResultSlot if it is newer than the visible one (else it is stale and
// dropped), then, when the loop has them, it goes into the history ring and
// to on_result; then wait_for() callers wake.
//
// Two paths, chosen once at construction:
//   - no on_result and no history: lock-free. The ResultSlot's compare-and-
//     swap orders concurrent deliveries; nothing else is shared but the
//     delivered_seq_ maximum. This is the publish-to-visible hot path.
//   - otherwise serialised by delivery_mutex_, so that the history and the
//     callback see results in the order they became visible (increasing
//     feature_seq), as documented for on_result. The result is visible
//     before the callback runs; a slow callback delays other deliveries,
//     never latest() readers.
//
// Threads: deliver() from the delivering threads (replicas, or the backtest's
// engine thread), each with its writer index; count_unobserved() from the
// backtest's replaying thread alone; latest(), latest_feature_seq(),
// history(), wait_for() from any thread.
//
// Memory ordering: delivered_seq_ (the newest feature_seq whose delivery is
// complete) only grows: a CAS maximum, release, read with acquire by
// wait_for(). Waking waiters: the delivery's release/CAS on delivered_seq_,
// then a seq_cst fence, then a load of waiters_; a waiter increments
// waiters_ (seq_cst), fences, then re-reads delivered_seq_ under the mutex.
// One of the two always sees the other, so no waiter sleeps through its result.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "inferloop/detail/result_slot.hpp"
#include "inferloop/inference_loop.hpp"
#include "loop/error_sink.hpp"
#include "loop/loop_counters.hpp"

namespace inferloop::detail {

// The newest visible result's stamps, for observers (loop_observation.hpp).
struct NewestResult {
  std::uint64_t feature_seq = 0;
  Timestamp completed_at{0};
  std::uint64_t model_version = 0;
};

class Delivery {
 public:
  // `loop` identifies the owning loop for callback_scope.hpp.
  Delivery(const void* loop, std::size_t capacity, std::size_t writers,
           std::size_t history_capacity, ResultCallback on_result, ErrorSink& errors,
           Counter& history_dropped);
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  // From writer `writer`'s thread; `counters` are that writer's (its
  // stale_results and publish_to_visible). True if the result became visible.
  bool deliver(std::size_t writer, ReplicaCounters& counters, const Prediction& result) noexcept;

  // True when each result is observed apart from the newest (on_result, the
  // history): every one must then go through deliver().
  [[nodiscard]] bool observes_each_result() const noexcept { return serialised_; }

  // For one writer delivering many results at once while no reader can look
  // (the backtest's bulk replay: every reader waits for its round), when
  // !observes_each_result(): counts `feature_seq`'s result as deliver()
  // would, but does not copy it into the slot, since a newer one replaces it
  // before anyone could read it. Stale (counted in `counters`, false) unless
  // newer than the visible result and every result counted here since; true
  // when it counts as visible: the caller then records its publish-to-visible
  // latency (deliver() records it itself). The caller deliver()s the newest
  // of the batch.
  bool count_unobserved(ReplicaCounters& counters, std::uint64_t feature_seq) noexcept {
    if (count_unobserved_run(feature_seq, feature_seq)) return true;
    counters.stale_results.add();
    return false;
  }

  // count_unobserved() for a run of results whose feature_seqs increase
  // from `first_seq` to `last_seq`, when none of them is stale: returns
  // true, having counted each as visible (the caller records their
  // latencies); false, counting nothing, when the first is stale (the
  // caller then counts them one by one).
  bool count_unobserved_run(std::uint64_t first_seq, std::uint64_t last_seq) noexcept {
    if (first_seq <= std::max(newest_unobserved_seq_, slot_.newest_feature_seq())) return false;
    newest_unobserved_seq_ = last_seq;
    return true;
  }

  [[nodiscard]] std::size_t capacity() const noexcept { return slot_.capacity(); }
  bool latest(Prediction& out) const noexcept { return slot_.read(out); }
  [[nodiscard]] std::uint64_t latest_feature_seq() const noexcept { return slot_.newest_feature_seq(); }
  // Any thread, off the hot path: latest() into a buffer it allocates.
  [[nodiscard]] std::optional<NewestResult> newest() const;
  [[nodiscard]] std::uint64_t delivered_seq() const noexcept {
    return delivered_seq_.load(std::memory_order_acquire);
  }

  // Blocks until delivered_seq() >= feature_seq, `timeout` passes, or
  // `should_stop_waiting()` (checked at each wake) is true. True if reached.
  template <typename StopPredicate>
  bool wait_for(std::uint64_t feature_seq, std::chrono::nanoseconds timeout,
                StopPredicate&& should_stop_waiting) const {
    auto reached = [&] { return delivered_seq() >= feature_seq; };
    if (reached()) return true;
    std::unique_lock lock(wait_mutex_);
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    wait_cv_.wait_for(lock, timeout, [&] { return reached() || should_stop_waiting(); });
    waiters_.fetch_sub(1, std::memory_order_seq_cst);
    return reached();
  }
  // Wakes every wait_for() caller to re-check (the loop is stopping).
  void wake_waiters() noexcept;

  // The newest results, oldest first.
  [[nodiscard]] std::vector<Prediction> history() const;

 private:
  void notify_waiters() noexcept;
  void advance_delivered(std::uint64_t feature_seq) noexcept;
  void record_history(const Prediction& result) noexcept;

  const void* const loop_;
  ResultSlot slot_;
  const ResultCallback on_result_;
  ErrorSink& errors_;
  const bool serialised_;

  // The newest feature_seq count_unobserved() counted as visible; its one
  // writer's alone.
  std::uint64_t newest_unobserved_seq_ = 0;

  // Held while a delivery on the serialised path runs.
  std::mutex delivery_mutex_;
  // See the file comment.
  std::atomic<std::uint64_t> delivered_seq_{0};

  // wait_for(): waiters_ counts callers inside wait_cv_.wait_for.
  mutable std::mutex wait_mutex_;
  mutable std::condition_variable wait_cv_;
  mutable std::atomic<std::uint32_t> waiters_{0};

  // History ring: written under delivery_mutex_ and history_mutex_, read
  // under history_mutex_ (so that history() never waits for a callback).
  mutable std::mutex history_mutex_;
  std::vector<Prediction> history_;
  std::size_t history_head_ = 0;  // next slot to write
  std::size_t history_size_ = 0;
  Counter& history_dropped_;
};

}  // namespace inferloop::detail
