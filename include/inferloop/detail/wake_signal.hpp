// WakeSignal: how a thread that found nothing to do waits until another
// thread makes something ready: spinning first, then sleeping, without the
// notifying thread paying for a system call when nobody sleeps.
//
// It is an event count (the pattern of folly::EventCount). A waiter polls its
// own condition while it spins; to sleep, it announces itself
// (prepare_wait), checks the condition once more, and sleeps on the epoch
// only if the condition still does not hold (commit_wait). A notifier first
// makes its condition true with a seq_cst operation, then calls notify(),
// which costs one load when nobody sleeps and a futex wake when someone does.
// wait_until() below is the whole protocol with a spin phase in front.
//
// Threads: any number of waiters and notifiers.
//
// Memory ordering (Dekker): the notifier's seq_cst write of its condition
// precedes its seq_cst load of waiters_; a waiter's seq_cst increment of
// waiters_ precedes its seq_cst re-read of the condition. In the single total
// order of seq_cst operations one of the two comes first, so either the
// notifier sees the waiter (and bumps the epoch it sleeps on) or the waiter
// sees the condition (and does not sleep). Conditions must therefore be
// written and read seq_cst; on x86 a seq_cst exchange or load costs what an
// acq_rel one does.
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
  // Waiter: I am about to sleep unless my condition holds. Returns the key
  // for commit_wait(). Re-check the condition after this call.
  [[nodiscard]] std::uint32_t prepare_wait() noexcept {
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    return epoch_.load(std::memory_order_seq_cst);
  }
  // Waiter: the condition held after all.
  void cancel_wait() noexcept { waiters_.fetch_sub(1, std::memory_order_seq_cst); }
  // Waiter: sleep until a notify() after prepare_wait() returned `key`.
  void commit_wait(std::uint32_t key) noexcept {
    while (epoch_.load(std::memory_order_seq_cst) == key) {
      epoch_.wait(key, std::memory_order_seq_cst);
    }
    waiters_.fetch_sub(1, std::memory_order_seq_cst);
  }

  // Notifier, after making its condition true (seq_cst). Cheap when nobody
  // sleeps: one load of a line that only waiters write.
  void notify() noexcept {
    if (waiters_.load(std::memory_order_seq_cst) == 0) return;
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    epoch_.notify_all();
  }

 private:
  // Bumped by a notify() that found a waiter; sleepers wait on it. seq_cst.
  alignas(64) std::atomic<std::uint32_t> epoch_{0};
  // Threads between prepare_wait() and the end of commit_wait()/cancel_wait().
  // Written by waiters, read by notifiers. seq_cst.
  alignas(64) std::atomic<std::uint32_t> waiters_{0};
};

// How often a spinning thread gives its core away: with more spinning threads
// than free cores, a pure spin keeps the thread that has the work off the CPU
// until the scheduler's time slice ends; sched_yield returns at once when no
// other thread is runnable. 1024 pauses are ~30-60 us on current x86 cores,
// so a spin across a typical inter-publish gap costs a few system calls, not
// dozens.
inline constexpr std::uint32_t kSpinsPerYield = 1024;
// How often the spin phase reads the clock for its deadline (~20 ns a read).
inline constexpr std::uint32_t kSpinsPerClockCheck = 64;

// Waits until ready() (a seq_cst read of the waiter's condition) is true.
// kSpin polls forever; kBlock sleeps at once; every other strategy polls for
// `spin`, then sleeps. `signal` is the one the condition's writers notify().
// `spins_per_yield`: kSpinsPerYield for a thread that must see its event
// within a fraction of a microsecond (the poller); 1 for a thread that waits
// for another thread to hand it work right after that thread yields (a
// replica): it polls once per sched_yield, so on a core it shares it runs
// only when the other thread gives the core away, and on a free core it
// still sees its work within a system call.
template <typename Ready>
void wait_until(WakeSignal& signal, Ready&& ready, WaitStrategy strategy,
                std::chrono::nanoseconds spin,
                std::uint32_t spins_per_yield = kSpinsPerYield) noexcept {
  if (ready()) return;
  if (strategy != WaitStrategy::kBlock) {
    const bool forever = strategy == WaitStrategy::kSpin;
    const auto deadline = std::chrono::steady_clock::now() + spin;
    for (std::uint32_t i = 1;; ++i) {
      cpu_relax();
      if (ready()) return;
      if (i % spins_per_yield == 0) std::this_thread::yield();
      if (!forever && (spins_per_yield < kSpinsPerClockCheck || i % kSpinsPerClockCheck == 0) &&
          std::chrono::steady_clock::now() >= deadline) {
        break;
      }
    }
  }
  while (true) {
    const std::uint32_t key = signal.prepare_wait();
    if (ready()) {
      signal.cancel_wait();
      return;
    }
    signal.commit_wait(key);
    if (ready()) return;
  }
}

}  // namespace inferloop::detail
