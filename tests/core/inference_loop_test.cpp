// InferenceLoop driven by FakePredictor: the loop's own behaviour
// (dispatch, conflation, ordering, errors, stop) with no model involved.
#include "inferloop/inference_loop.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_predictor.hpp"
#include "inferloop/error.hpp"
#include "stress.hpp"

namespace inferloop {
namespace {

using namespace std::chrono_literals;
using testing::FakeBehaviour;
using testing::fake_config;
using testing::fake_model;
using testing::fake_registry;
using testing::Gate;

constexpr auto kWait = 10s;  // generous: only a broken loop ever hits it

struct LoopFixture {
  explicit LoopFixture(InferenceConfig config, LoopOptions extra = {}) {
    registry = fake_registry(behaviour);
    extra.registry = registry.get();
    extra.resolver = fake_model;
    if (!extra.clock) extra.clock = clock;
    loop = std::make_unique<InferenceLoop>(std::move(config), std::move(extra));
  }
  // Publishes one row whose every feature equals `value`.
  std::uint64_t publish(float value, std::size_t rows = 1) {
    std::vector<float> row(rows * behaviour.num_features, value);
    return loop->features().publish(row, Timestamp{static_cast<std::int64_t>(value) * 100});
  }
  // Spins until `n` predict() calls have started (a replica is now busy).
  void await_entered(std::uint64_t n) const {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (behaviour.entered.load() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_GE(behaviour.entered.load(), n);
  }

  FakeBehaviour behaviour;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(Timestamp{1'000'000});
  std::unique_ptr<PredictorRegistry> registry;
  std::unique_ptr<InferenceLoop> loop;
};

class EveryWaitStrategy : public ::testing::TestWithParam<WaitStrategy> {};

TEST_P(EveryWaitStrategy, PredictsThePublishedSnapshot) {
  auto config = fake_config(2);
  config.wait_strategy = GetParam();
  config.interval = 200us;
  config.max_rows = 3;
  LoopFixture f(config);
  f.loop->start();
  for (int i = 1; i <= 20; ++i) {
    const auto seq = f.publish(static_cast<float>(i), 1 + i % 3);
    ASSERT_EQ(seq, static_cast<std::uint64_t>(i));
    Prediction result = f.loop->make_prediction();
    ASSERT_TRUE(f.loop->wait_for(seq, kWait, &result)) << "snapshot " << seq;
    EXPECT_EQ(result.feature_seq, seq);
    EXPECT_EQ(result.rows, static_cast<std::uint32_t>(1 + i % 3));
    EXPECT_EQ(result.cols, 2U);
    for (std::uint32_t r = 0; r < result.rows; ++r) {
      EXPECT_EQ(result.value(r, 0), 4.0F * static_cast<float>(i));
      EXPECT_EQ(result.value(r, 1), 4.0F * static_cast<float>(i) + 1.0F);
    }
    EXPECT_EQ(result.feature_time, Timestamp{i * 100});
    EXPECT_EQ(result.model_version, 1U);
  }
  f.loop->stop();
  const auto stats = f.loop->stats();
  EXPECT_EQ(stats.snapshots_published, 20U);
  EXPECT_EQ(stats.dispatched + stats.conflated + stats.discarded_at_stop, 20U);
  EXPECT_EQ(stats.dispatched, stats.predictions);
  EXPECT_EQ(stats.errors, 0U);
}

INSTANTIATE_TEST_SUITE_P(Loop, EveryWaitStrategy,
                         ::testing::Values(WaitStrategy::kSpin, WaitStrategy::kSpinThenBlock,
                                           WaitStrategy::kBlock, WaitStrategy::kInterval,
                                           WaitStrategy::kContinuous),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(InferenceLoop, TimestampsComeFromTheLoopClock) {
  LoopFixture f(fake_config());
  f.loop->start();
  f.clock->set(Timestamp{5'000'000});
  const auto seq = f.publish(1.0F);
  Prediction result = f.loop->make_prediction();
  ASSERT_TRUE(f.loop->wait_for(seq, kWait, &result));
  // The manual clock did not move while predicting: every stamp is its value.
  EXPECT_EQ(result.published_at, Timestamp{5'000'000});
  EXPECT_EQ(result.completed_at, Timestamp{5'000'000});
  EXPECT_EQ(result.feature_time, Timestamp{100});
}

TEST(InferenceLoop, LatestIsEmptyBeforeAnyResultAndNeedsABigEnoughBuffer) {
  LoopFixture f(fake_config());
  f.loop->start();
  Prediction result = f.loop->make_prediction();
  EXPECT_FALSE(f.loop->latest(result));
  EXPECT_EQ(f.loop->latest_feature_seq(), 0U);
  const auto seq = f.publish(2.0F);
  ASSERT_TRUE(f.loop->wait_for(seq, kWait));
#if !INFERLOOP_TEST_DEBUG_CHECKS
  // Release builds refuse a too-small buffer; builds with debug checks
  // abort instead (misuse_check_test.cpp).
  Prediction too_small(1);
  EXPECT_FALSE(f.loop->latest(too_small));
#endif
  EXPECT_TRUE(f.loop->latest(result));
  EXPECT_EQ(result.feature_seq, seq);
}

// One replica held busy: every snapshot published meanwhile but the newest is
// conflated, exactly.
TEST(InferenceLoop, ConflationKeepsOnlyTheNewestPendingSnapshotAndCountsTheRest) {
  Gate gate;
  LoopFixture f(fake_config(1));
  f.behaviour.gate = &gate;
  std::vector<std::uint64_t> delivered;
  std::mutex delivered_mutex;
  LoopOptions options;
  f.loop.reset();
  options.on_result = [&](const Prediction& p) {
    std::lock_guard lock(delivered_mutex);
    delivered.push_back(p.feature_seq);
  };
  options.registry = f.registry.get();
  options.resolver = fake_model;
  options.clock = f.clock;
  f.loop = std::make_unique<InferenceLoop>(fake_config(1), options);
  f.loop->start();

  gate.close();
  ASSERT_EQ(f.publish(1.0F), 1U);
  f.await_entered(1);  // the only replica is now busy with snapshot 1
  for (int i = 2; i <= 6; ++i) f.publish(static_cast<float>(i));
  gate.open();
  ASSERT_TRUE(f.loop->wait_for(6, kWait));
  f.loop->stop();

  const auto stats = f.loop->stats();
  EXPECT_EQ(stats.snapshots_published, 6U);
  EXPECT_EQ(stats.dispatched, 2U);  // 1, then the newest pending one: 6
  EXPECT_EQ(stats.conflated, 4U);   // 2, 3, 4, 5
  EXPECT_EQ(stats.discarded_at_stop, 0U);
  EXPECT_EQ(stats.predictions, 2U);
  EXPECT_EQ(delivered, (std::vector<std::uint64_t>{1, 6}));
}

// Two replicas: snapshot 1 is slow, snapshot 2 fast. 2's result becomes
// visible first; 1's must then not overwrite it.
TEST(InferenceLoop, ASlowReplicaNeverOverwritesANewerResult) {
  Gate gate;
  LoopFixture f(fake_config(2));
  f.behaviour.fail_if = nullptr;
  f.loop->start();
  gate.close();
  f.behaviour.gate = &gate;  // snapshot 1 blocks its replica
  ASSERT_EQ(f.publish(1.0F), 1U);
  f.await_entered(1);
  f.behaviour.gate = nullptr;  // snapshot 2 goes to the other replica, unblocked
  ASSERT_EQ(f.publish(2.0F), 2U);
  ASSERT_TRUE(f.loop->wait_for(2, kWait));
  gate.open();
  f.loop->stop();  // delivers snapshot 1's result, which is now stale

  Prediction result = f.loop->make_prediction();
  ASSERT_TRUE(f.loop->latest(result));
  EXPECT_EQ(result.feature_seq, 2U);
  EXPECT_EQ(result.value(), 8.0F);
  const auto stats = f.loop->stats();
  EXPECT_EQ(stats.predictions, 2U);
  EXPECT_EQ(stats.stale_results, 1U);
  EXPECT_NE(result.replica_id, 0U);  // round-robin: replica 0 had snapshot 1
}

TEST(InferenceLoop, AThrowingPredictorIsCountedReportedAndTheLoopKeepsServing) {
  LoopFixture f(fake_config(2));
  f.behaviour.fail_if = [](float v) { return static_cast<int>(v) % 3 == 0; };
  std::vector<LoopError> handled;
  std::mutex handled_mutex;
  LoopOptions options;
  options.on_error = [&](const LoopError& e) {
    std::lock_guard lock(handled_mutex);
    handled.push_back(e);
    throw std::runtime_error("a broken error handler must not stop the loop either");
  };
  options.registry = f.registry.get();
  options.resolver = fake_model;
  options.clock = f.clock;
  f.loop = std::make_unique<InferenceLoop>(fake_config(2), options);
  f.loop->start();

  int expected_errors = 0;
  for (int i = 1; i <= 30; ++i) {
    const auto seq = f.publish(static_cast<float>(i));
    if (i % 3 == 0) {
      ++expected_errors;
      // A failed snapshot produces no result: wait until its replica gave up.
      const auto deadline = std::chrono::steady_clock::now() + kWait;
      while (f.loop->stats().errors < static_cast<std::uint64_t>(expected_errors) &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
      }
    } else {
      ASSERT_TRUE(f.loop->wait_for(seq, kWait)) << "the loop stopped serving at " << seq;
    }
  }
  f.loop->stop();
  const auto stats = f.loop->stats();
  EXPECT_EQ(stats.errors, 10U);
  EXPECT_EQ(stats.predictions, 20U);
  EXPECT_EQ(stats.dispatched, 30U);
  ASSERT_EQ(handled.size(), 10U);
  EXPECT_EQ(handled.back().feature_seq, 30U);
  EXPECT_EQ(handled.back().message, "fake failure for feature value 30.000000");
  const auto last = f.loop->last_error();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->feature_seq, 30U);
  EXPECT_EQ(f.loop->latest_feature_seq(), 29U);
}

TEST(InferenceLoop, AThrowingResultCallbackDoesNotStopTheLoop) {
  FakeBehaviour behaviour;
  auto registry = fake_registry(behaviour);
  LoopOptions options;
  options.registry = registry.get();
  options.resolver = fake_model;
  std::atomic<int> calls{0};
  options.on_result = [&](const Prediction&) {
    ++calls;
    throw std::runtime_error("callback bug");
  };
  InferenceLoop loop(fake_config(), options);
  loop.start();
  std::vector<float> row(4, 1.0F);
  for (int i = 0; i < 5; ++i) {
    const auto seq = loop.features().publish(row, Timestamp{0});
    ASSERT_TRUE(loop.wait_for(seq, kWait));
  }
  loop.stop();
  EXPECT_EQ(calls.load(), 5);
  ASSERT_TRUE(loop.last_error().has_value());
  EXPECT_EQ(loop.last_error()->message, "result callback threw: callback bug");
  EXPECT_EQ(loop.stats().errors, 0U);  // the predictions themselves succeeded
}

TEST(InferenceLoop, StopDeliversInFlightPredictions) {
  LoopFixture f(fake_config(2));
  f.behaviour.delay = 100ms;
  std::atomic<std::uint64_t> delivered{0};
  LoopOptions options;
  options.registry = f.registry.get();
  options.resolver = fake_model;
  options.on_result = [&](const Prediction&) { delivered.fetch_add(1); };
  f.loop = std::make_unique<InferenceLoop>(fake_config(2), options);
  f.loop->start();
  f.publish(1.0F);
  f.await_entered(1);
  f.publish(2.0F);
  f.await_entered(2);  // both replicas are mid-prediction
  f.loop->stop();
  EXPECT_FALSE(f.loop->running());
  EXPECT_EQ(f.loop->latest_feature_seq(), 2U);
  const auto stats = f.loop->stats();
  EXPECT_EQ(stats.in_flight, 0U);
  EXPECT_EQ(stats.predictions, 2U);
  // Both finished inside stop(). Snapshot 1's result is delivered too unless
  // snapshot 2's overtook it (the threads decide), in which case it is stale.
  EXPECT_EQ(delivered.load() + stats.stale_results, 2U);
  EXPECT_GE(delivered.load(), 1U);
  f.loop->stop();  // idempotent
  EXPECT_EQ(f.loop->stats().predictions, 2U);
}

// Several replicas with uneven delays, a publisher far faster than them, and
// readers polling latest(): every result they see is internally consistent
// and feature_seq never goes backwards, for readers and for the callback.
TEST(InferenceLoop, ResultsAreMonotonicAndNeverTornUnderLoad) {
  auto config = fake_config(3);
  config.max_rows = 4;
  config.history_capacity = 16;
  FakeBehaviour behaviour;
  behaviour.delay = 20us;
  auto registry = fake_registry(behaviour);
  std::vector<std::uint64_t> callback_seqs;
  LoopOptions options;
  options.registry = registry.get();
  options.resolver = fake_model;
  options.on_result = [&](const Prediction& p) { callback_seqs.push_back(p.feature_seq); };
  InferenceLoop loop(config, options);
  loop.start();

  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> bad{0};
  std::atomic<std::uint64_t> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      Prediction p = loop.make_prediction();
      std::uint64_t last = 0;
      while (!done.load(std::memory_order_acquire)) {
        if (!loop.latest(p)) continue;
        reads.fetch_add(1, std::memory_order_relaxed);
        if (p.feature_seq < last) bad.fetch_add(1);
        last = p.feature_seq;
        const float expect = 4.0F * static_cast<float>(p.feature_seq % 100'000);
        if (p.rows != 1 + p.feature_seq % 4) bad.fetch_add(1);
        for (std::uint32_t row = 0; row < p.rows; ++row) {
          if (p.value(row, 0) != expect || p.value(row, 1) != expect + 1.0F) bad.fetch_add(1);
        }
      }
    });
  }
  const std::uint64_t publishes = 400'000 / testing::kStressScale;
  std::vector<float> values(4 * 4);
  for (std::uint64_t seq = 1; seq <= publishes; ++seq) {
    const std::size_t rows = 1 + seq % 4;
    std::fill_n(values.begin(), rows * 4, static_cast<float>(seq % 100'000));
    ASSERT_EQ(loop.features().publish(std::span<const float>(values.data(), rows * 4), Timestamp{0}), seq);
  }
  ASSERT_TRUE(loop.wait_for(publishes, kWait));
  loop.stop();
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();

  EXPECT_EQ(bad.load(), 0U);
  EXPECT_GT(reads.load(), 0U);
  ASSERT_FALSE(callback_seqs.empty());
  for (std::size_t i = 1; i < callback_seqs.size(); ++i) {
    ASSERT_LT(callback_seqs[i - 1], callback_seqs[i]) << "at " << i;
  }
  EXPECT_EQ(callback_seqs.back(), publishes);
  const auto stats = loop.stats();
  EXPECT_EQ(stats.snapshots_published, publishes);
  EXPECT_EQ(stats.dispatched + stats.conflated + stats.discarded_at_stop, publishes);
  EXPECT_EQ(stats.dispatched, stats.predictions);
  EXPECT_EQ(stats.predictions, callback_seqs.size() + stats.stale_results);
  EXPECT_GT(stats.conflated, 0U);  // the publisher outran three 20 us replicas
  const auto history = loop.history();
  const std::size_t kept = std::min<std::size_t>(16, callback_seqs.size());
  ASSERT_EQ(history.size(), kept);
  EXPECT_EQ(history.back().feature_seq, publishes);
  EXPECT_EQ(history.front().feature_seq, callback_seqs[callback_seqs.size() - kept]);
  EXPECT_EQ(stats.history_dropped, callback_seqs.size() - kept);
}

TEST(InferenceLoop, HistoryIsBoundedAndCountsWhatItDrops) {
  auto config = fake_config();
  config.history_capacity = 3;
  LoopFixture f(config);
  f.loop->start();
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(f.loop->wait_for(f.publish(static_cast<float>(i)), kWait));
  const auto history = f.loop->history();
  ASSERT_EQ(history.size(), 3U);
  EXPECT_EQ(history[0].feature_seq, 8U);
  EXPECT_EQ(history[2].feature_seq, 10U);
  EXPECT_EQ(history[2].values().size(), 2U);
  EXPECT_EQ(history[2].value(0, 0), 40.0F);
  EXPECT_EQ(f.loop->stats().history_dropped, 7U);
}

TEST(InferenceLoop, StatsReportLatencies) {
  LoopFixture f(fake_config());
  f.loop->start();
  for (int i = 1; i <= 50; ++i) ASSERT_TRUE(f.loop->wait_for(f.publish(1.0F), kWait));
  const auto stats = f.loop->stats();
  EXPECT_EQ(stats.publish_to_visible.count, 50U);
  EXPECT_EQ(stats.predict.count, 50U);
  EXPECT_EQ(stats.queue_wait.count, 50U);
  EXPECT_LE(stats.publish_to_visible.p50, stats.publish_to_visible.p99);
  EXPECT_LE(stats.publish_to_visible.p99, stats.publish_to_visible.max);
}

// The reference design's style: the loop pulls features from a callable.
TEST(InferenceLoop, PullsFromAFeatureSourceInContinuousMode) {
  FakeBehaviour behaviour;
  auto registry = fake_registry(behaviour);
  std::atomic<int> calls{0};
  LoopOptions options;
  options.registry = registry.get();
  options.resolver = fake_model;
  options.feature_source = [&](FeatureRequest& request) {
    const int n = ++calls;
    if (n % 2 == 0) return false;  // "nothing new" half the time
    if (n == 5) throw std::runtime_error("feed hiccup");
    std::fill_n(request.values.begin(), request.cols, static_cast<float>(n));
    request.rows = 1;
    request.feature_time = Timestamp{n};
    return true;
  };
  auto config = fake_config();
  config.wait_strategy = WaitStrategy::kContinuous;
  InferenceLoop loop(config, options);
  loop.start();  // waits for the source's first result
  EXPECT_GE(loop.latest_feature_seq(), 1U);
  ASSERT_TRUE(loop.wait_for(20, kWait));
  loop.stop();
  const auto stats = loop.stats();
  EXPECT_EQ(stats.source_errors, 1U);
  EXPECT_GE(stats.predictions, 20U);
  ASSERT_TRUE(loop.last_error().has_value());
  EXPECT_EQ(loop.last_error()->message, "feature source threw: feed hiccup");
  Prediction p = loop.make_prediction();
  ASSERT_TRUE(loop.latest(p));
  // Source call n wrote n into each of 4 features: the output is 4n.
  EXPECT_EQ(p.value(0, 0), 4.0F * static_cast<float>(p.feature_time.count()));
}

TEST(InferenceLoop, StartFailsClearlyWhenNoFirstResultArrives) {
  FakeBehaviour behaviour;
  behaviour.fail_if = [](float) { return true; };
  auto registry = fake_registry(behaviour);
  LoopOptions options;
  options.registry = registry.get();
  options.resolver = fake_model;
  options.feature_source = [](FeatureRequest& request) {
    std::fill_n(request.values.begin(), request.cols, 1.0F);
    return true;
  };
  auto config = fake_config();
  config.wait_strategy = WaitStrategy::kInterval;
  config.interval = 1ms;
  config.startup_timeout = 200ms;
  InferenceLoop loop(config, options);
  try {
    loop.start();
    FAIL() << "start() should have thrown";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("no first result within startup_timeout (200ms): waited for the "
                           "prediction of the feature source's first snapshot from 1 replica(s) "
                           "of 'fake://model'"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("last error: fake failure for feature value 1.000000"), std::string::npos)
        << message;
    EXPECT_NE(message.find("raise startup_timeout"), std::string::npos) << message;
  }
  EXPECT_FALSE(loop.running());
}

TEST(InferenceLoop, StartTwiceIsAnError) {
  LoopFixture f(fake_config());
  f.loop->start();
  try {
    f.loop->start();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "InferenceLoop::start() called twice: a loop starts once; make a new "
                           "InferenceLoop to start again");
  }
}

TEST(InferenceLoop, UnknownPredictorNamesTheKnownOnes) {
  auto config = fake_config();
  config.predictor_class_name = "FakePredicter";
  LoopFixture f(config);
  try {
    f.loop->start();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("known predictors: FakePredictor"), std::string::npos) << e.what();
  }
}

TEST(InferenceLoop, ConfiguredWidthMustMatchThePredictor) {
  auto config = fake_config();
  config.num_features = 3;
  LoopFixture f(config);
  try {
    f.loop->start();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "num_features is 3 in the config, but the model 'fake://model' takes 4 "
                           "features per row; fix num_features (or remove it to take the width "
                           "from the model)");
  }
}

