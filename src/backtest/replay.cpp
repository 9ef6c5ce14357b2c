// replay(): see include/inferloop/replay.hpp.
#include "inferloop/replay.hpp"

#include <memory>
#include <string>

#include "inferloop/error.hpp"
#include "loop/loop_access.hpp"

namespace inferloop {

ReplaySummary replay(const InferenceConfig& config, const BacktestOptions& options,
                     const ReplayInput& input, const ResultCallback& on_result,
                     LoopOptions loop_options) {
  const std::size_t rows = input.timestamps_ns.size();
  if (rows == 0) throw Error("replay: no rows to replay");
  if (input.cols == 0 || input.features.size() != rows * input.cols) {
    throw Error("replay: " + std::to_string(rows) + " timestamps need " +
                std::to_string(rows) + " x " + std::to_string(input.cols) + " feature values, found " +
                std::to_string(input.features.size()));
  }
  for (std::size_t row = 1; row < rows; ++row) {
    if (input.timestamps_ns[row] < input.timestamps_ns[row - 1]) {
      throw Error("replay: row " + std::to_string(row) + " has timestamp " +
                  std::to_string(input.timestamps_ns[row]) + " ns, before the previous row's " +
                  std::to_string(input.timestamps_ns[row - 1]) +
                  "; a backtest replays events in time order: sort them by timestamp");
    }
  }
  auto clock = std::make_shared<ManualClock>(Timestamp{input.timestamps_ns.front()});
  loop_options.clock = clock;
  loop_options.backtest = options;
  loop_options.on_result = on_result;
  loop_options.feature_source = nullptr;
  InferenceLoop loop(config, std::move(loop_options));
  loop.start();
  FeatureSlot& slot = loop.features();
  if (slot.cols() != input.cols) {
    throw Error("replay: the rows have " + std::to_string(input.cols) +
                " features, but the model '" + config.model_uri + "' takes " +
                std::to_string(slot.cols()) + "; give one column per model feature, in the "
                "model's order");
  }
  ReplaySummary summary;
  summary.rows = rows;
  summary.first_event = Timestamp{input.timestamps_ns.front()};
  const detail::BacktestDriver::ReplayEnd end =
      detail::LoopAccess::replay(loop, input.timestamps_ns, input.features);
  summary.snapshots = end.snapshots;
  summary.idle_at = end.idle_at;
  clock->set(summary.idle_at);
  loop.stop();
  summary.stats = loop.stats();
  summary.model = loop.model_info();
  summary.last_error = loop.last_error();
  return summary;
}

}  // namespace inferloop
