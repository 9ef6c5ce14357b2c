// libFuzzer target for the LightGBM text model reader: the admission gate
// (src/model/lightgbm_admission.hpp, over lightgbm_text.hpp) and
// LightGBMModel behind it. Any bytes must be admitted or refused with an
// inferloop::Error; never a crash, a bad read, a hang or a runaway
// allocation.
//
// An admitted model is checked against what the gate promises every
// predictor (each tree's children in range and each node reached once from
// the root, features below num_features, categorical splits indexing a
// rising cat_boundaries inside cat_threshold, whole iterations of num_class
// trees); a broken promise traps. Then it is laid out for ForestPredictor
// (or refused for it with an Error) and evaluated on three rows (NaN, zero,
// mixed values), raw and transformed, so the walk's safety is fuzzed too.
// Build and run: see docs/fuzzing.md.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "inferloop/error.hpp"
#include "inferloop/lightgbm.hpp"
#include "model/admission.hpp"
#include "model/lightgbm_admission.hpp"

namespace {

using inferloop::detail::AdmittedLightGBM;
using inferloop::detail::AdmittedLightGBMTree;

void require(bool promise) {
  if (!promise) __builtin_trap();
}

void check_tree(const AdmittedLightGBMTree& tree, std::size_t num_features) {
  const std::size_t num_leaves = tree.leaf_values.size();
  require(num_leaves >= 1 && tree.splits.size() == num_leaves - 1);
  if (!tree.cat_boundaries.empty()) {
    require(tree.cat_boundaries.front() == 0);
    for (std::size_t c = 1; c < tree.cat_boundaries.size(); ++c) {
      require(tree.cat_boundaries[c] >= tree.cat_boundaries[c - 1]);
    }
    require(tree.cat_boundaries.back() == tree.cat_threshold.size());
  }
  if (tree.splits.empty()) return;
  // Each node reached once: a walk from the root visits every split once.
  std::vector<std::size_t> pending{0};
  std::size_t visited = 0;
  while (!pending.empty()) {
    const AdmittedLightGBMTree::Split& split = tree.splits[pending.back()];
    pending.pop_back();
    require(++visited <= tree.splits.size());
    require(split.feature < num_features);
    if ((split.decision_type & 1) != 0) {
      require(split.threshold >= 0.0 &&
              split.threshold + 1 < static_cast<double>(tree.cat_boundaries.size()));
    }
    for (const std::int32_t child : {split.left, split.right}) {
      if (child < 0) {
        require(static_cast<std::size_t>(~child) < num_leaves);
      } else {
        require(static_cast<std::size_t>(child) < tree.splits.size());
        pending.push_back(static_cast<std::size_t>(child));
      }
    }
  }
}

void evaluate(const inferloop::LightGBMModel& model) {
  // Wide models are valid, but a row of millions of features is not worth
  // allocating on every input.
  if (model.num_features() > (1u << 16)) return;
  const std::size_t rows = 3;
  const std::size_t width = model.num_features();
  std::vector<float> features(rows * width, std::numeric_limits<float>::quiet_NaN());
  for (std::size_t i = 0; i < width; ++i) {
    features[width + i] = 0.0F;
    features[2 * width + i] = static_cast<float>(i % 7) - 2.5F;
  }
  std::vector<double> out(rows * model.num_outputs());
  model.predict(features, rows, out, inferloop::OutputKind::kMargin);
  model.predict(features, rows, out, inferloop::OutputKind::kTransformed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const auto admitted = inferloop::detail::admit_model(
        std::move(bytes), inferloop::ModelFormat::kLightGBM, "fuzz.txt");
    require(admitted->lightgbm != nullptr);
    const AdmittedLightGBM& model = *admitted->lightgbm;
    require(model.num_features >= 1 && model.num_class >= 1);
    require(model.feature_names.size() == model.num_features);
    require(!model.trees.empty() && model.trees.size() % model.num_class == 0);
    for (const AdmittedLightGBMTree& tree : model.trees) check_tree(tree, model.num_features);
    try {
      evaluate(inferloop::LightGBMModel::parse(std::span(data, size), "fuzz.txt"));
    } catch (const inferloop::Error&) {
      // Admitted but not evaluated natively (e.g. too many outputs).
    }
  } catch (const inferloop::Error&) {
    // The expected outcome for most inputs.
  }
  return 0;
}
