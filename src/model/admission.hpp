// The model admission gate: every model file inferloop serves, whichever
// predictor will load it, is read and structurally validated here first,
// and only a model that passes reaches libxgboost or ForestModel.
//
// Why: libxgboost trusts the layout of the file it loads. A child index out
// of range, a cycle, a split feature past the row, a num_trees or tree_info
// that disagrees with the trees gives it a SIGSEGV, heap corruption, a hang
// or silently wrong predictions, and inferloop runs inside trading engines.
//
// What the gate checks (each refusal names the file and the key):
//   - the bytes parse as JSON/UBJSON within parse_model_document()'s limits
//     (nesting depth, counts bounded by the file size, no duplicate keys);
//     the legacy binary format is refused (nothing can be checked in it);
//   - num_feature in [1, kMaxFeatures], num_class and num_target in
//     [0, kMaxOutputGroups], base_score readable (one value or one per group);
//   - the booster is gbtree, dart or gblinear; gbtree/dart: num_trees ==
//     trees == tree_info entries, every tree_info below the output groups,
//     iteration_indptr from 0 to the trees, one dart weight per tree, and
//     each tree is a tree: arrays of num_nodes entries, every child index
//     in range and reached once from the root (no cycles, self-loops or
//     shared children), every reachable split feature below num_feature,
//     parents in range, categorical splits whose category lists lie inside
//     `categories` and whose categories lie in [0, 2^24), with the bitsets
//     libxgboost builds from them bounded by the file size; gblinear:
//     (num_feature + 1) x groups weights;
//   - trees with vector leaves (size_leaf_vector > 1, multi_strategy
//     "multi_output_tree"): every tree of the model has them, one value per
//     output group; in xgboost 3.2's layout (leaf_weights, one vector per
//     leaf, each leaf's right_children naming its vector), every reachable
//     leaf's vector inside leaf_weights and its own; no categorical split
//     and no dart (xgboost trains and predicts neither with vector leaves).
//     The layout of xgboost 2.0-3.1 (no leaf_weights) is refused: libxgboost
//     3.2 cannot load it, and a 3.2 model's vectors mean nothing to an older
//     libxgboost (XGBoostPredictor checks the linked version).
// What it does not judge: whether ForestPredictor reproduces the objective
// exactly (gblinear, survival:aft, unknown objectives are valid models that
// XGBoostPredictor serves; forest_reader.cpp refuses them for
// ForestPredictor), or whether the linked libxgboost is new enough.
//
// The admitted model keeps the bytes it validated: XGBoostPredictor hands
// exactly those to libxgboost (XGBoosterLoadModelFromBuffer), so a file
// replaced after resolution cannot slip past the gate. It also keeps the
// validated trees, from which ForestPredictor builds its layout without
// parsing again.
//
// Thread safety: admit_model() is reentrant; an AdmittedModel is immutable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "inferloop/model_source.hpp"

namespace inferloop::detail {

// A dense row of this many float32 features is 16 MiB; inferloop passes
// every row densely, so wider models are refused rather than allocated.
inline constexpr std::int64_t kMaxFeatures = std::int64_t{1} << 22;
// Outputs per row (classes, targets, quantiles).
inline constexpr std::int64_t kMaxOutputGroups = std::int64_t{1} << 16;
// XGBoost's largest valid category (common::OutOfRangeCat): 2^24.
inline constexpr std::int64_t kMaxCategory = std::int64_t{1} << 24;
// Model files are read whole (and parsed into a DOM several times their
// size); anything larger is refused before it is read.
inline constexpr std::uintmax_t kMaxModelFileBytes = std::uintmax_t{1} << 30;

enum class BoosterKind { kGbtree, kDart, kGblinear };

struct AdmittedLightGBM;  // src/model/lightgbm_admission.hpp

// One tree as the file has it, validated: node i's children are in range,
// every node reachable from node 0 is reached once, and every reachable
// split's feature is below the model's num_feature.
struct AdmittedTree {
  struct Node {
    std::int32_t left;      // -1: a leaf
    std::int32_t right;     // a vector leaf's vector (see leaf_vectors); else -1 for a leaf
    std::uint32_t feature;  // meaningful for a reachable split only
    float value;            // split threshold, or the leaf's value
    bool default_left;      // where a missing value goes
    bool categorical;       // split_type 1: `value` is unused
  };
  std::vector<Node> nodes;
  // For a categorical node i, the categories that go right, sorted and
  // unique: categories[category_begin[i] .. category_begin[i + 1]). Both are
  // empty when the tree has no categorical split.
  std::vector<std::uint32_t> category_begin;
  std::vector<std::int32_t> categories;
  // Vector leaves (leaf_size > 1, one value per output group), as xgboost
  // 3.2 lays them out: a reachable leaf's values are
  // leaf_vectors[right * leaf_size .. (right + 1) * leaf_size). Scalar trees
  // (leaf_size 1) keep each leaf's value in `value` and no leaf_vectors.
  std::size_t leaf_size = 1;
  std::vector<float> leaf_vectors;

