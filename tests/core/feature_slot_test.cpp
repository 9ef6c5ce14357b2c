#include "inferloop/feature_slot.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "inferloop/error.hpp"
#include "stress.hpp"

namespace inferloop {
namespace {

TEST(FeatureSlot, TakesNothingBeforeAPublish) {
  FeatureSlot slot(1, 3, std::make_shared<ManualClock>());
  FeatureSnapshot snapshot;
  EXPECT_FALSE(slot.take_newest(snapshot));
  EXPECT_EQ(slot.last_published_seq(), 0U);
}

TEST(FeatureSlot, AssignsIncreasingSeqAndStampsWithTheClock) {
  auto clock = std::make_shared<ManualClock>(Timestamp{1000});
  FeatureSlot slot(2, 3, clock);
  const std::vector<float> one_row{1, 2, 3};
  const std::vector<float> two_rows{4, 5, 6, 7, 8, 9};
  EXPECT_EQ(slot.publish(one_row, Timestamp{7}), 1U);
  clock->set(Timestamp{2000});
  EXPECT_EQ(slot.publish(two_rows, Timestamp{8}), 2U);

  FeatureSnapshot snapshot;
  ASSERT_TRUE(slot.take_newest(snapshot));
  EXPECT_EQ(snapshot.feature_seq, 2U);
  EXPECT_EQ(snapshot.rows, 2U);
  EXPECT_EQ(snapshot.cols, 3U);
  EXPECT_EQ(snapshot.feature_time, Timestamp{8});
  EXPECT_EQ(snapshot.published_at, Timestamp{2000});
  EXPECT_EQ(std::vector<float>(snapshot.values.begin(), snapshot.values.end()), two_rows);
  // Taken: nothing new until the next publish.
  EXPECT_FALSE(slot.take_newest(snapshot));
  EXPECT_EQ(slot.publish(one_row, Timestamp{9}), 3U);
  ASSERT_TRUE(slot.take_newest(snapshot));
  EXPECT_EQ(snapshot.feature_seq, 3U);
  EXPECT_EQ(snapshot.rows, 1U);
}

TEST(FeatureSlot, RejectsWrongShapesAndCountsThem) {
  FeatureSlot slot(2, 3, std::make_shared<ManualClock>());
  const std::vector<float> four(4, 1.0F);
  const std::vector<float> nine(9, 1.0F);
  EXPECT_EQ(slot.publish(four, Timestamp{0}), 0U);
  EXPECT_EQ(slot.publish(nine, Timestamp{0}), 0U);
  EXPECT_EQ(slot.publish({}, Timestamp{0}), 0U);
  EXPECT_EQ(slot.rejected(), 3U);
  EXPECT_EQ(slot.last_published_seq(), 0U);
  FeatureSnapshot snapshot;
  EXPECT_FALSE(slot.take_newest(snapshot));
}

TEST(FeatureSlot, PublishCheckedSaysWhatIsWrong) {
  FeatureSlot slot(2, 3, std::make_shared<ManualClock>());
  const std::vector<float> four(4, 1.0F);
  const std::vector<float> nine(9, 1.0F);
  try {
    slot.publish_checked(four, Timestamp{0});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "feature snapshot has 4 values, which is not a whole number of rows of 3 "
                 "features: the model expects 3 features per row; check the feature vector width");
  }
  try {
    slot.publish_checked(nine, Timestamp{0});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "feature snapshot has 3 rows, more than max_rows = 2; raise max_rows in the config");
  }
  EXPECT_EQ(slot.rejected(), 2U);
}

TEST(FeatureSlot, ConstructionNeedsAShape) {
  EXPECT_THROW(FeatureSlot(0, 3, std::make_shared<ManualClock>()), Error);
  EXPECT_THROW(FeatureSlot(1, 0, std::make_shared<ManualClock>()), Error);
}

// One producer publishes snapshots whose every value equals the feature_seq
// and whose row count varies; the consumer must only ever see whole snapshots
// with increasing feature_seq.
TEST(FeatureSlot, ConsumerNeverSeesATornOrOlderSnapshot) {
  constexpr std::size_t kCols = 8;
  constexpr std::size_t kMaxRows = 4;
  const std::uint64_t publishes = 2'000'000 / testing::kStressScale;
  FeatureSlot slot(kMaxRows, kCols, std::make_shared<SystemClock>());
  std::atomic<bool> done{false};
  std::uint64_t taken = 0;
  std::uint64_t errors = 0;
  std::thread consumer([&] {
    FeatureSnapshot snapshot;
    std::uint64_t last = 0;
    while (true) {
      const bool finished = done.load(std::memory_order_acquire);
      while (slot.take_newest(snapshot)) {
        ++taken;
        if (snapshot.feature_seq <= last) ++errors;
        last = snapshot.feature_seq;
        if (snapshot.rows != 1 + snapshot.feature_seq % kMaxRows) ++errors;
        for (float v : snapshot.values) {
          if (v != static_cast<float>(snapshot.feature_seq % 1'000'000)) ++errors;
        }
      }
      if (finished) break;
    }
    if (last != publishes) ++errors;  // the newest snapshot is never lost
  });
  std::vector<float> values(kMaxRows * kCols);
  for (std::uint64_t seq = 1; seq <= publishes; ++seq) {
    const std::size_t rows = 1 + seq % kMaxRows;
    std::fill_n(values.begin(), rows * kCols, static_cast<float>(seq % 1'000'000));
    ASSERT_EQ(slot.publish(std::span<const float>(values.data(), rows * kCols), Timestamp{0}), seq);
  }
  done.store(true, std::memory_order_release);
  consumer.join();
  EXPECT_EQ(errors, 0U);
  EXPECT_GT(taken, 0U);
}

}  // namespace
}  // namespace inferloop
