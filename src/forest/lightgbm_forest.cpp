// LightGBMModel: its layout (from the admitted model) and its evaluation,
// LightGBM's arithmetic step for step:
//   - the row: LightGBM's C API widens each float to double and drops the
//     values with |x| <= kZeroThreshold (RowPairFunctionFromDenseMatrix),
//     so they read as 0.0;
//   - a numerical split (Tree::NumericalDecision): NaN reads as 0.0 unless
//     the split's missing type is NaN; missing type Zero sends 0.0, and
//     missing type NaN sends NaN, to the default side; anything else goes
//     left iff value <= threshold, compared in double;
//   - a categorical split (Tree::CategoricalDecision): NaN and negative
//     values go right; otherwise the value truncated to int is looked up in
//     the split's bitset, found -> left;
//   - each output sums its trees' leaves in double, in tree order, from 0.0
//     (GBDT::PredictRaw); a random forest then divides by the iterations
//     (GBDT::Predict, transformed output only), and the objective's
//     ConvertOutput transforms the sums.
// docs/lightgbm.md says how the agreement tests prove it against lightgbm.
#include "forest/lightgbm_forest.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "inferloop/error.hpp"
#include "model/admission.hpp"
#include "util/text.hpp"

namespace inferloop {
namespace detail {
namespace {

// The row value LightGBM's predictor reads for `value`.
inline double widened(float value) noexcept {
  const double widened_value = static_cast<double>(value);
  // RowPairFunctionFromDenseMatrix keeps fabs(x) > kZeroThreshold or NaN.
  return std::fabs(widened_value) <= kLightGBMZero ? 0.0 : widened_value;
}

inline bool category_goes_left(const LightGBMForest& forest, std::size_t split, double value) noexcept {
  // static_cast<int>(value) in LightGBM: NaN and negatives go right; values
  // past int's range convert to INT_MIN on x86-64 (and saturate elsewhere),
  // which also ends on the right.
  if (!(value > -1.0) || value >= 2147483648.0) return false;
  const auto category = static_cast<std::uint32_t>(static_cast<std::int32_t>(value));
  const std::uint32_t word = category / 32;
  if (word >= forest.category_count[split]) return false;
  return ((forest.category_words[forest.category_begin[split] + word] >> (category % 32)) & 1U) != 0;
}

inline std::int32_t next_node(const LightGBMForest& forest, std::size_t split_index,
                              const float* row) noexcept {
  const LightGBMSplit& split = forest.splits[split_index];
  double value = widened(row[split.feature]);
  if ((split.decision_type & kLightGBMCategorical) != 0) {
    return category_goes_left(forest, split_index, value) ? split.left : split.right;
  }
  const std::uint8_t missing = (split.decision_type >> 2) & 3;
  if (std::isnan(value) && missing != kLightGBMMissingNaN) value = 0.0;
  if ((missing == kLightGBMMissingZero && value == 0.0) ||
      (missing == kLightGBMMissingNaN && std::isnan(value))) {
    return (split.decision_type & kLightGBMDefaultLeft) != 0 ? split.left : split.right;
  }
  return value <= split.threshold ? split.left : split.right;
}

// GBDT::PredictRaw for one row into `sums` (num_outputs doubles).
void raw_scores(const LightGBMForest& forest, const float* row, double* sums) noexcept {
  const std::size_t outputs = forest.num_outputs;
  std::fill(sums, sums + outputs, 0.0);
  const std::size_t trees = forest.tree_root.size();
  for (std::size_t tree = 0, output = 0; tree < trees; ++tree) {
    std::int32_t node = forest.tree_root[tree];
    while (node >= 0) node = next_node(forest, static_cast<std::size_t>(node), row);
    sums[output] += forest.leaf_values[static_cast<std::size_t>(~node)];
    if (++output == outputs) output = 0;
  }
}

// 1.0f / (1.0f + std::exp(-sigmoid_ * x)) in LightGBM: the float literals
// widen to double.
inline double sigmoid(double scale, double x) noexcept { return 1.0 / (1.0 + std::exp(-scale * x)); }

// GBDT::Predict after PredictRaw: the average, then ConvertOutput.
void transform(const LightGBMForest& forest, double* sums) noexcept {
  const std::size_t outputs = forest.num_outputs;
  if (forest.average_output) {
    for (std::size_t k = 0; k < outputs; ++k) sums[k] /= static_cast<double>(forest.num_iterations);
  }
  const LightGBMObjective& objective = forest.objective;
  switch (objective.kind) {
    case LightGBMObjectiveKind::kNone:
    case LightGBMObjectiveKind::kHuber:
    case LightGBMObjectiveKind::kRanking:
      return;
    case LightGBMObjectiveKind::kRegression:
      if (objective.sqrt) {
        // Common::Sign(x) * x * x: an int sign times x, then times x.
        const double x = sums[0];
        sums[0] = static_cast<double>((x > 0.0) - (x < 0.0)) * x * x;
      }
      return;
    case LightGBMObjectiveKind::kExponential:
      sums[0] = std::exp(sums[0]);
      return;
    case LightGBMObjectiveKind::kBinary:
      sums[0] = sigmoid(objective.sigmoid, sums[0]);
      return;
    case LightGBMObjectiveKind::kMulticlassOva:
      for (std::size_t k = 0; k < outputs; ++k) sums[k] = sigmoid(objective.sigmoid, sums[k]);
      return;
    case LightGBMObjectiveKind::kCrossEntropy:
      sums[0] = 1.0 / (1.0 + std::exp(-sums[0]));
      return;
    case LightGBMObjectiveKind::kCrossEntropyLambda:
      sums[0] = std::log1p(std::exp(sums[0]));
      return;
    case LightGBMObjectiveKind::kMulticlass: {
      // Common::Softmax: std::max(input[i], wmax), exp of the difference,
      // summed in order, each divided by the sum.
      double largest = sums[0];
      for (std::size_t k = 1; k < outputs; ++k) largest = std::max(sums[k], largest);
      double total = 0.0;
      for (std::size_t k = 0; k < outputs; ++k) {
        sums[k] = std::exp(sums[k] - largest);
        total += sums[k];
      }
      for (std::size_t k = 0; k < outputs; ++k) sums[k] /= total;
      return;
    }
  }
}

void predict_row(const LightGBMForest& forest, const float* row, double* out,
                 OutputKind kind) noexcept {
  raw_scores(forest, row, out);
  if (kind == OutputKind::kTransformed) transform(forest, out);
}

}  // namespace

LightGBMModel LightGBMModelAccess::make(std::shared_ptr<const LightGBMForest> forest) {
  return LightGBMModel(std::move(forest));
}

const LightGBMForest& LightGBMModelAccess::forest(const LightGBMModel& model) {
  return *model.forest_;
}

std::shared_ptr<const LightGBMForest> build_lightgbm_forest(const AdmittedModel& model) {
  const std::string source = quote_path(model.source_name);
  if (!model.lightgbm) {
    throw Error(source + ": not a LightGBM model (it is an XGBoost " + to_string(model.format) +
                " model); load it with inferloop::ForestModel");
  }
  const AdmittedLightGBM& admitted = *model.lightgbm;
  if (admitted.num_class > LightGBMModel::kMaxOutputs) {
    throw Error(source + ": the model has " + std::to_string(admitted.num_class) +
                " outputs per row (num_class); ForestPredictor evaluates at most " +
                std::to_string(LightGBMModel::kMaxOutputs) +
                "; inferloop has no other LightGBM predictor yet");
  }
  auto forest = std::make_shared<LightGBMForest>();
  forest->num_features = admitted.num_features;
  forest->num_outputs = admitted.num_class;
  forest->num_iterations = admitted.trees.size() / admitted.num_class;
  forest->objective = admitted.objective;
  forest->average_output = admitted.average_output;
  forest->objective_text = admitted.objective_text;
  forest->format_version = admitted.format_version;
  forest->feature_names = admitted.feature_names;
  forest->source_name = model.source_name;

  std::size_t total_splits = 0;
  std::size_t total_leaves = 0;
  for (const AdmittedLightGBMTree& tree : admitted.trees) {
    total_splits += tree.splits.size();
    total_leaves += tree.leaf_values.size();
  }
  constexpr auto kMaxIndex = static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max());
  if (total_splits > kMaxIndex || total_leaves > kMaxIndex) {
    throw Error(source + ": the model has more nodes than ForestPredictor's 32-bit layout holds "
                         "(2^31 splits or leaves); train a smaller model");
  }
  const bool categorical = std::any_of(admitted.trees.begin(), admitted.trees.end(),
                                       [](const auto& tree) { return !tree.cat_boundaries.empty(); });
  forest->splits.reserve(total_splits);
  forest->leaf_values.reserve(total_leaves);
  if (categorical) {
    forest->category_begin.assign(total_splits, 0);
    forest->category_count.assign(total_splits, 0);
  }
  for (const AdmittedLightGBMTree& tree : admitted.trees) {
    const auto split_base = static_cast<std::int32_t>(forest->splits.size());
    const auto leaf_base = static_cast<std::int32_t>(forest->leaf_values.size());
    // Children renumbered into the shared arrays: a split by offset, a leaf
    // ~(leaf_base + leaf), so that ~child indexes leaf_values directly.
    auto place = [&](std::int32_t child) { return child >= 0 ? split_base + child : ~(leaf_base + ~child); };
    forest->tree_root.push_back(tree.splits.empty() ? ~leaf_base : split_base);
    const auto word_base = static_cast<std::uint32_t>(forest->category_words.size());
    for (const AdmittedLightGBMTree::Split& split : tree.splits) {
      if ((split.decision_type & kLightGBMCategorical) != 0) {
        // The gate checked: an integral index below num_cat, rising boundaries.
        const auto set = static_cast<std::size_t>(split.threshold);
        forest->category_begin[forest->splits.size()] = word_base + tree.cat_boundaries[set];
        forest->category_count[forest->splits.size()] =
            tree.cat_boundaries[set + 1] - tree.cat_boundaries[set];
      }
      forest->splits.push_back(LightGBMSplit{split.threshold, place(split.left), place(split.right),
                                             split.feature, split.decision_type});
    }
    forest->leaf_values.insert(forest->leaf_values.end(), tree.leaf_values.begin(),
                               tree.leaf_values.end());
    forest->category_words.insert(forest->category_words.end(), tree.cat_threshold.begin(),
                                  tree.cat_threshold.end());
  }
  return forest;
}

}  // namespace detail

