// What every built-in predictor (XGBoostPredictor, LightGBMPredictor,
// ForestPredictor on CPU, CUDA and LightGBM models) does the same way: refuse
// a model whose width disagrees with the config or the MLmodel signature,
// refuse a predict() call whose buffers do not fit the model, and share one
// immutable model among the replicas of one start() through
// PredictorContext::shared.
//
// Threads: the checks are pure; shared_model() takes
// SharedPredictorState::mutex, so replicas built on several threads build
// the model once.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "inferloop/error.hpp"
#include "inferloop/predictor.hpp"

namespace inferloop::detail {

// Throws inferloop::Error unless the model's width, `model_features` (counted
// as `counted_by` says, e.g. "XGBoosterGetNumFeature"), equals the config's
// num_features (when set) and the MLmodel signature's inputs (when listed).
inline void check_model_width(const PredictorContext& context, std::size_t model_features,
                              std::string_view counted_by) {
  const std::size_t configured = context.config.num_features;
  const std::string model_file = context.model.model_file.string();
  const std::string width = std::to_string(model_features);
  if (configured != 0 && configured != model_features) {
    throw Error("num_features is " + std::to_string(configured) + " in the config, but the model " +
                model_file + " takes " + width + " features per row (" + std::string(counted_by) +
                "); set num_features to " + width +
                " or remove it to take the width from the model");
  }
  const auto& signature = context.model.signature_inputs;
  if (!signature.empty() && signature.size() != model_features) {
    throw Error("the MLmodel signature " +
                context.model.mlmodel_file.value_or(context.model.model_file).string() + " lists " +
                std::to_string(signature.size()) + " inputs, but the model file " + model_file +
                " takes " + width + " features (" + std::string(counted_by) +
                "); the MLflow model folder is inconsistent: save the model again with a "
                "matching signature");
  }
}

// Throws inferloop::Error naming `predictor` unless `rows` > 0 rows of
// `num_features` features and `num_outputs` outputs fill `features` and `out`.
inline void check_predict_shape(std::string_view predictor, std::span<const float> features,
                                std::size_t rows, std::span<float> out, std::size_t num_features,
                                std::size_t num_outputs) {
  if (rows == 0 || features.size() != rows * num_features || out.size() != rows * num_outputs) {
    throw Error(std::string(predictor) + "::predict: " + std::to_string(rows) + " rows need " +
                std::to_string(rows * num_features) + " features and " +
                std::to_string(rows * num_outputs) + " outputs, got " +
                std::to_string(features.size()) + " and " + std::to_string(out.size()));
  }
}

// The model stored under `key` in `shared`, built by `build()` (returning a
// std::shared_ptr<T>) when absent. A build that throws leaves no entry, so
// the next replica builds again and reports the same error.
template <class T, class Build>
std::shared_ptr<T> shared_model(SharedPredictorState& shared, const std::string& key,
                                Build&& build) {
  std::lock_guard lock(shared.mutex);
  std::shared_ptr<void>& entry = shared.entries[key];
  if (!entry) {
    try {
      entry = std::shared_ptr<T>(build());
    } catch (...) {
      shared.entries.erase(key);
      throw;
    }
  }
  return std::static_pointer_cast<T>(entry);
}

}  // namespace inferloop::detail
