// ForestPredictor (see forest_predictor.hpp).
#include "forest/forest_predictor.hpp"

#include <memory>
#include <string>

#include "forest/cuda/cuda_forest_predictor.hpp"
#include "forest/forest_model.hpp"
#include "forest/lightgbm_forest_predictor.hpp"
#include "inferloop/error.hpp"
#include "inferloop/forest.hpp"
#include "model/admission.hpp"
#include "model/predictor_support.hpp"
#include "util/device.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

// predictor_threads > 1 gives the predictor its own ForestThreadPool: a batch
// of at least 2,048 rows (`inferloop predict` and backtests call with 4,096)
// is split over that many threads, with the same bits as one thread; smaller
// calls, the loop's usual one row, stay on the calling thread.
class ForestPredictor final : public Predictor {
 public:
  ForestPredictor(ForestModel model, const PredictorContext& context)
      : model_(std::move(model)),
        output_(context.config.output),
        model_file_(context.model.model_file.string()),
        num_features_(model_.num_features()),
        num_outputs_(model_.num_outputs(output_)),
        pool_(context.config.predictor_threads > 1
                  ? std::make_unique<ForestThreadPool>(
                        static_cast<std::size_t>(context.config.predictor_threads))
                  : nullptr) {}

  [[nodiscard]] std::size_t num_features() const noexcept override { return num_features_; }
  [[nodiscard]] std::size_t num_outputs() const noexcept override { return num_outputs_; }

  void predict(std::span<const float> features, std::size_t rows, std::span<float> out) override {
    check_predict_shape("ForestPredictor", features, rows, out, num_features_, num_outputs_);
    if (pool_) {
      model_.predict(features, rows, out, output_, *pool_);
    } else {
      model_.predict(features, rows, out, output_);
    }
  }

  [[nodiscard]] std::string describe() const override {
    const std::string version = version_text(model_.saved_by_version());
    return "ForestPredictor(" + model_file_ + ", " + model_.objective() + ", " +
           std::to_string(model_.num_trees()) + " trees, saved by xgboost " +
           (version.empty() ? "?" : version) + ", device cpu" +
           (pool_ ? ", " + std::to_string(pool_->threads()) + " threads" : "") + ")";
  }

 private:
  ForestModel model_;
  OutputKind output_;
  std::string model_file_;
  std::size_t num_features_;
  std::size_t num_outputs_;
  std::unique_ptr<ForestThreadPool> pool_;  // null: one thread (predictor_threads 1)
};

ForestModel share_or_load(const PredictorContext& context) {
  return *shared_model<ForestModel>(
      context.shared, "ForestPredictor:" + context.model.model_file.string(), [&] {
        // The model resolve_model() admitted: its trees are laid out without
        // reading or parsing the file again.
        return std::make_shared<ForestModel>(
            ForestModelAccess::make(build_forest(*admission_of(context.model))));
      });
}

}  // namespace

std::unique_ptr<Predictor> make_forest_predictor(const PredictorContext& context) {
  // A LightGBM model has its own evaluator (lightgbm_forest_predictor.hpp).
  if (admission_of(context.model)->format == ModelFormat::kLightGBM) {
    return make_lightgbm_forest_predictor(context);
  }
  if (parse_device(context.config.device).cuda) return make_cuda_forest_predictor(context);
  ForestModel model = share_or_load(context);
  check_model_width(context, model.num_features(), "learner_model_param.num_feature");
  return std::make_unique<ForestPredictor>(std::move(model), context);
}

}  // namespace inferloop::detail