TEST(InferenceLoop, FeaturesBeforeStartNeedTheWidth) {
  LoopFixture without_width(fake_config());
  try {
    (void)without_width.loop->features();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("set num_features in the config to publish before start()"),
              std::string::npos);
  }
  // With the width known, a snapshot published before start() is the first
  // one start() waits for.
  auto config = fake_config();
  config.num_features = 4;
  LoopFixture with_width(config);
  ASSERT_EQ(with_width.publish(3.0F), 1U);
  with_width.loop->start();
  EXPECT_EQ(with_width.loop->latest_feature_seq(), 1U);
}

TEST(InferenceLoop, AFeatureSourceNeedsAPullingWaitStrategy) {
  FakeBehaviour behaviour;
  auto registry = fake_registry(behaviour);
  LoopOptions options;
  options.registry = registry.get();
  options.resolver = fake_model;
  options.feature_source = [](FeatureRequest&) { return false; };
  try {
    InferenceLoop loop(fake_config(), options);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use wait_strategy interval or continuous with a feature source"),
              std::string::npos)
        << e.what();
  }
}

TEST(InferenceLoop, WrongWidthPublishesAreRejectedAndCounted) {
  LoopFixture f(fake_config());
  f.loop->start();
  const std::vector<float> three(3, 1.0F);
  EXPECT_EQ(f.loop->features().publish(three, Timestamp{0}), 0U);
  EXPECT_THROW(f.loop->features().publish_checked(three, Timestamp{0}), Error);
  EXPECT_EQ(f.loop->stats().snapshots_rejected, 2U);
  EXPECT_EQ(f.loop->stats().snapshots_published, 0U);
}

}  // namespace
}  // namespace inferloop
