// The model admission gate for LightGBM text models (what LightGBM's
// Booster.save_model and model_to_string write, versions 3.x and 4.x): the
// same promise admission.hpp makes for XGBoost files, for the models that
// ForestPredictor evaluates itself and that a predictor over lib_lightgbm
// (LightGBM's C API, the planned LightGBMPredictor) could be
// handed safely.
//
// Why: lib_lightgbm's loader trusts the file. It finds trees by the byte
// offsets in tree_sizes without checking they lie in the buffer, walks a
// tree by child indices it never checks (an index out of range, or a cycle,
// reads wild memory or never ends), reads the row at split features it
// never checks against max_feature_idx, indexes categorical bitsets by
// cat_boundaries it never checks, writes num_tree_per_iteration outputs
// into a buffer of num_class, and divides by num_tree_per_iteration. Every
// one of those is checked here, on the text as lib_lightgbm reads it
// (lightgbm_text.hpp), and a refusal names the file, the line and what to do.
//
// What the gate checks (beyond lightgbm_text.hpp's reading rules):
//   - header: num_class in [1, kMaxOutputGroups], num_tree_per_iteration
//     equal to it, label_index, max_feature_idx + 1 in [1, kMaxFeatures],
//     feature_names and feature_infos with one entry per feature,
//     monotone_constraints (when present) likewise, tree_sizes present;
//   - objective: one LightGBM knows, with the parameters its loader needs
//     (binary and multiclassova a sigmoid > 0, multiclass and multiclassova
//     a num_class equal to the header's; other objectives num_class 1);
//   - trees: at least one, a whole number of iterations; each tree at the
//     offset tree_sizes gives, num_leaves >= 1, every array of the length
//     the loader reads, every child index in range and every node reached
//     once from the root, split features <= max_feature_idx, decision_type
//     a known missing type (None, Zero, NaN) with default_left and the
//     categorical bit only where num_cat > 0; a categorical split's
//     threshold an index below num_cat and cat_boundaries rising inside
//     cat_threshold;
//   - linear trees (is_linear=1, or [linear_tree: 1] in the parameters) are
//     refused: ForestPredictor does not evaluate them.
// The sizes of everything kept are bounded by the number of tokens in the
// file, so no count in a small file makes a large allocation.
//
// Thread safety: admit_lightgbm_model() is reentrant; the result is immutable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace inferloop::detail {

struct AdmittedModel;

// What an objective does to the summed raw score, as LightGBM's
// ObjectiveFunction::ConvertOutput does it.
enum class LightGBMObjectiveKind {
  kNone,                // custom (or no objective line): the raw score
  kRegression,          // regression, regression_l1, fair, quantile, mape (sqrt: sign(x) x x)
  kHuber,               // huber: the raw score (LightGBM ignores sqrt for it)
  kExponential,         // poisson, gamma, tweedie: exp(x)
  kBinary,              // binary: 1 / (1 + exp(-sigmoid x))
  kMulticlass,          // multiclass: softmax
  kMulticlassOva,       // multiclassova: binary's sigmoid per class
  kCrossEntropy,        // cross_entropy: 1 / (1 + exp(-x))
  kCrossEntropyLambda,  // cross_entropy_lambda: log1p(exp(x))
  kRanking,             // lambdarank, rank_xendcg: the raw score
};

struct LightGBMObjective {
  LightGBMObjectiveKind kind = LightGBMObjectiveKind::kNone;
  std::string name;        // LightGBM's name: "binary", "multiclass", ...; "" without one
  double sigmoid = 1.0;    // binary, multiclassova: as LightGBM's Atof read it
  bool sqrt = false;       // the regression family's reg_sqrt ("regression sqrt")
};

// One tree, validated. Internal nodes are 0 .. num_leaves - 2 (node 0 the
// root); a child >= 0 is an internal node, a child < 0 the leaf ~child.
struct AdmittedLightGBMTree {
  struct Split {
    std::int32_t left;
    std::int32_t right;
    std::uint32_t feature;  // <= max_feature_idx
    double threshold;       // numerical: left iff value <= threshold; categorical: the cat index
    // LightGBM's decision_type: bit 0 categorical, bit 1 default_left,
    // bits 2-3 missing type (0 None, 1 Zero, 2 NaN).
    std::uint8_t decision_type;
  };
  std::vector<Split> splits;        // num_leaves - 1
  std::vector<double> leaf_values;  // num_leaves
  // Categorical splits: split s with bit 0 set reads the bitset
  // cat_threshold[cat_boundaries[c] .. cat_boundaries[c + 1]), c = threshold.
  std::vector<std::uint32_t> cat_boundaries;  // num_cat + 1; empty when num_cat is 0
  std::vector<std::uint32_t> cat_threshold;
};

struct AdmittedLightGBM {
  std::string format_version;   // "v4", as the file's version= line says
  std::size_t num_features = 0;  // max_feature_idx + 1
  std::size_t num_class = 1;     // outputs per row; also trees per iteration
  LightGBMObjective objective;
  std::string objective_text;   // the objective= line as written ("" without one)
  bool average_output = false;  // random forest: the transformed output averages iterations
  std::vector<std::string> feature_names;
  std::vector<AdmittedLightGBMTree> trees;  // iteration-major: tree t adds to output t % num_class
};

// Validates a LightGBM text model in memory. Throws inferloop::Error
// "'<source_name>': line N: <what is wrong>; <what to do>". The result has
// format kLightGBM, the bytes, num_features, num_class, num_groups,
// objective (the objective= text), feature_names and `lightgbm` set.
[[nodiscard]] std::shared_ptr<const AdmittedModel> admit_lightgbm_model(
    std::vector<std::uint8_t> bytes, std::string_view source_name);

// Whether `head` (a file's first bytes) is how a LightGBM text model begins:
// the line "tree" (SubModelName()).
[[nodiscard]] bool looks_like_lightgbm_text(std::span<const std::uint8_t> head) noexcept;

}  // namespace inferloop::detail
