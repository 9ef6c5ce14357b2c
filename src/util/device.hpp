// The `device` key's value ("cpu", "cuda", "cuda:N") read once for every
// predictor that runs on a device (XGBoostPredictor, ForestPredictor), so
// both accept and refuse the same spellings with the same message.
//
// Pure functions; any thread.
#pragma once

#include <string_view>

namespace inferloop::detail {

struct DeviceSpec {
  bool cuda = false;
  int ordinal = 0;  // cuda:N's N; "cuda" is cuda:0
};

// The largest N of cuda:N: far beyond any machine, small enough for every
// API that takes an int.
inline constexpr int kMaxCudaOrdinal = 4095;

// Throws inferloop::Error "device: expected cpu, cuda or cuda:N, found '...'"
// (N from 0 to kMaxCudaOrdinal) for anything else.
[[nodiscard]] DeviceSpec parse_device(std::string_view text);

}  // namespace inferloop::detail
