// What the loop hands back to Python, as plain values copied out of the
// loop: Result (one Prediction), and the C++ structs LoopStats, LoopError,
// ModelInfo, ResolvedModel and InferenceLoop::ReloadOutcome bound as
// read-only classes (results.cpp).
//
// Times are integer nanoseconds of the loop's Clock, in properties named
// *_ns; values are float32 numpy arrays.
#pragma once

#include <cstdint>
#include <vector>

#include "inferloop/prediction.hpp"

namespace inferloop::python {

// A Prediction copied out of the loop: only rows x cols values, not the
// Prediction's whole capacity. Made without the GIL (plain C++).
struct Result {
  std::vector<float> values;  // rows x cols, row-major
  std::uint32_t rows = 0;
  std::uint32_t cols = 0;
  std::uint64_t feature_seq = 0;
  std::int64_t feature_time_ns = 0;
  std::int64_t published_at_ns = 0;
  std::int64_t started_at_ns = 0;
  std::int64_t completed_at_ns = 0;
  std::uint64_t model_version = 0;
  std::uint32_t replica_id = 0;

  static Result from(const Prediction& prediction);
};

}  // namespace inferloop::python
