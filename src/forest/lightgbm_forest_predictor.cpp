// ForestPredictor for LightGBM models (see lightgbm_forest_predictor.hpp).
#include "forest/lightgbm_forest_predictor.hpp"

#include <string>

#include "forest/lightgbm_forest.hpp"
#include "inferloop/error.hpp"
#include "inferloop/lightgbm.hpp"
#include "model/admission.hpp"
#include "model/predictor_support.hpp"

namespace inferloop::detail {
namespace {

class LightGBMForestPredictor final : public Predictor {
 public:
  LightGBMForestPredictor(LightGBMModel model, const PredictorContext& context)
      : model_(std::move(model)),
        output_(context.config.output),
        model_file_(context.model.model_file.string()),
        num_features_(model_.num_features()),
        num_outputs_(model_.num_outputs()) {}

  [[nodiscard]] std::size_t num_features() const noexcept override { return num_features_; }
  [[nodiscard]] std::size_t num_outputs() const noexcept override { return num_outputs_; }

  void predict(std::span<const float> features, std::size_t rows, std::span<float> out) override {
    check_predict_shape("ForestPredictor", features, rows, out, num_features_, num_outputs_);
    model_.predict(features, rows, out, output_);
  }

  [[nodiscard]] std::string describe() const override {
    const LightGBMForest& forest = LightGBMModelAccess::forest(model_);
    return "ForestPredictor(" + model_file_ + ", LightGBM " +
           (forest.objective_text.empty() ? std::string("custom objective") : forest.objective_text) +
           ", " + std::to_string(model_.num_trees()) + " trees, format " +
           (forest.format_version.empty() ? std::string("?") : forest.format_version) +
           ", device cpu)";
  }

 private:
  LightGBMModel model_;
  OutputKind output_;
  std::string model_file_;
  std::size_t num_features_;
  std::size_t num_outputs_;
};

LightGBMModel share_or_load(const PredictorContext& context) {
  return *shared_model<LightGBMModel>(
      context.shared, "ForestPredictor/LightGBM:" + context.model.model_file.string(), [&] {
        // The model the gate admitted at resolution: laid out without reading
        // or parsing the file again.
        return std::make_shared<LightGBMModel>(
            LightGBMModelAccess::make(build_lightgbm_forest(*admission_of(context.model))));
      });
}

}  // namespace

std::unique_ptr<Predictor> make_lightgbm_forest_predictor(const PredictorContext& context) {
  const InferenceConfig& config = context.config;
  if (config.device != "cpu") {
    throw Error("device: " + config.device + ": ForestPredictor evaluates LightGBM models on " +
                "the CPU only (its CUDA evaluator reads XGBoost models); set device: cpu");
  }
  LightGBMModel model = share_or_load(context);
  check_model_width(context, model.num_features(), "max_feature_idx + 1");
  return std::make_unique<LightGBMForestPredictor>(std::move(model), context);
}

}  // namespace inferloop::detail
