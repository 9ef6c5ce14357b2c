// WakeSignal: how one thread waits for "something changed" from others,
// with a configurable mix of spinning and sleeping.
//
// Any thread may notify(); one or more threads may wait(). A waiter reads
// epoch(), checks its condition, and if there is nothing to do calls
// wait(seen_epoch, ...): it returns once epoch() != seen_epoch (or at once if
// it already differs), so a notify() between the check and the wait is never
// lost.
//
// Memory ordering: epoch_ and sleepers_ are both accessed seq_cst. A notifier
// bumps epoch_ then reads sleepers_; a sleeper bumps sleepers_ then re-reads
// epoch_. Under a single total order at least one of them sees the other's
// write (Dekker), so either the notifier calls notify_all() or the sleeper
// sees the new epoch and does not sleep. This lets notify() skip the futex
// syscall when nobody sleeps, which is the common case on the hot path.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "inferloop/config.hpp"

namespace inferloop::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class WakeSignal {
 public:
  [[nodiscard]] std::uint32_t epoch() const noexcept { return epoch_.load(std::memory_order_seq_cst); }

  void notify() noexcept {
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) != 0) epoch_.notify_all();
  }

  // Waits until epoch() != seen. kSpin never sleeps; kBlock sleeps at once;
  // every other strategy spins for `spin` and then sleeps.
  void wait(std::uint32_t seen, WaitStrategy strategy, std::chrono::nanoseconds spin) noexcept {
    if (strategy != WaitStrategy::kBlock) {
      const bool forever = strategy == WaitStrategy::kSpin;
      const auto deadline = std::chrono::steady_clock::now() + spin;
      for (std::uint32_t i = 0;; ++i) {
        if (epoch_.load(std::memory_order_relaxed) != seen) return;
        cpu_relax();
        if ((i & 63U) != 63U) continue;
        // Every 64 spins (a few microseconds): give the core to any other
        // runnable thread. With fewer free cores than spinning threads (the
        // poller, a replica and the engine on a 2-core box) a pure spin keeps
        // the replica that has the work off the CPU until the scheduler's time
        // slice ends, which measured ~100 us per hop there; with no other
        // runnable thread, sched_yield returns at once. Reading the clock costs
        // ~20 ns, so it is checked here too.
        std::this_thread::yield();
        if (!forever && std::chrono::steady_clock::now() >= deadline) break;
      }
    }
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    while (epoch_.load(std::memory_order_seq_cst) == seen) epoch_.wait(seen, std::memory_order_seq_cst);
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
  }

 private:
  // Bumped by every notify(); read by waiters. seq_cst: see the file comment.
  alignas(64) std::atomic<std::uint32_t> epoch_{0};
  // Threads that are (about to be) asleep in epoch_.wait(). seq_cst.
  alignas(64) std::atomic<std::uint32_t> sleepers_{0};
};

}  // namespace inferloop::detail
