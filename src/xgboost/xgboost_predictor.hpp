// XGBoostPredictor: the built-in Predictor, over XGBoost's C API.
//
// Lifecycle: constructed by the registry once per replica at start(); loads
// (or, with share_booster, looks up) the booster from the bytes the model
// admission gate validated (src/model/admission.hpp), checks the model
// against the linked library and the configured width, and creates this
// replica's proxy DMatrix. predict() is then called from one thread at a
// time.
//
// Thread safety: a shared booster is used by several replicas at once, which
// XGBoost supports for prediction (gbtree, since 1.4); each replica keeps its
// own proxy DMatrix, which XGBoost mutates on every call.
#pragma once

#include <memory>
#include <string>

#include "inferloop/predictor.hpp"

namespace inferloop::detail {

// Registered as "XGBoostPredictor". Throws inferloop::Error when the model
// cannot be loaded or represented by the linked libxgboost.
[[nodiscard]] std::unique_ptr<Predictor> make_xgboost_predictor(const PredictorContext& context);

}  // namespace inferloop::detail
