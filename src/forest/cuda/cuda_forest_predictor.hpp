// ForestPredictor with `device: cuda` / `cuda:N`: the same model reading
// (the admission gate, then the reader's refusals) and the same width checks
// as on the CPU, evaluated by the CUDA evaluator (cuda_evaluator.hpp).
//
// Lifecycle: make_forest_predictor() calls this once per replica at
// start(). Replicas of one start() on one device share the model's device
// copy (PredictorContext::shared); each replica has its own CudaEvaluator
// (stream, pinned buffers, graphs). predict() is called by one replica's
// thread at a time.
#pragma once

#include <memory>

#include "inferloop/predictor.hpp"

namespace inferloop::detail {

// Throws inferloop::Error when the model cannot be read or reproduced
// exactly, when the widths disagree, or when the device cannot be used
// ("device: cuda:N: ...": no driver or GPU, naming the cudaError; N past the
// devices present; inferloop built without CUDA).
[[nodiscard]] std::unique_ptr<Predictor> make_cuda_forest_predictor(const PredictorContext& context);

}  // namespace inferloop::detail
