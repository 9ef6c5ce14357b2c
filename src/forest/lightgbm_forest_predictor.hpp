// ForestPredictor for a LightGBM model: the Predictor over LightGBMModel.
// make_forest_predictor() (forest_predictor.cpp) hands a model the gate
// admitted as LightGBM here, so predictor_class_name: ForestPredictor serves
// XGBoost and LightGBM models alike.
//
// Its float outputs are LightGBM's double predictions rounded once
// (LightGBMModel::predict); LightGBMModel itself offers the doubles.
//
// Lifecycle: one per replica; the replicas of one start() share one
// immutable LightGBMModel through PredictorContext::shared. predict() is
// called by one replica's worker thread at a time.
#pragma once

#include <memory>

#include "inferloop/predictor.hpp"

namespace inferloop::detail {

// Throws inferloop::Error when the model cannot be reproduced exactly, when
// device is not "cpu", or when num_features (config) or the MLmodel
// signature disagree with the model.
[[nodiscard]] std::unique_ptr<Predictor> make_lightgbm_forest_predictor(
    const PredictorContext& context);

}  // namespace inferloop::detail
