// What every built-in predictor (XGBoost, ForestPredictor on CPU, CUDA and
// LightGBM models) does the same way: refuse a predict() call whose buffers
// do not fit the model, and share one immutable model among the replicas of
// one start() through PredictorContext::shared.
//
// Threads: check_predict_shape() is pure; shared_model() takes
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
