// ForestModel::load: a model file from disk, through the model admission
// gate (src/model/admission.hpp), the same reading every predictor's model
// gets. Kept apart from the evaluator (forest_model.cpp).
#include "forest/forest_model.hpp"
#include "inferloop/forest.hpp"
#include "model/admission.hpp"

namespace inferloop {

ForestModel ForestModel::load(const std::filesystem::path& model_file) {
  return detail::ForestModelAccess::make(detail::build_forest(*detail::admit_model_file(model_file)));
}

}  // namespace inferloop
