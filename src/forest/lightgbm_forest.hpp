// detail::LightGBMForest: the flat, immutable form of a LightGBM model that
// LightGBMModel evaluates. Built once from a model the admission gate
// validated (src/model/lightgbm_admission.hpp), then only read, from any
// number of threads.
//
// Layout: the splits of every tree in one array, each 24 bytes (a double
// threshold, two children, a feature, LightGBM's decision_type); a child >= 0
// is a split in that array, a child < 0 the leaf ~child in leaf_values.
// Kept apart from the XGBoost evaluator (forest_model.hpp): LightGBM
// compares in double, sums in double and has other missing-value rules, so
// none of that layout carries over.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "inferloop/lightgbm.hpp"
#include "model/lightgbm_admission.hpp"

namespace inferloop::detail {

// LightGBM's kZeroThreshold: the float literal 1e-35f, compared as a double.
inline constexpr double kLightGBMZero = static_cast<double>(1e-35F);

// decision_type bits (LightGBM's tree.h).
inline constexpr std::uint8_t kLightGBMCategorical = 1;
inline constexpr std::uint8_t kLightGBMDefaultLeft = 2;
inline constexpr std::uint8_t kLightGBMMissingZero = 1;  // missing type, bits 2-3
inline constexpr std::uint8_t kLightGBMMissingNaN = 2;

struct LightGBMSplit {
  double threshold;     // numerical: left iff value <= threshold
  std::int32_t left;    // >= 0: a split; < 0: the leaf ~left
  std::int32_t right;
  std::uint32_t feature;
  std::uint8_t decision_type;
};
static_assert(sizeof(LightGBMSplit) == 24, "three words per split");

struct LightGBMForest {
  std::vector<LightGBMSplit> splits;
  std::vector<double> leaf_values;
  std::vector<std::int32_t> tree_root;  // per tree: a split, or ~leaf for a one-leaf tree
  // Categorical splits: split s reads the bitset words
  // category_words[category_begin[s] .. category_begin[s] + category_count[s]).
  // Empty when the model has no categorical split.
  std::vector<std::uint32_t> category_begin;
  std::vector<std::uint32_t> category_count;
  std::vector<std::uint32_t> category_words;

  std::size_t num_features = 0;
  std::size_t num_outputs = 1;  // num_class; tree t adds to output t % num_outputs
  std::size_t num_iterations = 0;
  LightGBMObjective objective;
  bool average_output = false;
  std::string objective_text;
  std::string format_version;
  std::vector<std::string> feature_names;
  std::string source_name;
};

// What may build a LightGBMModel from a LightGBMForest (its constructor is
// private to keep the public API to load() and parse()).
class LightGBMModelAccess {
 public:
  [[nodiscard]] static LightGBMModel make(std::shared_ptr<const LightGBMForest> forest);
  [[nodiscard]] static const LightGBMForest& forest(const LightGBMModel& model);
};

// The evaluator's layout of a model the gate admitted as LightGBM. Throws
// inferloop::Error naming the file when the model is not a LightGBM model,
// or has more than LightGBMModel::kMaxOutputs outputs.
[[nodiscard]] std::shared_ptr<const LightGBMForest> build_lightgbm_forest(const AdmittedModel& model);

}  // namespace inferloop::detail
