// ModelLoader: see model_loader.hpp.
#include "loop/model_loader.hpp"

#include <exception>

#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "loop/callback_scope.hpp"

namespace inferloop::detail {

ModelLoader::ModelLoader(const void* loop, const InferenceConfig& config,
                         const PredictorRegistry& registry, ModelResolver custom_resolver)
    : loop_(loop), config_(config), registry_(registry), custom_resolver_(std::move(custom_resolver)) {}

ResolvedModel ModelLoader::resolve(const std::string& uri) const {
  if (custom_resolver_) {
    CallbackScope scope(loop_);
    return custom_resolver_(uri);
  }
  MlflowOptions mlflow = mlflow_options(config_);
  mlflow.cancel = &cancel_;
  return resolve_model(uri, mlflow);
}

std::vector<std::unique_ptr<Predictor>> ModelLoader::build(const ResolvedModel& model,
                                                           std::size_t count,
                                                           ModelShape& shape) const {
  SharedPredictorState shared;
  std::vector<std::unique_ptr<Predictor>> predictors;
  predictors.reserve(count);
  for (std::size_t id = 0; id < count; ++id) {
    PredictorContext context{config_, model, id, shared};
    predictors.push_back(registry_.create(config_.predictor_class_name, context));
  }
  const Predictor& first = *predictors.front();
  if (shape.num_features == 0) {
    shape = {first.num_features(), first.num_outputs()};
  } else if (first.num_features() != shape.num_features ||
             first.num_outputs() != shape.num_outputs) {
    throw Error("the new model " + model.model_file.string() +
                (model.registry_version.empty() ? std::string()
                                                : " (registry version " + model.registry_version + ")") +
                " takes " + std::to_string(first.num_features()) + " features and gives " +
                std::to_string(first.num_outputs()) + " output(s) per row, but this loop serves " +
                std::to_string(shape.num_features) + " and " + std::to_string(shape.num_outputs) +
                ": a live reload cannot change the shape; restart the loop to serve it");
  }
  check_width(model, first);
  for (std::size_t id = 0; id < count; ++id) {
    Predictor& predictor = *predictors[id];
    if (predictor.num_features() != shape.num_features ||
        predictor.num_outputs() != shape.num_outputs) {
      throw Error("replica " + std::to_string(id) + " of '" + config_.model_uri +
                  "' reports a different shape than replica 0; every replica must serve the "
                  "same model");
    }
    try {
      predictor.warm_up();
    } catch (const std::exception& e) {
      throw Error("warm-up of replica " + std::to_string(id) + " (" + predictor.describe() +
                  ") failed: " + e.what());
    }
  }
  return predictors;
}

void ModelLoader::check_width(const ResolvedModel& model, const Predictor& predictor) const {
  const std::size_t width = predictor.num_features();
  if (config_.num_features != 0 && config_.num_features != width) {
    throw Error("num_features is " + std::to_string(config_.num_features) +
                " in the config, but the model '" + config_.model_uri + "' takes " +
                std::to_string(width) + " features per row; fix num_features (or remove it to " +
                "take the width from the model)");
  }
  if (!model.signature_inputs.empty() && model.signature_inputs.size() != width) {
    throw Error("the MLmodel signature of '" + config_.model_uri + "' lists " +
                std::to_string(model.signature_inputs.size()) + " inputs, but the model file " +
                model.model_file.string() + " takes " + std::to_string(width) +
                " features; the MLflow model folder is inconsistent: log the model again");
  }
}

}  // namespace inferloop::detail
