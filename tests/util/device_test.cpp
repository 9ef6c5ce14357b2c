// parse_device: the `device` key's spellings, shared by XGBoostPredictor and
// ForestPredictor.
#include "util/device.hpp"

#include <gtest/gtest.h>

#include <string>

#include "inferloop/error.hpp"

namespace inferloop::detail {
namespace {

std::string message_of(auto&& call) {
  try {
    call();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(ParseDevice, ReadsCpuCudaAndCudaN) {
  EXPECT_FALSE(parse_device("cpu").cuda);
  const DeviceSpec cuda = parse_device("cuda");
  EXPECT_TRUE(cuda.cuda);
  EXPECT_EQ(cuda.ordinal, 0);
  const DeviceSpec third = parse_device("cuda:2");
  EXPECT_TRUE(third.cuda);
  EXPECT_EQ(third.ordinal, 2);
  EXPECT_EQ(parse_device("cuda:" + std::to_string(kMaxCudaOrdinal)).ordinal, kMaxCudaOrdinal);
}

TEST(ParseDevice, RefusesEveryOtherSpellingQuotingIt) {
  const std::string expected = "device: expected cpu, cuda or cuda:N (N from 0 to " +
                               std::to_string(kMaxCudaOrdinal) + "), found ";
  for (const std::string text : {"gpu", "CUDA", "cuda:", "cuda:-1", "cuda:+1", "cuda: 1",
                                 "cuda:1x", "cuda:4096", "cuda:99999999999999999999", ""}) {
    EXPECT_EQ(message_of([&] { (void)parse_device(text); }), expected + "'" + text + "'");
  }
  // Long input is quoted short, with its length.
  const std::string long_text = "cuda:" + std::string(100'000, '1');
  EXPECT_NE(message_of([&] { (void)parse_device(long_text); }).find("(100005 bytes)"),
            std::string::npos);
}

}  // namespace
}  // namespace inferloop::detail
