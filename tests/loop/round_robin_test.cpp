#include "util/round_robin.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace inferloop::detail {
namespace {

TEST(RoundRobin, TakesIdleReplicasInTurnFromTheCursor) {
  RoundRobin rr(3);
  std::vector<bool> busy(3, false);
  auto idle = [&](std::size_t i) { return !busy[i]; };
  EXPECT_EQ(rr.next_idle(idle), 0U);
  EXPECT_EQ(rr.next_idle(idle), 1U);
  EXPECT_EQ(rr.next_idle(idle), 2U);
  EXPECT_EQ(rr.next_idle(idle), 0U);
}

TEST(RoundRobin, SkipsBusyReplicasAndMovesPastTheOneChosen) {
  RoundRobin rr(4);
  std::vector<bool> busy{false, true, true, false};
  auto idle = [&](std::size_t i) { return !busy[i]; };
  EXPECT_EQ(rr.next_idle(idle), 0U);
  EXPECT_EQ(rr.next_idle(idle), 3U);  // 1 and 2 are busy
  EXPECT_EQ(rr.cursor(), 0U);
  busy[0] = true;
  busy[3] = true;
  EXPECT_EQ(rr.next_idle(idle), std::nullopt);
  EXPECT_EQ(rr.cursor(), 0U);  // unchanged when nothing is idle
  busy[2] = false;
  EXPECT_EQ(rr.peek_idle(idle), 2U);
  EXPECT_EQ(rr.cursor(), 0U);  // peeking does not move it
  EXPECT_EQ(rr.next_idle(idle), 2U);
  EXPECT_EQ(rr.cursor(), 3U);
}

}  // namespace
}  // namespace inferloop::detail
