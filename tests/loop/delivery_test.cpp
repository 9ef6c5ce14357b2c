// Delivery on its own: newest wins, stale results are counted and dropped,
// the serialised path keeps history and callbacks in order, and wait_for()
// wakes for its result.
#include "loop/delivery.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace inferloop::detail {
namespace {

using namespace std::chrono_literals;

Prediction result_for(std::uint64_t feature_seq, std::uint32_t replica = 0) {
  Prediction p(2);
  p.feature_seq = feature_seq;
  p.published_at = Timestamp{static_cast<std::int64_t>(feature_seq) * 100};
  p.completed_at = p.published_at + 7ns;
  p.replica_id = replica;
  p.rows = 1;
  p.cols = 2;
  p.storage = {static_cast<float>(feature_seq), 1.0F};
  return p;
}

struct DeliveryFixture {
  explicit DeliveryFixture(std::size_t history = 0, ResultCallback on_result = {})
      : counters(2), errors(this, {}),
        delivery(this, 2, 2, history, std::move(on_result), errors, counters.history_dropped()) {}
  LoopCounters counters;
  ErrorSink errors;
  Delivery delivery;
};

TEST(Delivery, TheNewestResultWinsAndOlderOnesAreCountedStale) {
  DeliveryFixture f;
  EXPECT_TRUE(f.delivery.deliver(0, f.counters.replica(0), result_for(5)));
  EXPECT_FALSE(f.delivery.deliver(1, f.counters.replica(1), result_for(4, 1)));
  EXPECT_TRUE(f.delivery.deliver(1, f.counters.replica(1), result_for(6, 1)));
  Prediction out(2);
  ASSERT_TRUE(f.delivery.latest(out));
  EXPECT_EQ(out.feature_seq, 6U);
  EXPECT_EQ(out.replica_id, 1U);
  EXPECT_EQ(f.delivery.delivered_seq(), 6U);
  const LoopStats stats = f.counters.snapshot(6, 0);
  EXPECT_EQ(stats.stale_results, 1U);
  EXPECT_EQ(stats.publish_to_visible.count, 2U);
  EXPECT_EQ(stats.publish_to_visible.max, 7ns);
}

TEST(Delivery, HistoryAndCallbacksSeeVisibleResultsInOrder) {
  std::vector<std::uint64_t> called;
  DeliveryFixture f(2, [&](const Prediction& p) { called.push_back(p.feature_seq); });
  for (std::uint64_t seq : {1, 3, 2, 4, 5}) {
    f.delivery.deliver(seq % 2, f.counters.replica(seq % 2), result_for(seq, seq % 2));
  }
  EXPECT_EQ(called, (std::vector<std::uint64_t>{1, 3, 4, 5}));  // 2 was stale
  const std::vector<Prediction> history = f.delivery.history();
  ASSERT_EQ(history.size(), 2U);
  EXPECT_EQ(history[0].feature_seq, 4U);
  EXPECT_EQ(history[1].feature_seq, 5U);
  EXPECT_EQ(history[1].storage.size(), 2U);
  EXPECT_EQ(f.counters.snapshot(5, 0).history_dropped, 2U);
}

TEST(Delivery, AThrowingCallbackIsReportedAndTheResultStaysVisible) {
  DeliveryFixture f(0, [](const Prediction&) { throw std::runtime_error("callback broke"); });
  EXPECT_TRUE(f.delivery.deliver(0, f.counters.replica(0), result_for(1)));
  ASSERT_TRUE(f.errors.last().has_value());
  EXPECT_EQ(f.errors.last()->message, "result callback threw: callback broke");
  EXPECT_EQ(f.delivery.delivered_seq(), 1U);
}

TEST(Delivery, WaitForWakesWhenItsResultIsDeliveredAndGivesUpOnStop) {
  DeliveryFixture f;
  std::thread late([&] {
    std::this_thread::sleep_for(20ms);
    f.delivery.deliver(0, f.counters.replica(0), result_for(3));
  });
  EXPECT_TRUE(f.delivery.wait_for(3, 10s, [] { return false; }));
  late.join();
  // Never delivered: the stop predicate ends the wait long before the timeout.
  std::atomic<bool> stopping{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    stopping = true;
    f.delivery.wake_waiters();
  });
  const auto began = std::chrono::steady_clock::now();
  EXPECT_FALSE(f.delivery.wait_for(9, 10s, [&] { return stopping.load(); }));
  EXPECT_LT(std::chrono::steady_clock::now() - began, 9s);
  stopper.join();
}

}  // namespace
}  // namespace inferloop::detail
