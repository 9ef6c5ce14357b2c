#include "loop/loop_counters.hpp"

#include <gtest/gtest.h>

namespace inferloop::detail {
namespace {

using namespace std::chrono_literals;

TEST(LoopCounters, SnapshotSumsEveryReplicaAndDerivesInFlight) {
  LoopCounters counters(3);
  counters.dispatch().dispatched.add(10);
  counters.dispatch().conflated.add(4);
  counters.replica(0).predictions.add(3);
  counters.replica(1).predictions.add(4);
  counters.replica(2).errors.add(1);
  counters.replica(1).stale_results.add(2);
  counters.replica(0).predict.record(5us);
  counters.replica(2).predict.record(9us);
  counters.model_swaps().add();
  const LoopStats stats = counters.snapshot(14, 1);
  EXPECT_EQ(stats.snapshots_published, 14U);
  EXPECT_EQ(stats.snapshots_rejected, 1U);
  EXPECT_EQ(stats.dispatched, 10U);
  EXPECT_EQ(stats.conflated, 4U);
  EXPECT_EQ(stats.predictions, 7U);
  EXPECT_EQ(stats.errors, 1U);
  EXPECT_EQ(stats.stale_results, 2U);
  EXPECT_EQ(stats.in_flight, 2U);  // 10 dispatched - 7 - 1 finished
  EXPECT_EQ(stats.model_swaps, 1U);
  EXPECT_EQ(stats.predict.count, 2U);
  EXPECT_EQ(stats.predict.max, 9us);
}

TEST(LoopCounters, InFlightNeverGoesNegativeWhileWritersRace) {
  LoopCounters counters(1);
  counters.replica(0).predictions.add(2);  // seen before the dispatch counts
  EXPECT_EQ(counters.snapshot(2, 0).in_flight, 0U);
}

}  // namespace
}  // namespace inferloop::detail
