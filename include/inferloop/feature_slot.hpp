// FeatureSlot: the engine thread's wait-free way to hand the newest feature
// snapshot to the loop.
//
// A snapshot is `rows x cols` float32 values (row-major: one row per
// instrument, one row is the common case), the engine's timestamp for it, and
// a feature_seq the slot assigns (1, 2, 3, ...). Only the newest snapshot
// matters: publishing overwrites one the poller has not taken yet (the loop
// counts that as conflation).
//
// Threads: exactly one producer thread calls publish()/publish_checked() at a
// time (the engine thread; guard it yourself if several threads publish), and
// exactly one consumer (the loop's poller) calls take_newest(). Every other
// member may be called from any thread. Two publish() calls that overlap are
// a bug (they would hand out the same feature_seq): builds with debug checks
// (no NDEBUG, or INFERLOOP_DEBUG_CHECKS=ON) detect it and abort with a
// message; release builds do not pay for the check.
//
// Implementation: a triple buffer. The producer writes its private back
// buffer, then swaps it with the shared middle one in a single atomic
// exchange; the consumer swaps the middle one with its private front buffer
// when the middle one is fresh. Neither side ever waits for the other, and a
// buffer is only ever touched by one side at a time.
//
// Memory ordering: middle_ is exchanged on both sides: the producer's
// release publishes the buffer contents it wrote, the consumer's acquire
// makes them visible before it reads them (and vice versa for buffer reuse).
// The producer's exchange and has_fresh() are seq_cst because a sleeping
// consumer's WakeSignal relies on them (detail/wake_signal.hpp): publish()
// makes the condition "a fresh snapshot" true, then notifies, which costs a
// load unless the consumer sleeps. On x86 a seq_cst exchange is the same
// instruction as an acq_rel one.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "inferloop/clock.hpp"
#include "inferloop/detail/wake_signal.hpp"

namespace inferloop {

// A snapshot as the consumer sees it. Valid until the consumer's next take.
struct FeatureSnapshot {
  std::span<const float> values;  // rows * cols
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::uint64_t feature_seq = 0;
  Timestamp feature_time{0};  // the engine's timestamp for the features
  Timestamp published_at{0};  // the loop Clock's time when publish() ran
};

class FeatureSlot {
 public:
  // `wake` (optional) is notified after every successful publish.
  FeatureSlot(std::size_t max_rows, std::size_t cols, std::shared_ptr<Clock> clock,
              detail::WakeSignal* wake = nullptr);
  FeatureSlot(const FeatureSlot&) = delete;
  FeatureSlot& operator=(const FeatureSlot&) = delete;

  // Publishes `values` as rows = values.size() / cols(). Returns the new
  // feature_seq, or 0 (and counts a rejection) when values.size() is 0, not a
  // multiple of cols(), or more than max_rows() rows. Wait-free; never
  // allocates. Producer thread only.
  [[nodiscard]] std::uint64_t publish(std::span<const float> values,
                                      Timestamp feature_time) noexcept;

  // Same, but throws inferloop::Error describing the shape problem.
  std::uint64_t publish_checked(std::span<const float> values, Timestamp feature_time);

  // Consumer thread only. If a snapshot newer than the last one taken exists,
  // points `out` at it and returns true. Wait-free.
  [[nodiscard]] bool take_newest(FeatureSnapshot& out) noexcept;

  // Whether a snapshot newer than the last one taken exists (the consumer's
  // wait condition; a seq_cst load, see the memory ordering above).
  [[nodiscard]] bool has_fresh() const noexcept {
    return (middle_.load(std::memory_order_seq_cst) & kFresh) != 0;
  }

  [[nodiscard]] std::size_t cols() const noexcept { return cols_; }
  [[nodiscard]] std::size_t max_rows() const noexcept { return max_rows_; }
  // feature_seq of the newest published snapshot (0 = none yet).
  [[nodiscard]] std::uint64_t last_published_seq() const noexcept {
    return last_seq_.load(std::memory_order_acquire);
  }
  [[nodiscard]] std::uint64_t rejected() const noexcept {
    return rejected_.load(std::memory_order_relaxed);
  }
  // Why `values_count` values are not a valid snapshot ("" if they are).
  [[nodiscard]] std::string shape_error(std::size_t values_count) const;

  // Backtest mode (include/inferloop/backtest.hpp): InferenceLoop installs
  // an observer that publish() calls synchronously, on the producer thread,
  // with every accepted snapshot (`values` valid only during the call), so
  // that no snapshot is lost to the triple buffer's conflation before the
  // simulation has seen it. Without one, publish() costs one
  // well-predicted branch more than it did.
  // REQUIRES: no publish() is running (install it before publishing starts).
  using PublishObserver = void (*)(void* context, const FeatureSnapshot& snapshot) noexcept;
  void set_publish_observer(PublishObserver observer, void* context) noexcept {
    observer_ = observer;
    observer_context_ = context;
  }

 private:
  struct Buffer {
    std::vector<float> values;  // capacity max_rows * cols, allocated once
    std::size_t rows = 0;
    std::uint64_t feature_seq = 0;
    Timestamp feature_time{0};
    Timestamp published_at{0};
  };
  static constexpr std::uint8_t kFresh = 0x4;  // middle_ holds a buffer not yet taken
  static constexpr std::uint8_t kIndexMask = 0x3;

  const std::size_t max_rows_;
  const std::size_t cols_;
  const std::shared_ptr<Clock> clock_;
  detail::WakeSignal* const wake_;
  std::array<Buffer, 3> buffers_;

  // Producer-owned: index of the buffer publish() writes next.
  alignas(64) std::uint8_t back_ = 0;
  // Producer-owned: the seq counter.
  std::uint64_t next_seq_ = 1;
  // Set before publishing starts, then read by the producer only.
  PublishObserver observer_ = nullptr;
  void* observer_context_ = nullptr;
  // Shared: index of the middle buffer | kFresh. Exchanged by both sides:
  // seq_cst by the producer, acq_rel by the consumer.
  alignas(64) std::atomic<std::uint8_t> middle_{1};
  // Consumer-owned: index of the buffer take_newest() handed out last.
  alignas(64) std::uint8_t front_ = 2;
  // Written by the producer (release), read by anyone (acquire).
  alignas(64) std::atomic<std::uint64_t> last_seq_{0};
  // Written by the producer; statistics only (relaxed).
  std::atomic<std::uint64_t> rejected_{0};
  // Debug checks only (src/util/misuse.hpp): true while a publish() runs.
  // Exchanged acquire/release by producers, so an overlapping second
  // producer always sees the first one's true. Always present, so that the
  // class layout is the same with and without the checks.
  std::atomic<bool> publishing_{false};
};

}  // namespace inferloop
