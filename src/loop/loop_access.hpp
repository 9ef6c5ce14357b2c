// LoopAccess: what inferloop's own tools reach inside an InferenceLoop for,
// beyond its public API. A friend of InferenceLoop, so that the public API
// stays as it is; defined with the facade (src/loop/inference_loop.cpp).
//
// Threads: observe() and metrics_url() from any thread, any time (see
// loop_observation.hpp); replay() from the thread that owns the loop.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "backtest/backtest_driver.hpp"
#include "inferloop/inference_loop.hpp"
#include "loop/loop_observation.hpp"

namespace inferloop::detail {

struct LoopAccess {
  [[nodiscard]] static LoopObservation observe(const InferenceLoop& loop);
  // LoopObservation::metrics_url alone, while the loop runs; else "".
  [[nodiscard]] static std::string metrics_url(const InferenceLoop& loop);
  // replay() (src/backtest/replay.cpp): a loop started in backtest mode,
  // with nothing published yet, replays every row at once
  // (BacktestDriver::replay_all) and is left stopped at idle_at; stats()
  // count the snapshots as published. Throws inferloop::Error when the loop
  // is not a started backtest or already has snapshots.
  static BacktestDriver::ReplayEnd replay(InferenceLoop& loop,
                                          std::span<const std::int64_t> timestamps_ns,
                                          std::span<const float> features);
};

}  // namespace inferloop::detail
