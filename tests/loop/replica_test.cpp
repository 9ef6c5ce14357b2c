// Replica on its own: inline prediction on the calling thread, hand-over to
// its own thread, a stop that finishes the prediction in flight, and claims:
// a handed-over job runs once, on its thread or on the poller's.
#include "loop/replica.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "fake_predictor.hpp"

namespace inferloop::detail {
namespace {

using namespace std::chrono_literals;
using inferloop::testing::FakeBehaviour;
using inferloop::testing::FakePredictor;
using inferloop::testing::Gate;

struct ReplicaFixture {
  ReplicaFixture()
      : counters(1), errors(this, {}),
        delivery(this, 2, 1, 0, {}, errors, counters.history_dropped()),
        replica(0, std::make_unique<FakePredictor>(behaviour), 1, 4, 2, counters.replica(0)) {}
  SnapshotMeta meta(std::uint64_t feature_seq) const {
    return {1, feature_seq, Timestamp{static_cast<std::int64_t>(feature_seq)}, clock.now()};
  }
  PredictionSinks sinks() { return {clock, delivery, errors, poller_wake}; }

  FakeBehaviour behaviour;
  ManualClock clock{Timestamp{1000}};
  LoopCounters counters;
  ErrorSink errors;
  Delivery delivery;
  WakeSignal poller_wake;
  Replica replica;
};

TEST(Replica, RunsInlineOnTheCallingThreadAndDelivers) {
  ReplicaFixture f;
  const std::vector<float> row{1, 2, 3, 4};
  f.replica.run_inline(row, f.meta(1), f.sinks());
  Prediction out(2);
  ASSERT_TRUE(f.delivery.latest(out));
  EXPECT_EQ(out.feature_seq, 1U);
  EXPECT_EQ(out.value(0, 0), 10.0F);
  EXPECT_EQ(out.value(0, 1), 11.0F);
  EXPECT_EQ(out.model_version, 1U);
  EXPECT_EQ(f.counters.snapshot(1, 0).predictions, 1U);
}

TEST(Replica, AHandOverRunsOnItsThreadAndAStopFinishesItFirst) {
  ReplicaFixture f;
  Gate gate;
  gate.close();
  f.behaviour.gate = &gate;
  f.replica.start_thread(WaitStrategy::kSpinThenBlock, 50us, f.sinks());
  EXPECT_TRUE(f.replica.idle());
  const std::vector<float> row{1, 1, 1, 1};
  f.replica.hand_over(row, f.meta(7));
  EXPECT_FALSE(f.replica.idle());
  while (f.behaviour.entered.load() == 0) std::this_thread::yield();
  // Stop while the prediction is held at the gate: it still completes.
  std::thread opener([&] {
    std::this_thread::sleep_for(20ms);
    gate.open();
  });
  f.replica.stop_thread();
  opener.join();
  EXPECT_TRUE(f.replica.idle());
  EXPECT_EQ(f.replica.completions(), 1U);
  EXPECT_EQ(f.delivery.latest_feature_seq(), 7U);
}

TEST(Replica, APredictorErrorIsCountedReportedAndTheReplicaGoesOn) {
  ReplicaFixture f;
  f.behaviour.fail_if = [](float value) { return value < 0; };
  f.replica.start_thread(WaitStrategy::kBlock, 0ns, f.sinks());
  const std::vector<float> bad{-1, 0, 0, 0};
  const std::vector<float> good{1, 0, 0, 0};
  f.replica.hand_over(bad, f.meta(1));
  while (f.replica.completions() < 1) std::this_thread::yield();
  f.replica.hand_over(good, f.meta(2));
  while (f.replica.completions() < 2) std::this_thread::yield();
  f.replica.stop_thread();
  const LoopStats stats = f.counters.snapshot(2, 0);
  EXPECT_EQ(stats.errors, 1U);
  EXPECT_EQ(stats.predictions, 1U);
  ASSERT_TRUE(f.errors.last().has_value());
  EXPECT_EQ(f.errors.last()->feature_seq, 1U);
  EXPECT_EQ(f.delivery.latest_feature_seq(), 2U);
}

TEST(Replica, AJobItsThreadHasNotClaimedRunsOnThePollerAsTheReplica) {
  ReplicaFixture f;  // no thread started: nobody else can claim
  const std::vector<float> row{1, 2, 3, 4};
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    f.replica.hand_over(row, f.meta(seq));
    EXPECT_FALSE(f.replica.claimed());
    EXPECT_FALSE(f.replica.idle());
    ASSERT_TRUE(f.replica.run_unclaimed_here(f.sinks()));
    EXPECT_TRUE(f.replica.claimed());
    EXPECT_TRUE(f.replica.idle());
    // Claimed once: a second try runs nothing.
    EXPECT_FALSE(f.replica.run_unclaimed_here(f.sinks()));
    Prediction out(2);
    ASSERT_TRUE(f.delivery.latest(out));
    EXPECT_EQ(out.feature_seq, seq);
    EXPECT_EQ(out.replica_id, 0U);
    EXPECT_EQ(out.value(0, 0), 10.0F);
  }
  EXPECT_EQ(f.replica.completions(), 3U);
  EXPECT_EQ(f.behaviour.entered.load(), 3U);
  EXPECT_EQ(f.counters.snapshot(3, 0).predictions, 3U);
}

TEST(Replica, AJobItsThreadClaimedIsNotRunAgainByThePoller) {
  ReplicaFixture f;
  Gate gate;
  gate.close();
  f.behaviour.gate = &gate;
  f.replica.start_thread(WaitStrategy::kSpin, 0ns, f.sinks());
  f.replica.prime();
  const std::vector<float> row{1, 1, 1, 1};
  f.replica.hand_over(row, f.meta(4));
  // The thread is inside predict(), held at the gate: it claimed the job.
  while (f.behaviour.entered.load() == 0) std::this_thread::yield();
  EXPECT_TRUE(f.replica.claimed());
  EXPECT_FALSE(f.replica.run_unclaimed_here(f.sinks()));
  gate.open();
  while (!f.replica.idle()) std::this_thread::yield();
  f.replica.stop_thread();
  EXPECT_EQ(f.behaviour.entered.load(), 1U);
  EXPECT_EQ(f.replica.completions(), 1U);
  EXPECT_EQ(f.counters.snapshot(4, 0).predictions, 1U);
  EXPECT_EQ(f.delivery.latest_feature_seq(), 4U);
}

// The poller and the replica's thread race for every job (a hand-over
// followed at once, or after a few polls, by the poller's own try): each job
// runs exactly once, in order, and every counter adds up. Under
// ThreadSanitizer this also checks that the predictor, the buffers and the
// counters change hands without a race.
TEST(Replica, EveryJobRunsExactlyOnceWhicheverThreadClaimsIt) {
  ReplicaFixture f;
  f.replica.start_thread(WaitStrategy::kSpin, 0ns, f.sinks());
  constexpr std::uint64_t kJobs = 2000;
  std::uint64_t run_here = 0;
  for (std::uint64_t seq = 1; seq <= kJobs; ++seq) {
    f.replica.prime();
    const std::vector<float> row(4, static_cast<float>(seq));
    f.replica.hand_over(row, f.meta(seq));
    for (std::uint64_t poll = 0; poll < seq % 7; ++poll) cpu_relax();
    if (f.replica.run_unclaimed_here(f.sinks())) ++run_here;
    while (!f.replica.idle()) cpu_relax();
    ASSERT_EQ(f.delivery.latest_feature_seq(), seq);
  }
  f.replica.stop_thread();
  EXPECT_EQ(f.behaviour.entered.load(), kJobs);
  EXPECT_EQ(f.replica.completions(), kJobs);
  const LoopStats stats = f.counters.snapshot(kJobs, 0);
  EXPECT_EQ(stats.predictions, kJobs);
  EXPECT_EQ(stats.errors, 0U);
  Prediction out(2);
  ASSERT_TRUE(f.delivery.latest(out));
  EXPECT_EQ(out.value(0, 0), static_cast<float>(kJobs) * 4);
  RecordProperty("jobs_run_by_the_poller", static_cast<int>(run_here));
}

TEST(Replica, SwitchingTheModelHandsBackTheOldPredictor) {
  ReplicaFixture f;
  FakeBehaviour other;
  std::unique_ptr<Predictor> old = f.replica.switch_model(std::make_unique<FakePredictor>(other), 2);
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(f.replica.model_version(), 2U);
  const std::vector<float> row{1, 2, 3, 4};
  f.replica.run_inline(row, f.meta(1), f.sinks());
  EXPECT_EQ(other.entered.load(), 1U);
  EXPECT_EQ(f.behaviour.entered.load(), 0U);
}

}  // namespace
}  // namespace inferloop::detail
