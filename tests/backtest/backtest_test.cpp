// Backtest mode with a fake predictor: the simulated schedule (a hand-worked
// case and a property test against the latency model's own draws),
// determinism across compute threads, and the errors of a bad setup.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "inferloop/backtest.hpp"
#include "inferloop/error.hpp"
#include "inferloop/inference_loop.hpp"
#include "inferloop/replay.hpp"
#include "loop/loop_access.hpp"

namespace inferloop {
namespace {

using namespace std::chrono_literals;

// out[row][k] = sum(row) + k, like tests/core's FakePredictor; it also
// records the first feature of every row it predicted (the tests publish
// rows filled with their feature_seq), so a test knows every snapshot that
// was computed, visible or not.
struct Recorder {
  std::mutex mutex;
  std::vector<std::uint64_t> computed;  // guarded by mutex
  std::vector<std::size_t> call_rows;   // rows of each predict() call; guarded by mutex
  std::uint64_t fail_seq = 0;           // predict() throws for this snapshot
};

class RecordingPredictor final : public Predictor {
 public:
  explicit RecordingPredictor(Recorder& recorder) : recorder_(recorder) {}
  std::size_t num_features() const noexcept override { return 3; }
  std::size_t num_outputs() const noexcept override { return 2; }
  std::string describe() const override { return "RecordingPredictor"; }
  void warm_up() override {}
  void predict(std::span<const float> features, std::size_t rows, std::span<float> out) override {
    std::lock_guard lock(recorder_.mutex);
    recorder_.call_rows.push_back(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      const auto seq = static_cast<std::uint64_t>(features[r * 3]);
      if (seq == recorder_.fail_seq) throw std::runtime_error("refusing snapshot " + std::to_string(seq));
    }
    for (std::size_t r = 0; r < rows; ++r) {
      recorder_.computed.push_back(static_cast<std::uint64_t>(features[r * 3]));
      const float sum = features[r * 3] + features[r * 3 + 1] + features[r * 3 + 2];
      out[r * 2] = sum;
      out[r * 2 + 1] = sum + 1.0F;
    }
  }

 private:
  Recorder& recorder_;
};

struct Backtest {
  Backtest(int replicas, BacktestOptions backtest, std::size_t max_rows = 1) {
    registry.add("Recording", [this](const PredictorContext&) {
      return std::make_unique<RecordingPredictor>(recorder);
    });
    InferenceConfig config;
    config.model_uri = "fake://model";
    config.predictor_class_name = "Recording";
    config.num_replicas = replicas;
    config.max_rows = max_rows;
    config.history_capacity = 4;
    LoopOptions options;
    options.clock = clock;
    options.registry = &registry;
    options.resolver = [](const std::string& uri) {
      ResolvedModel model;
      model.uri = uri;
      return model;
    };
    options.backtest = std::move(backtest);
    options.on_result = [this](const Prediction& p) {
      Prediction copy = p;
      copy.storage.resize(static_cast<std::size_t>(p.rows) * p.cols);
      results.push_back(std::move(copy));
    };
    loop = std::make_unique<InferenceLoop>(config, std::move(options));
    loop->start();
  }
  // Moves the clock to `at` and publishes `rows` rows filled with the next
  // feature_seq, so every output identifies its snapshot.
  std::uint64_t publish_at(Timestamp at, std::size_t rows = 1) {
    clock->set(at);
    const auto seq = static_cast<float>(loop->features().last_published_seq() + 1);
    std::vector<float> values(rows * 3, seq);
    return loop->features().publish(values, at + 7ns);
  }