LightGBMModel::LightGBMModel(std::shared_ptr<const detail::LightGBMForest> forest)
    : forest_(std::move(forest)) {}

LightGBMModel LightGBMModel::load(const std::filesystem::path& model_file) {
  return LightGBMModel(detail::build_lightgbm_forest(*detail::admit_model_file(model_file)));
}

LightGBMModel LightGBMModel::parse(std::span<const std::uint8_t> bytes, std::string_view source_name) {
  return LightGBMModel(detail::build_lightgbm_forest(*detail::admit_model(
      std::vector<std::uint8_t>(bytes.begin(), bytes.end()), ModelFormat::kLightGBM, source_name)));
}

std::size_t LightGBMModel::num_features() const noexcept { return forest_->num_features; }
std::size_t LightGBMModel::num_outputs() const noexcept { return forest_->num_outputs; }
std::size_t LightGBMModel::num_trees() const noexcept { return forest_->tree_root.size(); }
const std::string& LightGBMModel::objective() const noexcept { return forest_->objective_text; }
const std::vector<std::string>& LightGBMModel::feature_names() const noexcept {
  return forest_->feature_names;
}

void LightGBMModel::predict(std::span<const float> features, std::size_t rows,
                            std::span<double> out, OutputKind kind) const noexcept {
  const detail::LightGBMForest& forest = *forest_;
  for (std::size_t row = 0; row < rows; ++row) {
    detail::predict_row(forest, features.data() + row * forest.num_features,
                        out.data() + row * forest.num_outputs, kind);
  }
}

void LightGBMModel::predict(std::span<const float> features, std::size_t rows,
                            std::span<float> out, OutputKind kind) const noexcept {
  const detail::LightGBMForest& forest = *forest_;
  std::array<double, kMaxOutputs> sums;  // build_lightgbm_forest refuses more outputs
  for (std::size_t row = 0; row < rows; ++row) {
    detail::predict_row(forest, features.data() + row * forest.num_features, sums.data(), kind);
    for (std::size_t k = 0; k < forest.num_outputs; ++k) {
      out[row * forest.num_outputs + k] = static_cast<float>(sums[k]);
    }
  }
}

}  // namespace inferloop
