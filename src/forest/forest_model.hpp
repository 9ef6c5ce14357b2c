// detail::Forest: the flat, immutable form of an XGBoost tree ensemble that
// ForestModel evaluates. Built once by the reader (forest_reader.cpp) from
// a model the admission gate validated, then only read, from any number of
// threads.
//
// Layout: every tree is re-laid out breadth-first so that a node's two
// children are adjacent (right = left + 1). A node is 12 bytes; four fit in a
// cache line with room to spare, and the top levels of a tree share lines.
// Leaf values live in a parallel array indexed by node, read once per tree.
// A leaf is a node that never moves: threshold NaN (no value is >= NaN),
// missing-goes-right off, and `left` pointing at itself. That lets the
// evaluator walk several trees in lockstep for a fixed number of steps with
// no branch per node. The evaluator builds its own padded layout from this
// one (forest_layout.hpp) and walks these nodes only for the trees that
// layout cannot hold (categorical or very deep ones).
//
// Vector leaves (xgboost's multi_output_tree: one value per output in every
// leaf) are laid out as one scalar tree per output: a model tree with K
// outputs becomes K consecutive trees with the same splits, tree k adding
// leaf value k to output k. Each output then gets the float32 additions
// xgboost makes (out[k] += leaf[k], tree by tree) in the same order, and
// every evaluator (SIMD, tiled, CUDA) serves such models unchanged, at the
// cost of walking each tree's splits K times.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "forest/forest_kernels.hpp"
#include "forest/forest_layout.hpp"
#include "inferloop/forest.hpp"
#include "inferloop/model_source.hpp"

namespace inferloop::detail {

struct ForestNode {
  // Bits 0-28: feature index. Bit 30: a missing value goes right. Bit 29: the
  // split is categorical (set by the reader; the categorical walk checks it).
  std::uint32_t meta;
  float threshold;     // go right iff value >= threshold (or missing and bit 30)
  std::uint32_t left;  // index of the left child in Forest::nodes; right = left + 1
};
static_assert(sizeof(ForestNode) == 12, "three words per node keeps trees compact");

inline constexpr std::uint32_t kFeatureMask = (1u << 29) - 1;
inline constexpr std::uint32_t kCategoricalBit = 1u << 29;
inline constexpr std::uint32_t kMissingRightBit = 1u << 30;

// What XGBoost's objective does to the margin for the transformed output.
enum class ForestTransform {
  kIdentity,  // regression, rank:*, binary:logitraw
  kSigmoid,   // binary:logistic, reg:logistic
  kExp,       // count:poisson, reg:gamma, reg:tweedie, survival:cox
  kSoftmax,   // multi:softprob
  kArgmax,    // multi:softmax (the class index, as float)
  kHinge,     // binary:hinge (1 if margin > 0 else 0)
};

struct Forest {
  std::vector<ForestNode> nodes;
  std::vector<float> leaf_values;  // by node index; dart weights already applied

  // Per laid-out tree, in model order (a vector-leaf tree: its outputs in turn).
  std::vector<std::uint32_t> tree_root;
  std::vector<std::uint32_t> tree_depth;   // edges on the longest root-to-leaf path
  std::vector<std::uint32_t> tree_group;   // output group (tree_info)
  // Per block of kTreeBlock consecutive trees: the deepest tree's depth.
  std::vector<std::uint32_t> block_depth;

  // Categorical splits: for node i with kCategoricalBit, the sorted categories
  // that go right are category_values[category_ranges[i].begin .. end).
  // Empty when the model has no categorical split. Sorted lists rather than
  // bitsets: memory stays proportional to the file even for a category id
  // near XGBoost's limit of 2^24.
  struct CategoryRange {
    std::uint32_t begin = 0;
    std::uint32_t end = 0;
  };
  std::vector<CategoryRange> category_ranges;
  std::vector<std::int32_t> category_values;
  bool has_categorical = false;

  std::vector<float> base_margin;  // one per output group, already a margin
  std::size_t num_features = 0;
  std::size_t num_groups = 1;
  std::size_t layouts_per_tree = 1;  // K for a vector-leaf model, else 1
  ForestTransform transform = ForestTransform::kIdentity;
  std::string objective;
  std::vector<int> saved_by_version;
  std::vector<std::string> feature_names;
  std::string source_name;
};

// Trees per block of block_depth.
inline constexpr std::size_t kTreeBlock = 32;

struct AdmittedModel;  // src/model/admission.hpp

// What ForestModel evaluates: the reader's Forest and the layout built from
// it (forest_layout.hpp), both immutable and shared by copies of the model.
struct ForestEngine {
  std::shared_ptr<const Forest> forest;
  ForestLayout layout;
};

// What may build a ForestModel from a Forest (ForestModel's constructor is
// private to keep the public API to load() and parse()).
class ForestModelAccess {
 public:
  // Lays the forest out and chooses the kernels for this CPU.
  [[nodiscard]] static ForestModel make(std::shared_ptr<const Forest> forest);
  // `model` evaluated by `isa`'s kernels (tests and benchmarks compare the
  // paths). Throws inferloop::Error when this CPU cannot run them.
  // `walks` forces one walk for every batch (see ForestWalks), so that
  // tests run each walk of each set.
  [[nodiscard]] static ForestModel with_isa(const ForestModel& model, ForestIsa isa,
                                            ForestWalks walks = ForestWalks::kBySize);
  [[nodiscard]] static ForestIsa isa_of(const ForestModel& model) noexcept;
  [[nodiscard]] static const ForestEngine& engine_of(const ForestModel& model) noexcept;
};

// ForestModel's layout of a model the admission gate validated. Throws
// inferloop::Error naming the model's file and the key when ForestPredictor
// cannot reproduce it exactly (gblinear, survival:aft, an unknown
// objective, a base_score its objective cannot take) and saying to use
// XGBoostPredictor instead.
[[nodiscard]] std::shared_ptr<const Forest> build_forest(const AdmittedModel& model);

// admit_model() then build_forest(): the gate's refusals first, with the
// same messages every predictor gives. Never reads out of bounds, whatever
// the bytes.
[[nodiscard]] std::shared_ptr<const Forest> read_forest(std::span<const std::uint8_t> bytes,
                                                        ModelFormat format,
                                                        std::string_view source_name);

}  // namespace inferloop::detail
