// The host reference of the CUDA evaluator: the kernels' per-row code
// (device_forest.hpp), run on the CPU over the same DeviceLayout, in the
// same two orders as the kernels. CI has no GPU; this is how it tests the
// arithmetic the GPU runs, against ForestModel and xgboost (tests/forest).
//
// Not a fast path (one row at a time, no blocking): use ForestModel on a CPU.
// Thread safety: reentrant.
#pragma once

#include <cstddef>
#include <span>

#include "forest/cuda/device_layout.hpp"

namespace inferloop::detail::gpu {

// Predicts `rows` rows (row-major, rows x num_features) into `out` (rows x
// outputs_per_row(view, transformed)) as the kernels would with `strategy`
// (kAuto is kRowParallel here).
// REQUIRES: the sizes above.
void predict_on_host(const DeviceLayout& layout, std::span<const float> features, std::size_t rows,
                     std::span<float> out, bool transformed, Strategy strategy);

}  // namespace inferloop::detail::gpu
