// Clock: where every timestamp in a result comes from.
//
// The loop never reads a system clock directly: it asks the Clock it was given.
// SystemClock (the default) reads CLOCK_REALTIME; ManualClock is set by a test
// or a backtester, so the same loop code runs in simulated time.
//
// Thread safety: now() may be called from any thread at any time, so every
// implementation must make it thread-safe and noexcept. ManualClock::set and
// ManualClock::advance may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace inferloop {

// Nanoseconds since the clock's epoch: the Unix epoch for SystemClock, any
// origin the backtester chooses for ManualClock. A plain integer duration so
// that results stay trivially copyable.
using Timestamp = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;

  // NOTE: called on the hot path (publish, result publication); keep it cheap.
  [[nodiscard]] virtual Timestamp now() const noexcept = 0;

  // True when time only moves because someone moves it (ManualClock). The loop
  // uses wall time for nothing but waiting when this is true.
  [[nodiscard]] virtual bool is_simulated() const noexcept { return false; }
};

class SystemClock final : public Clock {
 public:
  [[nodiscard]] Timestamp now() const noexcept override {
    return std::chrono::duration_cast<Timestamp>(
        std::chrono::system_clock::now().time_since_epoch());
  }
};

// A clock that only moves when told to. Monotonic by contract: set() to an
// earlier time is ignored (the clock never runs backwards for its readers).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start = Timestamp{0}) noexcept : now_ns_(start.count()) {}

  [[nodiscard]] Timestamp now() const noexcept override {
    return Timestamp{now_ns_.load(std::memory_order_acquire)};
  }
  [[nodiscard]] bool is_simulated() const noexcept override { return true; }

  void set(Timestamp t) noexcept {
    auto current = now_ns_.load(std::memory_order_relaxed);
    while (t.count() > current &&
           !now_ns_.compare_exchange_weak(current, t.count(), std::memory_order_release,
                                          std::memory_order_relaxed)) {
    }
  }
  // Saturates at the largest Timestamp instead of wrapping to negative time.
  void advance(Timestamp by) noexcept {
    if (by.count() <= 0) return;
    auto current = now_ns_.load(std::memory_order_relaxed);
    std::int64_t next = 0;
    do {
      if (__builtin_add_overflow(current, by.count(), &next)) next = Timestamp::max().count();
    } while (!now_ns_.compare_exchange_weak(current, next, std::memory_order_acq_rel,
                                            std::memory_order_relaxed));
  }

 private:
  // Written by set()/advance() from any thread; read by now(). Release on
  // write / acquire on read so that a reader that sees time t also sees what
  // the writer did before moving the clock to t.
  std::atomic<std::int64_t> now_ns_;
};

// The process-wide default clock.
[[nodiscard]] std::shared_ptr<Clock> system_clock();

}  // namespace inferloop
