// ForestPredictor on a CUDA device (see cuda_forest_predictor.hpp).
#include "forest/cuda/cuda_forest_predictor.hpp"

#include <string>
#include <utility>

#include "forest/cuda/cuda_evaluator.hpp"
#include "forest/cuda/device_layout.hpp"
#include "forest/forest_model.hpp"
#include "forest/forest_predictor.hpp"
#include "inferloop/error.hpp"
#include "model/admission.hpp"
#include "model/predictor_support.hpp"
#include "util/device.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

// What the replicas on one device share: the reader's forest (for the
// width, the objective, the description) and its copy on the device.
struct CudaForestModel {
  std::shared_ptr<const Forest> forest;
  std::shared_ptr<const gpu::DeviceForest> device;
};

class CudaForestPredictor final : public Predictor {
 public:
  CudaForestPredictor(std::shared_ptr<const CudaForestModel> model, const PredictorContext& context)
      : model_(std::move(model)),
        evaluator_(model_->device, context.config.output == OutputKind::kTransformed),
        model_file_(context.model.model_file.string()),
        num_features_(evaluator_.num_features()),
        num_outputs_(evaluator_.outputs_per_row()) {}

  [[nodiscard]] std::size_t num_features() const noexcept override { return num_features_; }
  [[nodiscard]] std::size_t num_outputs() const noexcept override { return num_outputs_; }

  void predict(std::span<const float> features, std::size_t rows, std::span<float> out) override {
    check_predict_shape("ForestPredictor", features, rows, out, num_features_, num_outputs_);
    evaluator_.predict(features, rows, out);
  }

  [[nodiscard]] std::string describe() const override {
    const Forest& forest = *model_->forest;
    return "ForestPredictor(" + model_file_ + ", " + forest.objective + ", " +
           std::to_string(forest.tree_root.size()) + " trees, saved by xgboost " +
           (forest.saved_by_version.empty() ? "?" : version_text(forest.saved_by_version)) +
           ", device " + gpu::describe_device(*model_->device) + ")";
  }

 private:
  std::shared_ptr<const CudaForestModel> model_;
  gpu::CudaEvaluator evaluator_;
  std::string model_file_;
  std::size_t num_features_;
  std::size_t num_outputs_;
};

std::shared_ptr<const CudaForestModel> share_or_upload(const PredictorContext& context,
                                                       int ordinal) {
  const std::string key = "ForestPredictor:cuda:" + std::to_string(ordinal) + ":" +
                          context.model.model_file.string();
  return shared_model<CudaForestModel>(context.shared, key, [&] {
    auto model = std::make_shared<CudaForestModel>();
    // The model resolve_model() admitted, laid out by the same reader as on
    // the CPU (so refused where ForestPredictor cannot be exact).
    model->forest = build_forest(*admission_of(context.model));
    model->device = gpu::upload_forest(gpu::build_device_layout(*model->forest), ordinal);
    return model;
  });
}

}  // namespace

std::unique_ptr<Predictor> make_cuda_forest_predictor(const PredictorContext& context) {
  const DeviceSpec device = parse_device(context.config.device);
  auto model = share_or_upload(context, device.ordinal);
  check_model_width(context, model->forest->num_features, "learner_model_param.num_feature");
  return std::make_unique<CudaForestPredictor>(std::move(model), context);
}

}  // namespace inferloop::detail
