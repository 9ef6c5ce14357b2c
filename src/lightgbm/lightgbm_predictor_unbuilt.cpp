// LightGBMPredictor in a build without LightGBM's C header
// (cmake/InferloopLightGBM.cmake): the name stays registered, so a config
// that asks for it gets this explanation instead of "unknown predictor".
#include "lightgbm/lightgbm_predictor.hpp"

#include "inferloop/error.hpp"

namespace inferloop::detail {

std::unique_ptr<Predictor> make_lightgbm_predictor(const PredictorContext& context) {
  throw Error("LightGBMPredictor (model_uri '" + context.config.model_uri +
              "'): this inferloop was built without LightGBM's C header; rebuild with "
              "-DINFERLOOP_LIGHTGBM_INCLUDE_DIR=$(scripts/fetch_lightgbm_headers.py VENV), or use "
              "predictor_class_name: ForestPredictor, which evaluates LightGBM models natively");
}

}  // namespace inferloop::detail
