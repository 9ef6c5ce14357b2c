#include "inferloop/detail/wake_signal.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "stress.hpp"

namespace inferloop::detail {
namespace {

using namespace std::chrono_literals;

TEST(WakeSignal, ReturnsAtOnceWhenTheConditionAlreadyHolds) {
  WakeSignal signal;
  for (auto strategy : {WaitStrategy::kSpin, WaitStrategy::kSpinThenBlock, WaitStrategy::kBlock}) {
    wait_until(signal, [] { return true; }, strategy, 1ms);
  }
}

TEST(WakeSignal, NotifyWithNobodyWaitingDoesNotChangeWhatAWaiterSees) {
  WakeSignal signal;
  signal.notify();
  signal.notify();
  // A waiter that announces itself now sleeps only until the next notify.
  std::atomic<bool> flag{false};
  std::thread waiter([&] {
    wait_until(signal, [&] { return flag.load(std::memory_order_seq_cst); }, WaitStrategy::kBlock, 0ns);
  });
  flag.store(true, std::memory_order_seq_cst);
  signal.notify();
  waiter.join();
  EXPECT_TRUE(flag.load());
}

// The Dekker handshake under load: a condition set between a waiter's check
// and its sleep must never be slept through. Each round the waiter blocks
// (kBlock: no spinning to hide a lost wake-up); a lost one hangs the test,
// which its ctest TIMEOUT turns into a failure.
class EveryStrategy : public ::testing::TestWithParam<WaitStrategy> {};

TEST_P(EveryStrategy, NoWakeUpIsLostAcrossManyHandshakes) {
  WakeSignal to_waiter;
  WakeSignal to_notifier;
  std::atomic<std::uint64_t> posted{0};
  std::atomic<std::uint64_t> taken{0};
  const std::uint64_t rounds = 20'000 / testing::kStressScale;
  std::thread waiter([&] {
    for (std::uint64_t round = 1; round <= rounds; ++round) {
      wait_until(to_waiter, [&] { return posted.load(std::memory_order_seq_cst) >= round; },
                 GetParam(), 2us);
      taken.store(round, std::memory_order_seq_cst);
      to_notifier.notify();
    }
  });
  for (std::uint64_t round = 1; round <= rounds; ++round) {
    posted.store(round, std::memory_order_seq_cst);
    to_waiter.notify();
    wait_until(to_notifier, [&] { return taken.load(std::memory_order_seq_cst) >= round; },
               GetParam(), 2us);
  }
  waiter.join();
  EXPECT_EQ(taken.load(), rounds);
}

INSTANTIATE_TEST_SUITE_P(Strategies, EveryStrategy,
                         ::testing::Values(WaitStrategy::kSpinThenBlock, WaitStrategy::kBlock),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace inferloop::detail
