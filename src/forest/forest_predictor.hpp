// ForestPredictor: the Predictor over ForestModel, registered as
// "ForestPredictor". It evaluates the trees the model admission gate read
// and validated at resolution (any XGBoost 1.x-3.x JSON or UBJSON), so it
// does not depend on the linked libxgboost's version. A LightGBM model goes
// to LightGBMModel's predictor instead (lightgbm_forest_predictor.hpp).
//
// Lifecycle: the registry calls make_forest_predictor() once per replica at
// start(). Replicas of one start() share one immutable ForestModel (looked up
// in PredictorContext::shared), which needs no locking: evaluation only reads
// it. predict() is called by one replica's worker thread at a time.
#pragma once

#include <cstddef>
#include <memory>

#include "inferloop/predictor.hpp"

namespace inferloop::detail {

// Throws inferloop::Error when the model cannot be read or reproduced
// exactly, when num_features (config) or the MLmodel signature disagree
// with the model, or when device is not one of "cpu", "cuda", "cuda:N".
// A cuda device gets the CUDA evaluator (cuda/cuda_forest_predictor.hpp).
[[nodiscard]] std::unique_ptr<Predictor> make_forest_predictor(const PredictorContext& context);

}  // namespace inferloop::detail