  // `leaf`'s value for output `output` (a scalar tree has only output 0).
  [[nodiscard]] float leaf_value(const Node& leaf, std::size_t output) const {
    if (leaf_size == 1) return leaf.value;
    return leaf_vectors[static_cast<std::size_t>(leaf.right) * leaf_size + output];
  }
};

struct AdmittedModel {
  std::string source_name;             // the file, as messages name it
  ModelFormat format = ModelFormat::kUbjson;
  std::vector<std::uint8_t> bytes;     // exactly what was validated
  std::vector<int> saved_by_version;   // {major, minor, patch}

  std::size_t num_features = 0;
  std::size_t num_class = 0;           // as saved: 0 unless multi-class
  std::size_t num_groups = 1;          // outputs per row: max(1, num_class, num_target)
  std::vector<float> base_score;       // one value, or one per group (3.1+)
  std::string objective;               // e.g. "binary:logistic"
  BoosterKind booster = BoosterKind::kGbtree;
  std::vector<AdmittedTree> trees;     // gbtree and dart; empty for gblinear
  // num_groups when the trees have vector leaves (each tree adds to every
  // output), else 1 (each tree adds to its tree_group).
  std::size_t leaf_size = 1;
  std::vector<std::uint32_t> tree_group;  // tree_info: each tree's output group
  std::vector<float> tree_weight;      // dart's weight_drop; empty for gbtree
  std::vector<std::string> feature_names;
  // A LightGBM text model (format kLightGBM), validated by
  // lightgbm_admission.hpp; null for XGBoost models, whose trees are above.
  std::shared_ptr<const AdmittedLightGBM> lightgbm;
};

// Validates a model in memory (kLightGBM: lightgbm_admission.hpp). Throws inferloop::Error
// "'<source_name>': <key>: <what is wrong>; <what to do>".
[[nodiscard]] std::shared_ptr<const AdmittedModel> admit_model(std::vector<std::uint8_t> bytes,
                                                               ModelFormat format,
                                                               std::string_view source_name);

// The format XGBoost would read `model_file` as: its extension (.json,
// .ubj), else its first two bytes `head` ('{' '"' JSON, '{' and a letter
// UBJSON, anything else the legacy binary format), except that a file whose
// first line is "tree" is a LightGBM text model (kLightGBM).
[[nodiscard]] ModelFormat sniff_model_format(const std::filesystem::path& model_file,
                                             std::span<const std::uint8_t> head);

// The whole of a model file: refuses anything but a regular file of at
// most kMaxModelFileBytes, naming it.
[[nodiscard]] std::vector<std::uint8_t> read_model_bytes(const std::filesystem::path& model_file);

// Reads and validates a model file (its format sniffed as XGBoost does).
// Refuses anything but a regular file of at most kMaxModelFileBytes.
[[nodiscard]] std::shared_ptr<const AdmittedModel> admit_model_file(
    const std::filesystem::path& model_file);

// The admission resolve_model() made for `model`; for a ResolvedModel built
// elsewhere (a LoopOptions::resolver, a test) the file is admitted now. So
// a predictor that starts from this never sees an unvalidated file.
[[nodiscard]] std::shared_ptr<const AdmittedModel> admission_of(const ResolvedModel& model);

}  // namespace inferloop::detail
