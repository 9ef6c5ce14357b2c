// What a callback (on_result, on_error, on_model_change, the feature source,
// a resolver) may call on its own loop, and what start() throws. From inside
// a callback, stop() is a request that the owner completes; reload() and
// wait_for(), which would wait for the callback itself, are refused with an
// Error. Every other call works. docs/design.md, "Calls from callbacks".
#include "inferloop/inference_loop.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fake_predictor.hpp"
#include "inferloop/error.hpp"

namespace inferloop {
namespace {

using namespace std::chrono_literals;
using testing::FakeBehaviour;
using testing::fake_config;
using testing::fake_model;
using testing::fake_registry;

constexpr auto kWait = 10s;  // generous: only a broken loop ever hits it

// A loop on FakePredictor whose options the test fills before make().
struct CallbackFixture {
  CallbackFixture() { registry = fake_registry(behaviour); }
  InferenceLoop& make(InferenceConfig config) {
    options.registry = registry.get();
    if (!options.resolver) options.resolver = fake_model;
    if (!options.clock) options.clock = clock;
    loop = std::make_unique<InferenceLoop>(std::move(config), options);
    return *loop;
  }
  std::uint64_t publish(float value) {
    const std::vector<float> row(behaviour.num_features, value);
    return loop->features().publish(row, Timestamp{1});
  }
  // Waits (wall time) until `condition` holds; false if it never does.
  static bool eventually(const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

  FakeBehaviour behaviour;
  std::unique_ptr<PredictorRegistry> registry;
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(Timestamp{1'000});
  LoopOptions options;
  std::unique_ptr<InferenceLoop> loop;
};

void expect_counters_balance(const LoopStats& stats) {
  EXPECT_EQ(stats.snapshots_published,
            stats.dispatched + stats.conflated + stats.discarded_at_stop);
  EXPECT_EQ(stats.dispatched, stats.predictions + stats.errors);
  EXPECT_EQ(stats.in_flight, 0U);
}

class StopFromOnResult : public ::testing::TestWithParam<WaitStrategy> {};

TEST_P(StopFromOnResult, RequestsTheStopAndTheOwnerCompletesIt) {
  CallbackFixture f;
  std::atomic<int> results{0};
  f.options.on_result = [&](const Prediction&) {
    results.fetch_add(1);
    f.loop->stop();  // the replica thread: must neither abort nor deadlock
    EXPECT_FALSE(f.loop->running());
  };
  auto config = fake_config(2);
  config.wait_strategy = GetParam();
  config.interval = 200us;
  InferenceLoop& loop = f.make(config);
  loop.start();
  f.publish(1.0F);
  ASSERT_TRUE(CallbackFixture::eventually([&] { return !loop.running(); }));
  // Snapshots published after the request are not dispatched.
  for (int i = 2; i <= 50; ++i) f.publish(static_cast<float>(i));
  loop.stop();  // the owner: joins every thread
  EXPECT_FALSE(loop.running());
  EXPECT_EQ(results.load(), 1);
  const LoopStats stats = loop.stats();
  EXPECT_EQ(stats.snapshots_published, 50U);
  EXPECT_EQ(stats.predictions, 1U);
  expect_counters_balance(stats);
}

INSTANTIATE_TEST_SUITE_P(EventDriven, StopFromOnResult,
                         ::testing::Values(WaitStrategy::kSpin, WaitStrategy::kSpinThenBlock,
                                           WaitStrategy::kBlock, WaitStrategy::kInterval),
                         [](const auto& info) { return std::string(to_string(info.param)); });

TEST(StopFromCallback, TheDestructorCompletesARequestedStop) {
  CallbackFixture f;
  std::atomic<bool> requested{false};
  f.options.on_result = [&](const Prediction&) {
    f.loop->stop();
    requested = true;
  };
  f.make(fake_config(1)).start();
  f.publish(1.0F);
  ASSERT_TRUE(CallbackFixture::eventually([&] { return requested.load(); }));
  f.loop.reset();  // joins; a leaked thread would make the test runner abort
  SUCCEED();
}

TEST(StopFromCallback, FromOnErrorOnAFailingPrediction) {
  CallbackFixture f;
  f.behaviour.fail_if = [](float value) { return value == 2.0F; };
  std::atomic<int> errors{0};
  f.options.on_error = [&](const LoopError& error) {
    EXPECT_NE(error.message.find("fake failure"), std::string::npos);
    errors.fetch_add(1);
    f.loop->stop();
  };
  InferenceLoop& loop = f.make(fake_config(1));
  loop.start();
  Prediction result = loop.make_prediction();
  ASSERT_TRUE(loop.wait_for(f.publish(1.0F), kWait, &result));
  f.publish(2.0F);
  ASSERT_TRUE(CallbackFixture::eventually([&] { return !loop.running(); }));
  loop.stop();
  EXPECT_EQ(errors.load(), 1);
  expect_counters_balance(loop.stats());
}

TEST(StopFromCallback, FromTheFeatureSource) {
  CallbackFixture f;
  std::atomic<int> calls{0};
  f.options.feature_source = [&](FeatureRequest& request) {
    if (calls.fetch_add(1) == 3) f.loop->stop();
    std::fill(request.values.begin(), request.values.begin() + static_cast<long>(request.cols), 1.0F);
    return true;
  };
  auto config = fake_config(1);
  config.wait_strategy = WaitStrategy::kContinuous;
  InferenceLoop& loop = f.make(config);
  loop.start();
  ASSERT_TRUE(CallbackFixture::eventually([&] { return !loop.running(); }));
  loop.stop();
  const LoopStats stats = loop.stats();
  EXPECT_GE(stats.predictions, 1U);
  expect_counters_balance(stats);
}

TEST(StopFromCallback, FromOnModelChangeDuringReloadOnAnApplicationThread) {
  CallbackFixture f;
  std::atomic<int> version{1};
  f.options.resolver = [&](const std::string& uri) {
    ResolvedModel model = fake_model(uri);
    model.registry_version = std::to_string(version.load());
    return model;
  };
  f.options.on_model_change = [&](const ModelInfo& info) {
    EXPECT_EQ(info.model_version, 2U);
    f.loop->stop();  // inside reload(), which holds the reload lock
  };
  InferenceLoop& loop = f.make(fake_config(2));
  loop.start();
  version = 2;
  const InferenceLoop::ReloadOutcome outcome = loop.reload();
  EXPECT_TRUE(outcome.swapped);
  EXPECT_FALSE(loop.running());
  loop.stop();
  EXPECT_EQ(loop.stats().model_swaps, 1U);
}

TEST(StopFromCallback, FromTheResolverDuringStartLeavesAStoppedLoop) {
  CallbackFixture f;
  f.options.resolver = [&](const std::string& uri) {
    f.loop->stop();
    return fake_model(uri);
  };
  InferenceLoop& loop = f.make(fake_config(1));
  loop.start();
  EXPECT_FALSE(loop.running());
  loop.stop();
}

TEST(CallsFromCallbacks, ReloadAndWaitForAreRefusedWithAClearError) {
  CallbackFixture f;
  std::mutex mutex;
  std::vector<std::string> refusals;
  f.options.on_result = [&](const Prediction& result) {
    for (auto call : {+[](InferenceLoop& loop, std::uint64_t) { (void)loop.reload(); },
                      +[](InferenceLoop& loop, std::uint64_t seq) { (void)loop.wait_for(seq, 1s); }}) {
      try {
        call(*f.loop, result.feature_seq);
      } catch (const Error& error) {
        std::lock_guard lock(mutex);
        refusals.emplace_back(error.what());
      }
    }
  };
  InferenceLoop& loop = f.make(fake_config(1));
  loop.start();
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(loop.wait_for(f.publish(1.0F), kWait));
  // Refused at once: a wait_for() that waited would have taken its 1 s.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 900ms);
  loop.stop();
  ASSERT_EQ(refusals.size(), 2U);
  EXPECT_NE(refusals[0].find("loop.reload() called from inside one of this loop's callbacks"),
            std::string::npos)
      << refusals[0];
  EXPECT_NE(refusals[1].find("loop.wait_for() called from inside"), std::string::npos)
      << refusals[1];
}

TEST(CallsFromCallbacks, ReadingCallsWorkFromOnResult) {
  CallbackFixture f;
  std::atomic<bool> checked{false};
  f.options.on_result = [&](const Prediction& result) {
    Prediction copy = f.loop->make_prediction();
    EXPECT_TRUE(f.loop->latest(copy));
    EXPECT_EQ(copy.feature_seq, result.feature_seq);
    EXPECT_EQ(f.loop->latest_feature_seq(), result.feature_seq);
    EXPECT_GE(f.loop->stats().predictions, 1U);
    EXPECT_EQ(f.loop->history().size(), 1U);
    EXPECT_EQ(f.loop->model_info().model_version, 1U);
    EXPECT_FALSE(f.loop->last_error().has_value());
    checked = true;
  };
  auto config = fake_config(1);
  config.history_capacity = 4;
  InferenceLoop& loop = f.make(config);
  loop.start();
  ASSERT_TRUE(loop.wait_for(f.publish(1.0F), kWait));
  loop.stop();
  EXPECT_TRUE(checked.load());
}

TEST(StopFromCallback, InBacktestModeLaterSnapshotsAreDiscarded) {
  CallbackFixture f;
  std::atomic<int> results{0};
  f.options.on_result = [&](const Prediction&) {
    results.fetch_add(1);
    f.loop->stop();
  };
  f.options.backtest = BacktestOptions{};
  InferenceLoop& loop = f.make(fake_config(1));
  loop.start();
  f.clock->set(Timestamp{2'000});
  f.publish(1.0F);
  Prediction result = loop.make_prediction();
  EXPECT_TRUE(loop.latest(result));  // delivers the result; its callback requests the stop
  EXPECT_FALSE(loop.running());
  f.clock->set(Timestamp{3'000});
  f.publish(2.0F);
  f.publish(3.0F);
  loop.stop();
  EXPECT_EQ(results.load(), 1);
  const LoopStats stats = loop.stats();
  EXPECT_EQ(stats.snapshots_published, 3U);
  EXPECT_EQ(stats.discarded_at_stop, 2U);
  expect_counters_balance(stats);
}

// ---- what start() throws ------------------------------------------------------

std::string start_error_of(CallbackFixture& f, const std::function<std::unique_ptr<Predictor>()>& make) {
  f.registry = std::make_unique<PredictorRegistry>();
  f.registry->add("FakePredictor", [make](const PredictorContext&) { return make(); });
  InferenceLoop& loop = f.make(fake_config(2));
  try {
    loop.start();
  } catch (const Error& error) {
    EXPECT_FALSE(loop.running());
    return error.what();
  } catch (const std::exception& other) {
    ADD_FAILURE() << "start() threw a bare std exception: " << other.what();
  }
  return "(no error)";
}

TEST(StartErrors, AFactoryThrowingAStdExceptionBecomesAnErrorWithContext) {
  CallbackFixture f;
  const std::string message =
      start_error_of(f, []() -> std::unique_ptr<Predictor> { throw std::runtime_error("no GPU here"); });
  EXPECT_NE(message.find("start() of 'fake://model' (predictor_class_name FakePredictor, "
                         "num_replicas 2) failed: no GPU here"),
            std::string::npos)
      << message;
}

TEST(StartErrors, OutOfMemoryBecomesAnErrorNamingTheKeysToLower) {
  CallbackFixture f;
  const std::string message =
      start_error_of(f, []() -> std::unique_ptr<Predictor> { throw std::bad_alloc(); });
  EXPECT_NE(message.find("out of memory"), std::string::npos) << message;
  EXPECT_NE(message.find("lower max_rows, history_capacity or num_replicas"), std::string::npos)
      << message;
}

TEST(StartErrors, AModelWhoseBuffersCanNeverFitIsRefusedNamingTheKey) {
  // validate() counted one output per row; the model gives 2^28, so
  // max_rows 4096 x 2^28 floats can never fit: start() says so before it
  // allocates (no bare std::bad_alloc, no swap storm).
  CallbackFixture f;
  f.behaviour.num_outputs = std::size_t{1} << 28;
  auto config = fake_config(1);
  config.max_rows = 4096;
  InferenceLoop& loop = f.make(config);
  try {
    loop.start();
    ADD_FAILURE() << "start() did not refuse";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("max_rows"), std::string::npos) << message;
    EXPECT_NE(message.find("this machine has"), std::string::npos) << message;
  }
  EXPECT_FALSE(loop.running());
}

TEST(CpuAffinity, PinnedThreadsServeAndARefusedCpuFailsStartNamingTheKey) {
  {
    CallbackFixture f;
    auto config = fake_config(2);
    config.poller_cpu = 0;
    config.replica_cpus = {0};  // CPU 0 exists on every machine
    InferenceLoop& loop = f.make(config);
    loop.start();
    EXPECT_TRUE(loop.wait_for(f.publish(1.0F), kWait));
    loop.stop();
  }
  CallbackFixture f;
  auto config = fake_config(1);
  config.poller_cpu = 1023;  // beyond any CPU this test machine has
  InferenceLoop& loop = f.make(config);
  try {
    loop.start();
    ADD_FAILURE() << "start() pinned the poller to CPU 1023";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("poller_cpu: cannot pin the thread to CPU 1023"),
              std::string::npos)
        << error.what();
  }
  EXPECT_FALSE(loop.running());
}

TEST(StartErrors, ANonStandardExceptionBecomesAnError) {
  CallbackFixture f;
  const std::string message = start_error_of(f, []() -> std::unique_ptr<Predictor> { throw 42; });
  EXPECT_NE(message.find("non-standard exception"), std::string::npos) << message;
}

}  // namespace
}  // namespace inferloop
