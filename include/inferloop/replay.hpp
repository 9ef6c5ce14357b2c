// replay(): a whole backtest in one call, for a replay that has every event
// up front (the CLI's `inferloop backtest`, the Python package's
// inferloop.backtest()).
//
// The rows enter an InferenceLoop in backtest mode
// (include/inferloop/backtest.hpp) as if published in order: each row at its
// timestamp, and when config.max_rows > 1, consecutive rows with the same
// timestamp as one multi-row snapshot (at most max_rows; a longer run is
// split). After the last row the simulated clock moves to when the loop is
// idle, so the last snapshot's prediction is kept; then the loop stops.
// Every result that became visible reaches `on_result`, in the order it
// became visible, on the calling thread. Results, counters and errors are
// those of publishing the snapshots one by one, but the simulation runs a
// round ahead and the dispatched rows are predicted in large calls
// (BacktestOptions::replay_batch_rows; docs/backtesting.md, "Replaying a
// whole event file"). The same inputs, config and options give the same
// results, whatever options.threads is.
//
// Threads: the calling thread drives the replay (simulates, delivers, and
// predicts while it would otherwise wait); options.threads - 1 more threads
// compute.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "inferloop/backtest.hpp"
#include "inferloop/config.hpp"
#include "inferloop/inference_loop.hpp"

namespace inferloop {

struct ReplayInput {
  std::span<const std::int64_t> timestamps_ns;  // one per row, never decreasing
  std::span<const float> features;             // rows x cols, row-major; NaN = missing
  std::size_t cols = 0;                        // features per row: the model's width
};

struct ReplaySummary {
  LoopStats stats;
  ModelInfo model;
  std::size_t rows = 0;
  std::size_t snapshots = 0;
  Timestamp first_event{0};
  Timestamp idle_at{0};  // the simulated time when the last result was visible
  std::optional<LoopError> last_error;
};

// Throws inferloop::Error for a bad config or model, a width that is not the
// model's, a timestamp that goes backwards (naming its row), or mismatched
// sizes. A prediction that fails is counted (stats.errors, last_error) and the
// replay goes on, as the loop does. `loop_options` may supply a registry, a
// resolver and on_error; its clock, backtest and on_result are replay()'s own.
ReplaySummary replay(const InferenceConfig& config, const BacktestOptions& options,
                     const ReplayInput& input, const ResultCallback& on_result,
                     LoopOptions loop_options = {});

}  // namespace inferloop
