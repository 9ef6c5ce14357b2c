// Misuse that builds with debug checks detect (src/util/misuse.hpp): a
// second thread publishing while another is inside publish(), and a
// Prediction too small for the loop's results. Built only where the checks
// are compiled in (INFERLOOP_DEBUG_CHECKS, the ASan tree of scripts/test);
// release builds document the behaviour instead (feature_slot.hpp,
// inference_loop.hpp).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "fake_predictor.hpp"
#include "inferloop/feature_slot.hpp"
#include "inferloop/inference_loop.hpp"

namespace inferloop {
namespace {

using namespace std::chrono_literals;

// A clock whose first now() call blocks until released, so that a test can
// hold one publish() in the middle of its work, deterministically.
class HoldingClock final : public Clock {
 public:
  Timestamp now() const noexcept override {
    if (hold_next_.exchange(false)) {
      held_ = true;
      while (!released_) std::this_thread::sleep_for(1ms);
    }
    return Timestamp{0};
  }
  mutable std::atomic<bool> hold_next_{true};
  mutable std::atomic<bool> held_{false};
  std::atomic<bool> released_{false};
};

void publish_while_another_thread_is_publishing() {
  auto clock = std::make_shared<HoldingClock>();
  FeatureSlot slot(1, 2, clock);
  const std::vector<float> row{1.0F, 2.0F};
  std::thread first([&] { (void)slot.publish(row, Timestamp{1}); });
  while (!clock->held_) std::this_thread::sleep_for(1ms);
  (void)slot.publish(row, Timestamp{2});  // the first publish() is still inside
  clock->released_ = true;
  first.join();
}

TEST(MisuseChecksDeathTest, ASecondConcurrentPublisherAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(publish_while_another_thread_is_publishing(),
               "API misuse: FeatureSlot::publish\\(\\) called from two threads at once");
}

TEST(MisuseChecks, PublishersTakingTurnsAreFine) {
  FeatureSlot slot(1, 2, std::make_shared<ManualClock>());
  const std::vector<float> row{1.0F, 2.0F};
  std::thread first([&] { EXPECT_EQ(slot.publish(row, Timestamp{1}), 1U); });
  first.join();
  EXPECT_EQ(slot.publish(row, Timestamp{2}), 2U);
}

void read_into_a_too_small_prediction() {
  testing::FakeBehaviour behaviour;
  auto registry = testing::fake_registry(behaviour);
  LoopOptions options;
  options.registry = registry.get();
  options.resolver = testing::fake_model;
  InferenceLoop loop(testing::fake_config(1), options);
  loop.start();
  const std::vector<float> row(behaviour.num_features, 1.0F);
  ASSERT_TRUE(loop.wait_for(loop.features().publish(row, Timestamp{1}), 10s));
  Prediction too_small(1);  // the loop's results hold num_outputs (2) values
  (void)loop.latest(too_small);
}

TEST(MisuseChecksDeathTest, ATooSmallPredictionAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(read_into_a_too_small_prediction(),
               "API misuse: InferenceLoop::latest\\(\\) was given a Prediction with room for 1 "
               "values, but this loop's results need 2");
}

}  // namespace
}  // namespace inferloop