  Recorder recorder;
  PredictorRegistry registry;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(Timestamp{0});
  std::vector<Prediction> results;  // every delivered result, from on_result
  std::unique_ptr<InferenceLoop> loop;
};

BacktestOptions with_latency(LatencyModel model, std::size_t threads = 1, std::uint64_t seed = 1) {
  BacktestOptions options;
  options.latency = std::move(model);
  options.threads = threads;
  options.seed = seed;
  return options;
}

Timestamp us(std::int64_t n) { return Timestamp{n * 1000}; }

// ---- a schedule worked out by hand ---------------------------------------

// Checks a LatencySummary against the exact samples (microseconds) it
// summarised: count and max exactly; each percentile at least the exact
// sample percentile (nearest rank) and at most 1/32 above it, which is the
// histogram's bucket width (include/inferloop/stats.hpp).
void expect_summary(const LatencySummary& summary, std::vector<std::int64_t> samples_us) {
  std::sort(samples_us.begin(), samples_us.end());
  ASSERT_EQ(summary.count, samples_us.size());
  EXPECT_EQ(summary.max, std::chrono::microseconds(samples_us.back()));
  auto expect_percentile = [&](std::chrono::nanoseconds reported, double quantile, const char* name) {
    const auto rank = static_cast<std::size_t>(std::ceil(quantile * static_cast<double>(samples_us.size())));
    const std::chrono::nanoseconds exact = std::chrono::microseconds(samples_us[std::max<std::size_t>(rank, 1) - 1]);
    EXPECT_GE(reported, exact) << name;
    EXPECT_LE(reported, exact + exact / 32) << name;
  };
  expect_percentile(summary.p50, 0.50, "p50");
  expect_percentile(summary.p90, 0.90, "p90");
  expect_percentile(summary.p99, 0.99, "p99");
}

// 2 replicas; the latency model replays 10, 3, 5, 20, 1 us (then cycles).
// Publish times (us) and what the live loop would do:
//   t=0   seq1 -> r0 (k0, L=10), visible at 10
//   t=1   seq2 -> r1 (k1, L=3),  visible at 4
//   t=2   seq3 all busy: pending
//   t=3   seq4 replaces pending seq3 (conflated 1)
//   t=4         r1 frees: seq2 VISIBLE; pending seq4 -> r1 at 4 (k2, L=5), visible at 9
//   t=5   seq5 all busy: pending
//   t=6   seq6 replaces pending seq5 (conflated 2)
//   t=9         r1 frees: seq4 VISIBLE; pending seq6 -> r1 at 9 (k3, L=20), visible at 29
//   t=10        r0 frees: seq1 finishes after seq4 is visible: STALE (1)
//   t=11  seq7 -> r0 (k4, L=1), visible at 12
//   t=12        r0 frees: seq7 VISIBLE (before seq8 arrives at the same instant)
//         seq8 -> r0 (round-robin from r1, which is busy; k5 = k0 again, L=10), visible at 22
//   t=22        seq8 VISIBLE
//   t=29        r1 frees: seq6 is older than seq8: STALE (2)
// Totals: published 8, dispatched 6 (1,2,4,6,7,8), conflated 2 (3,5),
// predictions 6, stale 2 (1,6), visible 2,4,7,8.
TEST(Backtest, MatchesAHandComputedSchedule) {
  Backtest b(2, with_latency(LatencyModel::replay({us(10), us(3), us(5), us(20), us(1)})));
  Prediction latest = b.loop->make_prediction();
  struct Step {
    std::int64_t publish_us;            // -1: only move the clock
    std::int64_t clock_us;              // then read latest() at this time
    std::uint64_t latest_seq;           // expected newest visible (0: none)
  };
  const std::vector<Step> steps = {
      {0, 0, 0},   {1, 1, 0},   {2, 2, 0},   {3, 3, 0},    {-1, 4, 2},  {5, 5, 2},
      {6, 8, 2},   {-1, 9, 4},  {-1, 10, 4}, {11, 11, 4},  {12, 12, 7}, {-1, 21, 7},
      {-1, 22, 8}, {-1, 30, 8},
  };
  for (const Step& step : steps) {
    if (step.publish_us >= 0) b.publish_at(us(step.publish_us));
    b.clock->set(us(step.clock_us));
    const bool has = b.loop->latest(latest);
    SCOPED_TRACE("at " + std::to_string(step.clock_us) + "us");
    EXPECT_EQ(has, step.latest_seq != 0);
    if (has) {
      EXPECT_EQ(latest.feature_seq, step.latest_seq);
    }
  }
  b.loop->stop();
  const LoopStats stats = b.loop->stats();
  EXPECT_EQ(stats.snapshots_published, 8U);
  EXPECT_EQ(stats.dispatched, 6U);
  EXPECT_EQ(stats.conflated, 2U);
  EXPECT_EQ(stats.discarded_at_stop, 0U);
  EXPECT_EQ(stats.predictions, 6U);
  EXPECT_EQ(stats.stale_results, 2U);
  EXPECT_EQ(stats.errors, 0U);
  EXPECT_EQ(stats.in_flight, 0U);

  struct Visible {
    std::uint64_t seq;
    std::uint32_t replica;
    std::int64_t started_us, completed_us;
  };
  const std::vector<Visible> expected = {{2, 1, 1, 4}, {4, 1, 4, 9}, {7, 0, 11, 12}, {8, 0, 12, 22}};
  ASSERT_EQ(b.results.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const Prediction& p = b.results[i];
    SCOPED_TRACE("result " + std::to_string(i));
    EXPECT_EQ(p.feature_seq, expected[i].seq);
    EXPECT_EQ(p.replica_id, expected[i].replica);
    EXPECT_EQ(p.started_at, us(expected[i].started_us));
    EXPECT_EQ(p.completed_at, us(expected[i].completed_us));
    EXPECT_EQ(p.feature_time, p.published_at + 7ns);
    EXPECT_EQ(p.value(0, 0), 3.0F * static_cast<float>(p.feature_seq));
    EXPECT_EQ(p.value(0, 1), 3.0F * static_cast<float>(p.feature_seq) + 1.0F);
  }
  // Stale results were computed all the same: seq 1 and 6 are in the record.
  std::vector<std::uint64_t> computed = b.recorder.computed;
  std::sort(computed.begin(), computed.end());
  EXPECT_EQ(computed, (std::vector<std::uint64_t>{1, 2, 4, 6, 7, 8}));
  // Simulated latency statistics, fully determined by the schedule above:
  //   queue wait (start - publish) of seq 1,2,4,6,7,8: 0,0,1,3,0,0 us
  //   predict (the draws, cycled):                      10,3,5,20,1,10 us
  //   publish to visible of seq 2,4,7,8:                3,6,1,10 us
  EXPECT_EQ(stats.queue_wait.count, 6U);
  EXPECT_EQ(stats.predict.count, 6U);
  EXPECT_EQ(stats.publish_to_visible.count, 4U);
  expect_summary(stats.queue_wait, {0, 0, 1, 3, 0, 0});
  expect_summary(stats.predict, {10, 3, 5, 20, 1, 10});
  expect_summary(stats.publish_to_visible, {3, 6, 1, 10});
}

// The same schedule with no reads between publishes: the simulation must
// still start seq4 at 4 and seq6 at 9 (when their replicas freed), not at the
// next publish.
TEST(Backtest, MatchesTheHandComputedScheduleWithoutReadsInBetween) {
  Backtest b(2, with_latency(LatencyModel::replay({us(10), us(3), us(5), us(20), us(1)})));
  for (std::int64_t t : {0, 1, 2, 3, 5, 6, 11, 12}) b.publish_at(us(t));
  b.clock->set(us(30));
  b.loop->stop();
  std::vector<std::vector<std::int64_t>> got;  // seq, replica, started, completed (us)
  for (const Prediction& p : b.results) {
    got.push_back({static_cast<std::int64_t>(p.feature_seq), p.replica_id,
                   p.started_at.count() / 1000, p.completed_at.count() / 1000});
  }
  EXPECT_EQ(got, (std::vector<std::vector<std::int64_t>>{
                     {2, 1, 1, 4}, {4, 1, 4, 9}, {7, 0, 11, 12}, {8, 0, 12, 22}}));
  const LoopStats stats = b.loop->stats();
  EXPECT_EQ(stats.conflated, 2U);
  EXPECT_EQ(stats.stale_results, 2U);
}

// A zero latency drawn for the pending snapshot: it starts when the replica
// frees and is visible at that same instant, right after the result that
// freed the replica. 1 replica; latencies 10, 0, 10 us:
//   t=0  seq1 -> r0 (L=10), visible at 10
//   t=1  seq2 pending; t=2 seq3 replaces it (conflated 1)
//   t=10 seq1 VISIBLE; seq3 -> r0 at 10 (L=0): VISIBLE at 10
//   t=11 seq4 -> r0 (L=10), visible at 21
TEST(Backtest, APendingSnapshotWithZeroLatencyIsVisibleWhenItsReplicaFrees) {
  Backtest b(1, with_latency(LatencyModel::replay({us(10), us(0), us(10)})));
  for (std::int64_t t : {0, 1, 2, 11}) b.publish_at(us(t));
  b.clock->set(us(30));
  b.loop->stop();
  std::vector<std::vector<std::int64_t>> got;  // seq, started, completed (us)
  for (const Prediction& p : b.results) {
    got.push_back({static_cast<std::int64_t>(p.feature_seq), p.started_at.count() / 1000,
                   p.completed_at.count() / 1000});
  }
  EXPECT_EQ(got, (std::vector<std::vector<std::int64_t>>{{1, 0, 10}, {3, 10, 10}, {4, 11, 21}}));
  const LoopStats stats = b.loop->stats();
  EXPECT_EQ(stats.conflated, 1U);
  EXPECT_EQ(stats.stale_results, 0U);
  EXPECT_EQ(stats.dispatched, 3U);
}

TEST(Backtest, StopDiscardsThePendingSnapshotAndFinishesTheRunningOnes) {
  Backtest b(1, with_latency(LatencyModel::constant(us(10))));
  b.publish_at(us(0));  // r0 until 10
  b.publish_at(us(1));  // pending
  b.publish_at(us(2));  // replaces it: conflated
  b.loop->stop();
  const LoopStats stats = b.loop->stats();
  EXPECT_EQ(stats.dispatched, 1U);
  EXPECT_EQ(stats.conflated, 1U);
  EXPECT_EQ(stats.discarded_at_stop, 1U);
  ASSERT_EQ(b.results.size(), 1U);
  EXPECT_EQ(b.results[0].completed_at, us(10));
}

TEST(Backtest, IdleAtTellsWhenTheLastSnapshotWillBeVisible) {
  Backtest b(1, with_latency(LatencyModel::constant(us(10))));
  EXPECT_EQ(b.loop->backtest_idle_at(), us(0));
  b.publish_at(us(0));  // visible at 10
  b.publish_at(us(3));  // pending; starts at 10, visible at 20
  EXPECT_EQ(b.loop->backtest_idle_at(), us(20));
  EXPECT_EQ(b.loop->latest_feature_seq(), 0U);  // idle_at() only looked ahead
  b.clock->set(*b.loop->backtest_idle_at());
  EXPECT_TRUE(b.loop->wait_for(2, 0s));
  b.loop->stop();
  EXPECT_EQ(b.loop->stats().discarded_at_stop, 0U);
}

TEST(Backtest, ZeroLatencyResultsAreVisibleAtTheirPublishTime) {
  Backtest b(1, with_latency(LatencyModel::zero()), 2);
  Prediction latest = b.loop->make_prediction();
  for (int i = 1; i <= 5; ++i) {
    const auto seq = b.publish_at(us(i), 2);
    ASSERT_TRUE(b.loop->wait_for(seq, 0s, &latest));
    EXPECT_EQ(latest.feature_seq, seq);
    EXPECT_EQ(latest.completed_at, us(i));
    EXPECT_EQ(latest.rows, 2U);
  }
  EXPECT_EQ(b.loop->stats().conflated, 0U);
  InferenceConfig live_config;
  live_config.model_uri = "model.json";  // never loaded: the loop is not started
  EXPECT_FALSE(InferenceLoop(live_config).backtest_idle_at().has_value());
}

TEST(Backtest, APredictorErrorIsCountedAndTheLoopGoesOn) {
  Backtest b(1, with_latency(LatencyModel::constant(us(1))));
  b.recorder.fail_seq = 2;
  for (int i = 0; i < 4; ++i) b.publish_at(us(10 * i));
  b.clock->set(us(100));
  b.loop->stop();
  const LoopStats stats = b.loop->stats();
  EXPECT_EQ(stats.errors, 1U);
  EXPECT_EQ(stats.predictions, 3U);
  ASSERT_TRUE(b.loop->last_error().has_value());
  EXPECT_EQ(b.loop->last_error()->feature_seq, 2U);
  EXPECT_NE(b.loop->last_error()->message.find("refusing snapshot 2"), std::string::npos);
  ASSERT_EQ(b.results.size(), 3U);
  EXPECT_EQ(b.results[1].feature_seq, 3U);
}

// Without reads in between, results wait to be delivered until 4,096 do:
// the driver makes jobs (and grows its queues, which never allocate when a
// job is routed) far beyond the ones it prepared, and loses none.
TEST(Backtest, ABacklogBeyondThePreparedJobsIsDeliveredWhole) {
  constexpr std::uint64_t kSnapshots = 10'000;
  for (std::size_t threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " compute threads");
    Backtest b(1, with_latency(LatencyModel::zero(), threads));
    for (std::uint64_t i = 1; i <= kSnapshots; ++i) b.publish_at(us(static_cast<std::int64_t>(i)));
    b.loop->stop();
    ASSERT_EQ(b.results.size(), kSnapshots);
    for (std::uint64_t i = 0; i < kSnapshots; ++i) {
      ASSERT_EQ(b.results[i].feature_seq, i + 1);
      ASSERT_EQ(b.results[i].storage[0], 3.0F * static_cast<float>(i + 1));
    }
    EXPECT_EQ(b.loop->stats().predictions, kSnapshots);
    EXPECT_EQ(b.recorder.computed.size(), kSnapshots);
  }
}

// ---- property: nothing is visible before it could have existed ------------

LatencyModel random_model(std::mt19937_64& random) {
  switch (random() % 4) {
    case 0:
      return LatencyModel::zero();
    case 1:
      return LatencyModel::constant(Timestamp{static_cast<std::int64_t>(random() % 50'000)});
    case 2:
      return LatencyModel::lognormal(Timestamp{static_cast<std::int64_t>(1 + random() % 40'000)},
                                     Timestamp{static_cast<std::int64_t>(random() % 30'000)});
    default: {
      std::vector<Timestamp> draws(1 + random() % 7);
      for (auto& d : draws) d = Timestamp{static_cast<std::int64_t>(random() % 60'000)};
      return LatencyModel::replay(draws);
    }
  }
}

TEST(BacktestProperty, NoResultIsVisibleBeforeItsSnapshotTimePlusItsLatency) {
  std::mt19937_64 random(20261124);
  for (int trial = 0; trial < 60; ++trial) {
    const LatencyModel model = random_model(random);
    const int replicas = 1 + static_cast<int>(random() % 4);
    const std::uint64_t seed = random();
    SCOPED_TRACE("trial " + std::to_string(trial) + ": " + model.describe() + ", " +
                 std::to_string(replicas) + " replicas, seed " + std::to_string(seed));
    Backtest b(replicas, with_latency(model, 1 + random() % 3, seed));
    Prediction latest = b.loop->make_prediction();
    struct Observation {
      Timestamp now;
      std::uint64_t published;  // newest feature_seq published by then
      std::uint64_t latest;     // what latest() returned (0: nothing)
    };
    std::vector<Observation> observed;
    Timestamp now{0};
    for (int event = 0; event < 200; ++event) {
      // Bursts at one instant, short gaps and long ones.
      const auto gap = random() % 3 == 0 ? 0 : static_cast<std::int64_t>(random() % 40'000);
      now += Timestamp{gap};
      b.clock->set(now);
      if (random() % 4 != 0) b.publish_at(now);
      if (random() % 3 == 0) {
        now += Timestamp{static_cast<std::int64_t>(random() % 20'000)};
        b.clock->set(now);
      }
      if (b.loop->latest(latest)) {
        ASSERT_LE(latest.completed_at, now) << "latest() shows a result from the future";
        ASSERT_LE(latest.published_at, now);
      }
      observed.push_back({now, b.loop->features().last_published_seq(),
                          b.loop->latest(latest) ? latest.feature_seq : 0});
    }
    b.loop->stop();
    const LoopStats stats = b.loop->stats();
    ASSERT_EQ(stats.snapshots_published, stats.dispatched + stats.conflated + stats.discarded_at_stop);
    ASSERT_EQ(stats.dispatched, stats.predictions + stats.errors);
    ASSERT_EQ(stats.predictions, b.results.size() + stats.stale_results);

    // Snapshots are dispatched in feature_seq order, so the k-th smallest
    // computed seq took the sampler's k-th latency.
    std::vector<std::uint64_t> computed = b.recorder.computed;
    std::sort(computed.begin(), computed.end());
    ASSERT_EQ(computed.size(), stats.dispatched);
    LatencySampler sampler = model.sampler(seed);
    std::map<std::uint64_t, Timestamp> latency_of;
    for (std::uint64_t seq : computed) latency_of[seq] = sampler.next();

    std::map<std::uint32_t, Timestamp> replica_free;  // per replica: end of its last result
    std::uint64_t previous_seq = 0;
    for (const Prediction& p : b.results) {
      ASSERT_TRUE(latency_of.count(p.feature_seq)) << "result for a snapshot never computed";
      ASSERT_GE(p.started_at, p.published_at);
      ASSERT_EQ(p.completed_at, p.started_at + latency_of[p.feature_seq])
          << "feature_seq " << p.feature_seq;
      ASSERT_GE(p.completed_at, p.published_at + latency_of[p.feature_seq]);
      ASSERT_GT(p.feature_seq, previous_seq) << "results out of order";
      previous_seq = p.feature_seq;
      ASSERT_LT(p.replica_id, static_cast<std::uint32_t>(replicas));
      ASSERT_EQ(p.value(0, 0), 3.0F * static_cast<float>(p.feature_seq));
    }
    // One prediction at a time per replica.
    std::vector<const Prediction*> by_start;
    for (const Prediction& p : b.results) by_start.push_back(&p);
    std::sort(by_start.begin(), by_start.end(),
              [](auto* a, auto* c) { return a->started_at < c->started_at; });
    for (const Prediction* p : by_start) {
      auto it = replica_free.find(p->replica_id);
      if (it != replica_free.end()) {
        ASSERT_GE(p->started_at, it->second);
      }
      replica_free[p->replica_id] = p->completed_at;
    }
    // latest() was always the newest result visible at that moment.
    for (const Observation& o : observed) {
      std::uint64_t newest = 0;
      for (const Prediction& p : b.results) {
        if (p.completed_at <= o.now && p.feature_seq <= o.published) {
          newest = std::max(newest, p.feature_seq);
        }
      }
      ASSERT_EQ(o.latest, newest) << "at " << o.now.count() << "ns";
    }
  }
}

// ---- determinism ------------------------------------------------------------

// Every field of a result, values as bits, on one line.
std::string describe(const Prediction& p) {
  std::ostringstream out;
  out << p.feature_seq << ' ' << p.feature_time.count() << ' ' << p.published_at.count() << ' '
      << p.started_at.count() << ' ' << p.completed_at.count() << ' ' << p.model_version << ' '
      << p.replica_id << ' ' << p.rows << 'x' << p.cols;
  for (float v : p.values()) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    out << ' ' << bits;
  }
  out << '\n';
  return out.str();
}

// Every field of every delivered result, values as bits.
std::string result_stream(int replicas, std::size_t threads, const LatencyModel& model) {
  BacktestOptions options = with_latency(model, threads, 42);
  options.max_batch_snapshots = 16;
  Backtest b(replicas, options, 3);
  std::mt19937_64 random(7);
  Timestamp now{1'700'000'000'000'000'000};
  Prediction latest = b.loop->make_prediction();
  for (int event = 0; event < 3000; ++event) {
    now += Timestamp{static_cast<std::int64_t>(random() % 30'000)};
    b.publish_at(now, 1 + random() % 3);
    if (event % 5 == 0) (void)b.loop->latest(latest);
  }
  b.clock->set(*b.loop->backtest_idle_at());
  b.loop->stop();
  std::ostringstream out;
  const LoopStats s = b.loop->stats();
  out << s.dispatched << ' ' << s.conflated << ' ' << s.stale_results << ' ' << s.discarded_at_stop
      << '\n';
  for (const Prediction& p : b.results) out << describe(p);
  return out.str();
}

TEST(BacktestDeterminism, SameStreamForAnyNumberOfComputeThreads) {
  const LatencyModel model = LatencyModel::lognormal(us(40), us(15));
  for (int replicas : {1, 4}) {
    SCOPED_TRACE(std::to_string(replicas) + " replicas");
    const std::string reference = result_stream(replicas, 1, model);
    EXPECT_GT(std::count(reference.begin(), reference.end(), '\n'), 100);
    EXPECT_EQ(result_stream(replicas, 1, model), reference);
    EXPECT_EQ(result_stream(replicas, 2, model), reference);
    EXPECT_EQ(result_stream(replicas, 8, model), reference);
  }
}

TEST(BacktestDeterminism, TheSeedChoosesTheLatencies) {
  const LatencyModel model = LatencyModel::lognormal(us(40), us(15));
  LatencySampler a = model.sampler(1), b = model.sampler(1), c = model.sampler(2);
  bool differs = false;
  double sum = 0;
  for (int i = 0; i < 20000; ++i) {
    const Timestamp x = a.next();
    ASSERT_EQ(x, b.next());
    ASSERT_GE(x.count(), 0);
    differs |= x != c.next();
    sum += static_cast<double>(x.count());
  }
  EXPECT_TRUE(differs);
  // The mean is the latency's own mean (not its log's): 40us within 2%.
  EXPECT_NEAR(sum / 20000.0, 40'000.0, 800.0);
}

// ---- errors -----------------------------------------------------------------

TEST(BacktestErrors, ANonSimulatedClockIsRefusedByStart) {
  PredictorRegistry registry;
  Recorder recorder;
  registry.add("Recording", [&](const PredictorContext&) {
    return std::make_unique<RecordingPredictor>(recorder);
  });
  InferenceConfig config;
  config.model_uri = "fake://model";
  config.predictor_class_name = "Recording";
  LoopOptions options;
  options.registry = &registry;
  options.resolver = [](const std::string& uri) {
    ResolvedModel model;
    model.uri = uri;
    return model;
  };
  options.backtest = BacktestOptions{};
  InferenceLoop loop(config, std::move(options));  // default clock: the system clock
  try {
    loop.start();
    FAIL() << "start() accepted the system clock in backtest mode";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("backtest mode needs a simulated clock"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("ManualClock"), std::string::npos) << e.what();
  }
}

std::string parse_error(std::string_view spec) {
  try {
    (void)LatencyModel::parse(spec);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(BacktestErrors, BadLatencySpecsSayWhatIsWrongAndShowValidOnes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "unknown latency model ''"},
      {"gaussian:1us", "unknown latency model 'gaussian'"},
      {"constant", "'constant' needs an argument"},
      {"constant:50", "add a unit"},
      {"constant:-5us", "cannot be negative"},
      {"lognormal:40us", "needs MEAN,STDDEV"},
      {"lognormal:0us,1us", "mean must be above 0"},
      {"lognormal:40us,abc", "lognormal stddev"},
      {"zero:1us", "'zero' takes no argument"},
      {"replay:/no/such/latencies.csv", "/no/such/latencies.csv: cannot open"},
  };
  for (const auto& [spec, reason] : cases) {
    const std::string message = parse_error(spec);
    EXPECT_NE(message.find(reason), std::string::npos) << spec << " -> " << message;
    if (!spec.starts_with("replay:")) {
      EXPECT_NE(message.find("constant:50us, lognormal:40us,15us"), std::string::npos) << message;
    }
  }
}

TEST(BacktestLatencyModel, ParsesEachKind) {
  EXPECT_EQ(LatencyModel::parse("zero").describe(), "zero");
  EXPECT_EQ(LatencyModel::parse("constant:50us").describe(), "constant:50us");
  EXPECT_EQ(LatencyModel::parse("constant:1.5ms").describe(), "constant:1500us");
  EXPECT_EQ(LatencyModel::parse("lognormal:40us,15us").describe(), "lognormal:40us,15us");
  LatencySampler constant = LatencyModel::parse("constant:250ns").sampler(9);
  EXPECT_EQ(constant.next(), 250ns);
}

TEST(BacktestLatencyModel, ReplaysTheLatenciesOfAResultsFileAndCycles) {
  const auto file = std::filesystem::path(::testing::TempDir()) / "inferloop-replay-latencies.csv";
  {
    std::ofstream out(file);
    out << "feature_seq,feature_time_ns,published_at_ns,started_at_ns,completed_at_ns,"
           "model_version,replica_id,row,prediction\n"
        << "1,0,100,150,1150,1,0,0,0.5\n"
        << "3,0,300,300,2300,1,1,0,0.5\n"
        << "3,0,300,300,2300,1,1,1,0.25\n"  // row 1 of the same result: no new latency
        << "4,0,400,410,420,1,0,0,0.5\n";
  }
  const LatencyModel model = LatencyModel::parse("replay:" + file.string());
  EXPECT_EQ(model.kind(), LatencyModel::Kind::kReplay);
  LatencySampler sampler = model.sampler(1);
  for (Timestamp want : {1000ns, 2000ns, 10ns, 1000ns, 2000ns}) EXPECT_EQ(sampler.next(), want);

  std::ofstream(file) << "feature_seq,completed_at_ns\n1,5\n";
  EXPECT_NE(parse_error("replay:" + file.string()).find("no 'started_at_ns' column"),
            std::string::npos);
  std::ofstream(file) << "feature_seq,started_at_ns,completed_at_ns\n1,5,x\n";
  EXPECT_NE(parse_error("replay:" + file.string()).find(":2: column 3 ('completed_at_ns')"),
            std::string::npos);
  std::filesystem::remove(file);
}

// ---- bounded latencies and simulated time ---------------------------------

TEST(BacktestLatencyModel, LatenciesLongerThanADayAreRefused) {
  for (const char* spec : {"constant:9223372036854775807ns", "constant:86401s",
                           "lognormal:86401s,1s", "lognormal:1s,100000s"}) {
    const std::string message = parse_error(spec);
    EXPECT_NE(message.find("at most 86400s"), std::string::npos) << spec << " -> " << message;
  }
  EXPECT_EQ(LatencyModel::parse("constant:86400s").sampler(1).next(), 24h);
  EXPECT_THROW((void)LatencyModel::constant(Timestamp::max()), Error);
  EXPECT_THROW((void)LatencyModel::lognormal(1us, Timestamp::max()), Error);
  EXPECT_THROW((void)LatencyModel::replay({1us, 25h}), Error);
  EXPECT_EQ(LatencyModel::replay({1us, 24h, 3us}).max_latency(), 24h);
}

TEST(BacktestLatencyModel, LognormalDrawsSaturateAtADay) {
  // Mean and spread of a day: about a third of the draws would be longer.
  const LatencyModel model = LatencyModel::parse("lognormal:86400s,86400s");
  EXPECT_EQ(model.max_latency(), LatencyModel::kMaxLatency);
  LatencySampler sampler = model.sampler(7);
  int saturated = 0;
  for (int i = 0; i < 10'000; ++i) {
    const Timestamp latency = sampler.next();
    ASSERT_GE(latency, 0ns);
    ASSERT_LE(latency, 24h);
    if (latency == 24h) ++saturated;
  }
  EXPECT_GT(saturated, 1000);
  // The widest spread on the smallest mean: every draw finite and in range.
  LatencySampler wide = LatencyModel::lognormal(1ns, 24h).sampler(3);
  for (int i = 0; i < 10'000; ++i) {
    const Timestamp latency = wide.next();
    ASSERT_GE(latency, 0ns);
    ASSERT_LE(latency, 24h);
  }
}

TEST(BacktestLatencyModel, AReplayedLatencyThatOverflowsIsRefused) {
  const auto file = std::filesystem::path(::testing::TempDir()) / "inferloop-replay-overflow.csv";
  // completed - started is 2^64 - 1: it used to wrap to -1.
  std::ofstream(file) << "feature_seq,started_at_ns,completed_at_ns\n"
                      << "1,-9223372036854775808,9223372036854775807\n";
  EXPECT_NE(parse_error("replay:" + file.string())
                .find(":2: completed_at_ns 9223372036854775807 - started_at_ns "
                      "-9223372036854775808 is longer than 86400s"),
            std::string::npos);
  std::ofstream(file) << "feature_seq,started_at_ns,completed_at_ns\n1,0,86400000000001\n";
  EXPECT_NE(parse_error("replay:" + file.string()).find("is longer than 86400s"), std::string::npos);
  std::ofstream(file) << "feature_seq,started_at_ns,completed_at_ns\n1,0,99999999999999999999\n";
  EXPECT_NE(parse_error("replay:" + file.string())
                .find(":2: column 3 ('completed_at_ns'): expected an integer in "
                      "[-9223372036854775808, 9223372036854775807], found '99999999999999999999'"),
            std::string::npos);
  std::filesystem::remove(file);
}

TEST(BacktestLatencyModel, HugeSpecsAreQuotedBounded) {
  const std::string message = parse_error("gaussian" + std::string(100'000, 'x') + ":1us");
  EXPECT_NE(message.find("(100012 bytes)"), std::string::npos) << message.substr(0, 300);
  EXPECT_LT(message.size(), 1000u);
}

TEST(BacktestTime, APublishTooCloseToTheEndOfTimeIsAnErrorNotANegativeTime) {
  Backtest b(1, with_latency(LatencyModel::constant(1ms)));
  b.publish_at(us(10));
  // 2 ms before the end: a snapshot started up to 1 ms late and visible 1 ms
  // later still fits.
  const Timestamp fits = Timestamp::max() - 2ms;
  b.publish_at(fits);
  // Half a millisecond before the end: a 1 ms latency would wrap to a
  // negative completed_at.
  b.clock->set(Timestamp::max() - 500us);
  const std::vector<float> values(3, 3.0F);
  // feature_time is only copied, never added to: the end of time is fine.
  (void)b.loop->features().publish(values, Timestamp::max());
  b.loop->stop();

  ASSERT_EQ(b.results.size(), 2U);
  for (const Prediction& result : b.results) {
    EXPECT_GE(result.completed_at, result.started_at);
    EXPECT_GE(result.started_at, result.published_at);
    EXPECT_GT(result.completed_at.count(), 0);
  }
  EXPECT_EQ(b.results[1].completed_at, fits + 1ms);
  // Refused on arrival, so it never became a prediction: a source error.
  const LoopStats stats = b.loop->stats();
  EXPECT_EQ(stats.source_errors, 1U);
  EXPECT_EQ(stats.errors, 0U);
  ASSERT_TRUE(b.loop->last_error().has_value());
  EXPECT_NE(b.loop->last_error()->message.find(
                "backtest: could not take snapshot 3: arriving at " +
                std::to_string((Timestamp::max() - 500us).count()) +
                "ns, its result could become visible up to 2ms later (twice the latency model's "
                "longest latency), past the largest time a Timestamp holds"),
            std::string::npos)
      << b.loop->last_error()->message;
}

TEST(BacktestTime, AManualClockSaturatesAtTheEndOfTime) {
  ManualClock clock(Timestamp::max() - 5ns);
  clock.advance(10ns);
  EXPECT_EQ(clock.now(), Timestamp::max());
  clock.advance(Timestamp::max());
  EXPECT_EQ(clock.now(), Timestamp::max());
}

// ---- replay(): a whole backtest in one call ---------------------------------

namespace replay_tests {

struct ReplayRun {
  std::vector<std::uint64_t> seqs;
  std::vector<std::uint32_t> rows;
  std::vector<float> values;
  std::vector<std::int64_t> completed_at;
  ReplaySummary summary;
};

ReplayRun run_replay(std::size_t threads, std::size_t max_rows, const std::vector<std::int64_t>& times,
                     const std::vector<float>& features,
                     LatencyModel latency = LatencyModel::lognormal(us(30), us(20))) {
  Recorder recorder;
  PredictorRegistry registry;
  registry.add("Recording", [&recorder](const PredictorContext&) {
    return std::make_unique<RecordingPredictor>(recorder);
  });
  InferenceConfig config;
  config.model_uri = "fake://model";
  config.predictor_class_name = "Recording";
  config.num_replicas = 2;
  config.max_rows = max_rows;
  LoopOptions base;
  base.registry = &registry;
  base.resolver = [](const std::string& uri) {
    ResolvedModel model;
    model.uri = uri;
    return model;
  };
  ReplayRun run;
  run.summary = replay(config, with_latency(std::move(latency), threads, 9),
                       {times, features, 3},
                       [&](const Prediction& p) {
                         run.seqs.push_back(p.feature_seq);
                         run.rows.push_back(p.rows);
                         run.completed_at.push_back(p.completed_at.count());
                         run.values.insert(run.values.end(), p.values().begin(), p.values().end());
                       },
                       base);
  return run;
}

TEST(Replay, ResultsAreTheSameForAnyNumberOfComputeThreads) {
  std::vector<std::int64_t> times;
  std::vector<float> features;
  for (int row = 0; row < 3000; ++row) {
    times.push_back(row * 10'000);  // 10 us apart: the 30 us latency conflates some
    for (int c = 0; c < 3; ++c) features.push_back(static_cast<float>(row + 1));
  }
  const ReplayRun one = run_replay(1, 1, times, features);
  ASSERT_GT(one.seqs.size(), 100U);
  EXPECT_GT(one.summary.stats.conflated, 0U);
  EXPECT_EQ(one.summary.rows, 3000U);
  EXPECT_EQ(one.summary.snapshots, 3000U);
  for (std::size_t threads : {2U, 4U}) {
    const ReplayRun many = run_replay(threads, 1, times, features);
    EXPECT_EQ(many.seqs, one.seqs) << threads;
    EXPECT_EQ(many.values, one.values) << threads;
    EXPECT_EQ(many.completed_at, one.completed_at) << threads;
  }
  // Every value is its own row's (features all equal feature_seq here).
  for (std::size_t i = 0; i < one.seqs.size(); ++i) {
    EXPECT_EQ(one.values[2 * i], 3.0F * static_cast<float>(one.seqs[i]));
  }
  // The last snapshot's prediction is kept: the replay runs until idle.
  EXPECT_EQ(one.seqs.back(), 3000U);
  EXPECT_EQ(one.summary.stats.discarded_at_stop, 0U);
}

TEST(Replay, RowsWithOneTimestampFormSnapshotsOfAtMostMaxRows) {
  const std::vector<std::int64_t> times{0, 0, 0, 5'000'000, 9'000'000, 9'000'000};
  std::vector<float> features;
  for (int row = 1; row <= 6; ++row) {  // RecordingPredictor refuses 0 (fail_seq)
    for (int c = 0; c < 3; ++c) features.push_back(static_cast<float>(row));
  }
  const ReplayRun run = run_replay(1, 2, times, features, LatencyModel::zero());
  // 0,0 | 0 | 5 | 9,9: four snapshots of 2, 1, 1 and 2 rows (zero latency:
  // each is visible the instant it is published, none stale).
  EXPECT_EQ(run.summary.snapshots, 4U);
  EXPECT_EQ(run.rows, (std::vector<std::uint32_t>{2, 1, 1, 2}));
  EXPECT_EQ(run.summary.stats.errors, 0U);
}

TEST(Replay, ABackwardTimestampOrAWrongWidthIsAClearError) {
  const std::vector<float> six(6, 1.0F);
  try {
    (void)run_replay(1, 1, {5, 4}, six);
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("row 1 has timestamp 4 ns, before the previous row's 5"),
              std::string::npos)
        << error.what();
  }
  try {
    (void)run_replay(1, 1, {5, 6, 7}, six);
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("3 timestamps need 3 x 3 feature values, found 6"),
              std::string::npos)
        << error.what();
  }
}

// replay() predicts a whole replay in rounds (BacktestDriver::replay_all);
// publishing the same rows one snapshot at a time into a backtest loop is the
// reference it must equal: every delivered result (all fields, values as
// bits), every error, every counter.
struct Streams {
  std::string results;
  std::string errors;
  std::string stats;
};

std::string describe_stats(const LoopStats& s) {
  std::ostringstream out;
  out << "published " << s.snapshots_published << " dispatched " << s.dispatched << " conflated "
      << s.conflated << " discarded " << s.discarded_at_stop << " predictions " << s.predictions
      << " stale " << s.stale_results << " errors " << s.errors << " queue_wait "
      << s.queue_wait.count << '/' << s.queue_wait.p50.count() << '/' << s.queue_wait.max.count()
      << " predict " << s.predict.count << '/' << s.predict.p50.count() << '/'
      << s.predict.max.count() << " visible " << s.publish_to_visible.count << '/'
      << s.publish_to_visible.p99.count();
  return out.str();
}

struct Scenario {
  int replicas = 1;
  std::size_t threads = 1;
  std::size_t max_rows = 1;
  LatencyModel latency;
  std::size_t replay_batch_rows = 0;
  std::size_t max_batch_snapshots = 64;
  std::uint64_t fail_row = 0;  // 1-based row whose snapshot's predict() throws; 0: none
};

struct ReplaySetup {
  explicit ReplaySetup(const Scenario& scenario) {
    recorder.fail_seq = scenario.fail_row;
    registry.add("Recording", [this](const PredictorContext&) {
      return std::make_unique<RecordingPredictor>(recorder);
    });
    config.model_uri = "fake://model";
    config.predictor_class_name = "Recording";
    config.num_replicas = scenario.replicas;
    config.max_rows = scenario.max_rows;
    backtest = with_latency(scenario.latency, scenario.threads, 5);
    backtest.replay_batch_rows = scenario.replay_batch_rows;
    backtest.max_batch_snapshots = scenario.max_batch_snapshots;
    options.registry = &registry;
    options.resolver = [](const std::string& uri) {
      ResolvedModel model;
      model.uri = uri;
      return model;
    };
    options.on_error = [this](const LoopError& e) {
      streams.errors += std::to_string(e.feature_seq) + ' ' + std::to_string(e.replica_id) + ' ' +
                        std::to_string(e.at.count()) + ' ' + e.message + '\n';
    };
  }
  Recorder recorder;
  PredictorRegistry registry;
  InferenceConfig config;
  BacktestOptions backtest;
  LoopOptions options;
  Streams streams;
};

// Rows 0..30 us apart, a fifth of them at the previous row's time (so
// multi-row snapshots form when max_rows > 1); row r's features are r + 1.
void make_rows(std::size_t count, std::vector<std::int64_t>& times, std::vector<float>& features) {
  std::mt19937_64 random(11);
  std::int64_t now = 1'700'000'000'000'000'000;
  for (std::size_t row = 0; row < count; ++row) {
    if (random() % 5 != 0) now += static_cast<std::int64_t>(random() % 30'000);
    times.push_back(now);
    for (int c = 0; c < 3; ++c) features.push_back(static_cast<float>(row + 1));
  }
}

Streams replayed(const Scenario& scenario, const std::vector<std::int64_t>& times,
                 const std::vector<float>& features) {
  ReplaySetup setup(scenario);
  const ReplaySummary summary =
      replay(setup.config, setup.backtest, {times, features, 3},
             [&](const Prediction& p) { setup.streams.results += describe(p); }, setup.options);
  setup.streams.stats = describe_stats(summary.stats) + " idle_at " +
                        std::to_string(summary.idle_at.count()) + " snapshots " +
                        std::to_string(summary.snapshots);
  return setup.streams;
}

Streams published_one_by_one(const Scenario& scenario, const std::vector<std::int64_t>& times,
                             const std::vector<float>& features) {
  ReplaySetup setup(scenario);
  auto clock = std::make_shared<ManualClock>(Timestamp{times.front()});
  setup.options.clock = clock;
  setup.options.backtest = setup.backtest;
  setup.options.on_result = [&](const Prediction& p) { setup.streams.results += describe(p); };
  InferenceLoop loop(setup.config, std::move(setup.options));
  loop.start();
  std::uint64_t snapshots = 0;
  for (std::size_t first = 0; first < times.size();) {
    std::size_t count = 1;
    while (first + count < times.size() && count < scenario.max_rows &&
           times[first + count] == times[first]) {
      ++count;
    }
    const Timestamp at{times[first]};
    clock->set(at);
    EXPECT_NE(loop.features().publish(std::span<const float>(features).subspan(first * 3, count * 3), at), 0U);
    ++snapshots;
    first += count;
  }
  const Timestamp idle_at = *loop.backtest_idle_at();
  clock->set(idle_at);
  loop.stop();
  setup.streams.stats = describe_stats(loop.stats()) + " idle_at " + std::to_string(idle_at.count()) +
                        " snapshots " + std::to_string(snapshots);
  return setup.streams;
}

// Every combination the replay comparisons run (replicas, compute threads,
// rows per snapshot, latency model, replay batch rows: 72), each with a
// failing row and its trace; `check` gets the scenario and the rows (2,500,
// make_rows). Returns how many scenarios ran.
using Times = std::vector<std::int64_t>;
using Features = std::vector<float>;
template <typename Check>
std::size_t for_each_scenario(Check&& check) {
  Times times;
  Features features;
  make_rows(2500, times, features);
  const LatencyModel latencies[] = {LatencyModel::zero(), LatencyModel::constant(us(25)),
                                    LatencyModel::lognormal(us(30), us(20))};
  std::size_t index = 0;
  for (int replicas : {1, 3}) {
    for (std::size_t threads : {1U, 3U}) {
      for (std::size_t max_rows : {1U, 3U}) {
        for (const LatencyModel& latency : latencies) {
          for (std::size_t batch_rows : {1U, 7U, 0U}) {
            Scenario scenario{replicas, threads, max_rows, latency, batch_rows};
            // A failure in every run; in every fifth, the very last row's
            // (the newest snapshot fails: an older result stays visible).
            scenario.fail_row = index % 5 == 0 ? times.size() : 1000 + 17 * index;
            scenario.max_batch_snapshots = index % 4 == 0 ? 1 : 64;
            SCOPED_TRACE(std::to_string(replicas) + " replicas, " + std::to_string(threads) +
                         " threads, max_rows " + std::to_string(max_rows) + ", " +
                         latency.describe() + ", replay_batch_rows " + std::to_string(batch_rows) +
                         ", max_batch_snapshots " + std::to_string(scenario.max_batch_snapshots) +
                         ", failing row " + std::to_string(scenario.fail_row));
            check(scenario, times, features);
            ++index;
          }
        }
      }
    }
  }
  return index;
}

TEST(Replay, RoundsGiveWhatPublishingEachSnapshotGives) {
  std::size_t with_error = 0;
  const std::size_t checked = for_each_scenario([&](const Scenario& scenario, const Times& times,
                                                    const Features& features) {
    const Streams reference = published_one_by_one(scenario, times, features);
    const Streams rounds = replayed(scenario, times, features);
    ASSERT_GT(std::count(reference.results.begin(), reference.results.end(), '\n'), 300);
    // The failing row's snapshot fails once, unless it was conflated.
    const auto errors = std::count(reference.errors.begin(), reference.errors.end(), '\n');
    ASSERT_LE(errors, 1) << reference.errors;
    with_error += static_cast<std::size_t>(errors);
    EXPECT_EQ(rounds.stats, reference.stats);
    EXPECT_EQ(rounds.errors, reference.errors);
    EXPECT_EQ(rounds.results, reference.results);
  });
  EXPECT_EQ(checked, 72U);
  EXPECT_GT(with_error, 36U);
}

// Without on_result (and without history) a replay shows only the newest
// result of each round in the ResultSlot and counts the rest
// (Delivery::count_unobserved): the counters, latencies and errors must
// still be the reference's, and the result left visible its newest.
struct QuietReplay {
  Streams streams;
  std::string latest;  // describe() of the visible result after the replay
};

QuietReplay replayed_without_callback(const Scenario& scenario, const std::vector<std::int64_t>& times,
                                      const std::vector<float>& features) {
  ReplaySetup setup(scenario);
  auto clock = std::make_shared<ManualClock>(Timestamp{times.front()});
  setup.options.clock = clock;
  setup.options.backtest = setup.backtest;
  InferenceLoop loop(setup.config, std::move(setup.options));
  loop.start();
  const auto end = detail::LoopAccess::replay(loop, times, features);
  clock->set(end.idle_at);
  loop.stop();
  QuietReplay out;
  Prediction latest = loop.make_prediction();
  if (loop.latest(latest)) out.latest = describe(latest);
  out.streams = std::move(setup.streams);
  out.streams.stats = describe_stats(loop.stats()) + " idle_at " +
                      std::to_string(end.idle_at.count()) + " snapshots " +
                      std::to_string(end.snapshots);
  return out;
}

TEST(Replay, WithoutCallbackCountsEveryResultAndShowsTheNewest) {
  std::size_t with_stale = 0;
  const std::size_t checked = for_each_scenario([&](const Scenario& scenario, const Times& times,
                                                    const Features& features) {
    const Streams reference = published_one_by_one(scenario, times, features);
    const QuietReplay quiet = replayed_without_callback(scenario, times, features);
    EXPECT_EQ(quiet.streams.stats, reference.stats);
    EXPECT_EQ(quiet.streams.errors, reference.errors);
    // The reference's last delivered result is its newest visible one.
    ASSERT_FALSE(reference.results.empty());
    const std::string newest =
        reference.results.substr(reference.results.rfind('\n', reference.results.size() - 2) + 1);
    EXPECT_EQ(quiet.latest, newest);
    with_stale += reference.stats.find(" stale 0 ") == std::string::npos ? 1 : 0;
  });
  EXPECT_EQ(checked, 72U);
  EXPECT_GT(with_stale, 0U);  // results overtaken by newer ones were counted stale
}

TEST(Replay, PredictsInCallsOfReplayBatchRows) {
  std::vector<std::int64_t> times;
  std::vector<float> features;
  for (int row = 0; row < 3000; ++row) {
    times.push_back(row * 1000);
    for (int c = 0; c < 3; ++c) features.push_back(static_cast<float>(row + 1));
  }
  auto call_rows = [&](std::size_t threads, std::size_t replay_batch_rows,
                       std::size_t max_batch_snapshots) {
    Scenario scenario{1, threads, 1, LatencyModel::zero(), replay_batch_rows};
    scenario.max_batch_snapshots = max_batch_snapshots;
    ReplaySetup setup(scenario);
    const ReplaySummary summary =
        replay(setup.config, setup.backtest, {times, features, 3}, nullptr, setup.options);
    EXPECT_EQ(summary.stats.predictions, 3000U);
    std::vector<std::size_t> calls = setup.recorder.call_rows;
    std::sort(calls.begin(), calls.end());
    return calls;
  };
  // Zero latency, one replica: every row is dispatched, in calls of
  // replay_batch_rows rows (a round holds 4 calls per thread). With two
  // threads, once fewer rows are left than a call per thread, each call
  // takes the rows left / 2, down to replay_batch_rows / 8: 3,000 rows of
  // 1,000 are 1000, 1000, then 500, 250, 125, 125; of 700 (smallest 87)
  // 700, 700, 700, then 450, 225, 112, 87 and the last 26.
  EXPECT_EQ(call_rows(1, 1000, 64), (std::vector<std::size_t>{1000, 1000, 1000}));
  EXPECT_EQ(call_rows(2, 1000, 64), (std::vector<std::size_t>{125, 125, 250, 500, 1000, 1000}));
  EXPECT_EQ(call_rows(2, 700, 64), (std::vector<std::size_t>{26, 87, 112, 225, 450, 700, 700, 700}));
  EXPECT_EQ(call_rows(1, 0, 64), (std::vector<std::size_t>{3000}));  // default: 8,192 rows
  // max_batch_snapshots 1: each snapshot alone, as when publishing.
  EXPECT_EQ(call_rows(2, 1000, 1), std::vector<std::size_t>(3000, 1));
}

// A predictor whose call that holds the row `gate_row` waits until a call
// of a later row has started (on another thread), for at most 10 s.
struct Gate {
  std::mutex mutex;
  std::condition_variable later_call_started;
  std::size_t gate_row = 0;
  bool later_started = false;  // guarded by mutex
  bool opened = false;         // the gated call saw a later one start; guarded by mutex
};

class GatedPredictor final : public Predictor {
 public:
  explicit GatedPredictor(Gate& gate) : gate_(gate) {}
  std::size_t num_features() const noexcept override { return 3; }
  std::size_t num_outputs() const noexcept override { return 2; }
  std::string describe() const override { return "GatedPredictor"; }
  void warm_up() override {}
  void predict(std::span<const float> features, std::size_t rows, std::span<float> out) override {
    const auto first = static_cast<std::size_t>(features[0]);
    const auto last = static_cast<std::size_t>(features[(rows - 1) * 3]);
    {
      std::unique_lock lock(gate_.mutex);
      if (first > gate_.gate_row) {
        gate_.later_started = true;
        gate_.later_call_started.notify_all();
      } else if (last >= gate_.gate_row) {
        gate_.opened = gate_.later_call_started.wait_for(lock, std::chrono::seconds(10),
                                                         [&] { return gate_.later_started; });
      }
    }
    std::fill(out.begin(), out.end(), 0.0F);
  }

 private:
  Gate& gate_;
};

// The compute threads go on to the next round while the last call of a
// round still runs: with two threads and rounds of 2 x 4 x 100 rows, the
// call that holds row 800 (the first round's last) returns only once a call
// of a later row has started on the other thread.
TEST(Replay, ComputeThreadsGoOnToTheNextRoundWhileARoundsLastCallRuns) {
  std::vector<std::int64_t> times;
  std::vector<float> features;
  for (int row = 0; row < 3000; ++row) {
    times.push_back(row * 1000);
    for (int c = 0; c < 3; ++c) features.push_back(static_cast<float>(row + 1));
  }
  Gate gate;
  gate.gate_row = 800;
  ReplaySetup setup(Scenario{1, 2, 1, LatencyModel::zero(), 100});
  setup.registry.add("Gated", [&gate](const PredictorContext&) {
    return std::make_unique<GatedPredictor>(gate);
  });
  setup.config.predictor_class_name = "Gated";
  const ReplaySummary summary =
      replay(setup.config, setup.backtest, {times, features, 3}, nullptr, setup.options);
  EXPECT_EQ(summary.stats.predictions, 3000U);
  std::lock_guard lock(gate.mutex);
  EXPECT_TRUE(gate.opened) << "the first round's last call waited 10 s: nothing of the next "
                              "round started beside it";
}

TEST(Replay, AGpuDeviceGetsCallsOfAMillionRowsByDefault) {
  std::vector<std::int64_t> times;
  std::vector<float> features;
  for (int row = 0; row < 20000; ++row) {
    times.push_back(row * 1000);
    for (int c = 0; c < 3; ++c) features.push_back(static_cast<float>(row + 1));
  }
  auto call_rows = [&](const char* device) {
    ReplaySetup setup(Scenario{1, 1, 1, LatencyModel::zero()});
    setup.config.device = device;  // the fake predictor ignores it; the replay does not
    (void)replay(setup.config, setup.backtest, {times, features, 3}, nullptr, setup.options);
    std::vector<std::size_t> calls = setup.recorder.call_rows;
    std::sort(calls.begin(), calls.end());
    return calls;
  };
  EXPECT_EQ(call_rows("cpu"), (std::vector<std::size_t>{3616, 8192, 8192}));
  EXPECT_EQ(call_rows("cuda"), (std::vector<std::size_t>{20000}));
  EXPECT_EQ(call_rows("cuda:3"), (std::vector<std::size_t>{20000}));
}

}  // namespace replay_tests

}  // namespace
}  // namespace inferloop
