// Prediction: one result of the loop, and the buffer latest() copies into.
//
// A Prediction owns storage for the largest result the loop can produce
// (max_rows x num_outputs values), allocated once by
// InferenceLoop::make_prediction(); latest() then only copies into it, so
// reading results never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "inferloop/clock.hpp"

namespace inferloop {

struct Prediction {
  std::uint64_t feature_seq = 0;  // 0: no result yet
  Timestamp feature_time{0};      // the engine's timestamp of the snapshot
  Timestamp published_at{0};      // loop Clock time when the snapshot was published
  // Loop Clock time when a replica began predicting it; completed_at -
  // started_at is the inference latency a backtest can replay
  // (docs/backtesting.md).
  Timestamp started_at{0};
  Timestamp completed_at{0};      // loop Clock time when the result became visible
  // Which model produced it: 1 for the model start() loaded, +1 for each
  // model swapped in later. InferenceLoop::model_info() describes it.
  std::uint64_t model_version = 0;
  std::uint32_t replica_id = 0;
  std::uint32_t rows = 0;  // rows of the snapshot (instruments)
  std::uint32_t cols = 0;  // outputs per row
  // rows * cols values live at the front; capacity is fixed at creation.
  std::vector<float> storage;

  Prediction() = default;
  explicit Prediction(std::size_t capacity) : storage(capacity) {}

  [[nodiscard]] bool has_value() const noexcept { return feature_seq != 0; }
  [[nodiscard]] std::span<const float> values() const noexcept {
    return {storage.data(), static_cast<std::size_t>(rows) * cols};
  }
  // REQUIRES: has_value(), row < rows, col < cols.
  [[nodiscard]] float value(std::size_t row = 0, std::size_t col = 0) const noexcept {
    return storage[row * cols + col];
  }
};

}  // namespace inferloop
