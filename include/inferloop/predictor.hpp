// Predictor: one replica's model, predicting a batch of rows into a
// caller-owned buffer; and PredictorRegistry, which maps
// `predictor_class_name` to a factory.
//
// Lifecycle: the loop creates one Predictor per replica at start(), calls
// warm_up() once, and then calls predict() only from that replica's worker
// thread, never concurrently on the same object. A predictor may share state
// with its sibling replicas through PredictorContext::shared (e.g. one
// booster), but then it must make that shared state safe to use from several
// threads at once.
//
// Errors: a constructor/factory throws inferloop::Error when the model cannot
// be loaded or represented. predict() may throw anything; the loop counts it,
// records it as last_error, hands it to the error handler and keeps serving.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "inferloop/config.hpp"
#include "inferloop/model_source.hpp"

namespace inferloop {

class Predictor {
 public:
  virtual ~Predictor() = default;

  // Features per row this predictor expects.
  [[nodiscard]] virtual std::size_t num_features() const noexcept = 0;
  // Values per row it writes (1 for regression/binary, num_class for softprob).
  [[nodiscard]] virtual std::size_t num_outputs() const noexcept = 0;

  // Predicts `rows` rows of `features` (row-major, rows x num_features())
  // into `out` (rows x num_outputs()). NaN is a missing value.
  // REQUIRES: features.size() == rows * num_features(),
  //           out.size() == rows * num_outputs(), rows >= 1.
  virtual void predict(std::span<const float> features, std::size_t rows,
                       std::span<float> out) = 0;

  // One prediction on a row of NaNs, so that lazy set-up (XGBoost configures
  // its learner on the first call) happens before the first real snapshot.
  virtual void warm_up();

  // One line for logs: class, model file, device.
  [[nodiscard]] virtual std::string describe() const = 0;
};

// What a factory gets. `shared` lives for one start() (or one batch-scoring
// run) and is the same object for every replica, so replicas can share
// expensive state: look it up by a key of your own.
struct SharedPredictorState {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<void>> entries;
};

struct PredictorContext {
  const InferenceConfig& config;
  const ResolvedModel& model;
  std::size_t replica_id = 0;
  SharedPredictorState& shared;
};

using PredictorFactory = std::function<std::unique_ptr<Predictor>(const PredictorContext&)>;

// Thread safety: all members may be called from any thread.
class PredictorRegistry {
 public:
  // The registry InferenceLoop uses; XGBoostPredictor is registered in it.
  static PredictorRegistry& global();

  // Throws inferloop::Error if `name` is already registered.
  void add(std::string name, PredictorFactory factory);

  // Throws inferloop::Error for an unknown name, listing the known ones.
  [[nodiscard]] std::unique_ptr<Predictor> create(const std::string& name,
                                                  const PredictorContext& context) const;

  [[nodiscard]] bool contains(const std::string& name) const;
  [[nodiscard]] std::vector<std::string> names() const;  // sorted

 private:
  mutable std::mutex mutex_;
  std::map<std::string, PredictorFactory> factories_;  // guarded by mutex_
};

// The XGBoost version the linked libxgboost reports, e.g. {1, 7, 4}.
[[nodiscard]] std::vector<int> linked_xgboost_version();

}  // namespace inferloop
