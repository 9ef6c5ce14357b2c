#include "inferloop/detail/result_slot.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "stress.hpp"

namespace inferloop::detail {
namespace {

Prediction make_result(std::uint64_t feature_seq, std::uint32_t rows, std::uint32_t cols,
                       std::size_t capacity) {
  Prediction p(capacity);
  p.feature_seq = feature_seq;
  p.feature_time = Timestamp{static_cast<std::int64_t>(feature_seq) * 10};
  p.published_at = Timestamp{static_cast<std::int64_t>(feature_seq) * 10 + 1};
  p.completed_at = Timestamp{static_cast<std::int64_t>(feature_seq) * 10 + 2};
  p.model_version = feature_seq % 7;
  p.replica_id = static_cast<std::uint32_t>(feature_seq % 3);
  p.rows = rows;
  p.cols = cols;
  for (std::size_t i = 0; i < static_cast<std::size_t>(rows) * cols; ++i) {
    p.storage[i] = static_cast<float>(feature_seq % 1'000'000) + static_cast<float>(i);
  }
  return p;
}

// Every field of a result is a function of its feature_seq; a torn read
// mixes two results and breaks that.
bool consistent(const Prediction& p) {
  const auto seq = static_cast<std::int64_t>(p.feature_seq);
  if (p.feature_time.count() != seq * 10 || p.published_at.count() != seq * 10 + 1 ||
      p.completed_at.count() != seq * 10 + 2 || p.model_version != p.feature_seq % 7 ||
      p.replica_id != p.feature_seq % 3 || p.rows != 1 + p.feature_seq % 3 || p.cols != 2) {
    return false;
  }
  for (std::size_t i = 0; i < static_cast<std::size_t>(p.rows) * p.cols; ++i) {
    if (p.storage[i] != static_cast<float>(p.feature_seq % 1'000'000) + static_cast<float>(i)) return false;
  }
  return true;
}

TEST(ResultSlot, EmptyUntilTheFirstPublish) {
  ResultSlot slot(4, 1);
  Prediction out(4);
  EXPECT_FALSE(slot.read(out));
  EXPECT_EQ(slot.newest_feature_seq(), 0U);
  EXPECT_FALSE(out.has_value());
}

TEST(ResultSlot, OnlyANewerResultReplacesTheVisibleOne) {
  ResultSlot slot(6, 1);
  Prediction out(6);
  EXPECT_TRUE(slot.publish_if_newer(0, make_result(5, 3, 2, 6)));
  EXPECT_FALSE(slot.publish_if_newer(0, make_result(4, 2, 2, 6)));  // a slow replica's older result
  EXPECT_FALSE(slot.publish_if_newer(0, make_result(5, 3, 2, 6)));  // the same snapshot twice
  ASSERT_TRUE(slot.read(out));
  EXPECT_EQ(out.feature_seq, 5U);
  EXPECT_TRUE(consistent(out));
  EXPECT_TRUE(slot.publish_if_newer(0, make_result(9, 1, 2, 6)));
  ASSERT_TRUE(slot.read(out));
  EXPECT_EQ(out.feature_seq, 9U);
  EXPECT_EQ(out.values().size(), 2U);
  EXPECT_TRUE(consistent(out));
}

// Two writers publish interleaved sequences while three readers read as fast
// as they can: no read may be torn, and each reader's view only moves forward.
TEST(ResultSlot, NoTornReadsUnderMillionsOfPublishesWithSeveralReaders) {
  constexpr std::size_t kCapacity = 6;
  const std::uint64_t publishes = 2'000'000 / testing::kStressScale;
  ResultSlot slot(kCapacity, 2);
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> torn{0};
  std::atomic<std::uint64_t> backwards{0};
  std::atomic<std::uint64_t> reads{0};

  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      Prediction out(kCapacity);
      std::uint64_t last = 0;
      std::uint64_t local_reads = 0;
      while (!done.load(std::memory_order_acquire)) {
        if (!slot.read(out)) continue;
        ++local_reads;
        if (!consistent(out)) torn.fetch_add(1);
        if (out.feature_seq < last) backwards.fetch_add(1);
        last = out.feature_seq;
      }
      reads.fetch_add(local_reads);
    });
  }
  std::atomic<std::uint64_t> published{0};
  std::vector<std::thread> writers;
  for (std::uint64_t w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      std::uint64_t local = 0;
      for (std::uint64_t seq = 1 + w; seq <= publishes; seq += 2) {
        if (slot.publish_if_newer(w, make_result(seq, static_cast<std::uint32_t>(1 + seq % 3), 2, kCapacity))) ++local;
      }
      published.fetch_add(local);
    });
  }
  for (auto& t : writers) t.join();
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();

  EXPECT_EQ(torn.load(), 0U);
  EXPECT_EQ(backwards.load(), 0U);
  EXPECT_GT(reads.load(), 0U);
  EXPECT_GT(published.load(), publishes / 4);
  Prediction out(kCapacity);
  ASSERT_TRUE(slot.read(out));
  EXPECT_TRUE(consistent(out));
  EXPECT_GE(out.feature_seq, publishes - 1);
}

}  // namespace
}  // namespace inferloop::detail
