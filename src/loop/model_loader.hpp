// ModelLoader: turns model_uri into predictors, the same way for start(),
// every live reload and a backtest's compute threads.
//
// resolve() runs the loop's custom resolver (as a callback of the loop) or
// inferloop's own resolve_model() with the config's MLflow options and the
// loop's cancel flag. build() makes `count` predictors with the registry's
// factory, checks each against the loop's shape (the first build sets it)
// and against num_features and the MLmodel signature, and warms each up.
//
// Threads: any; the owner thread at start(), a reloading thread later.
// cancel() from any thread (stop()).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "inferloop/config.hpp"
#include "inferloop/inference_loop.hpp"
#include "inferloop/predictor.hpp"

namespace inferloop::detail {

struct ModelShape {
  std::size_t num_features = 0;  // 0: not known yet (the first build sets both)
  std::size_t num_outputs = 0;
};

class ModelLoader {
 public:
  ModelLoader(const void* loop, const InferenceConfig& config, const PredictorRegistry& registry,
              ModelResolver custom_resolver);

  [[nodiscard]] ResolvedModel resolve(const std::string& uri) const;
  [[nodiscard]] bool has_custom_resolver() const noexcept { return static_cast<bool>(custom_resolver_); }

  // Throws inferloop::Error naming the model, the replica and what differs.
  [[nodiscard]] std::vector<std::unique_ptr<Predictor>> build(const ResolvedModel& model,
                                                              std::size_t count,
                                                              ModelShape& shape) const;

  // Abandons a download in progress (MlflowOptions::cancel) and every later one.
  void cancel() noexcept { cancel_.store(true, std::memory_order_release); }
  [[nodiscard]] bool cancelled() const noexcept { return cancel_.load(std::memory_order_acquire); }
  [[nodiscard]] const std::atomic<bool>* cancel_flag() const noexcept { return &cancel_; }

 private:
  void check_width(const ResolvedModel& model, const Predictor& predictor) const;

  const void* const loop_;
  const InferenceConfig& config_;
  const PredictorRegistry& registry_;
  const ModelResolver custom_resolver_;
  // Written by cancel() (release); read by MLflow downloads (acquire).
  std::atomic<bool> cancel_{false};
};

}  // namespace inferloop::detail
