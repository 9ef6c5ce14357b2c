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
// no branch per node. Shallow numerical blocks also get the compact layout
// (PerfectNode below), which the evaluator prefers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// The compact layout for shallow numerical trees: a tree of depth D is stored
// as a complete binary tree in heap order (children of i at 2i+1 and 2i+2),
// 2^(D+1) - 1 nodes, so a step needs no child index. A leaf above depth D is
// pushed down: every node of its subtree is a filler and every slot at depth
// D holds a copy of its value, so whatever the row, the walk ends on a copy.
// At depth D a node's threshold is the leaf value.
//
// `feature` indexes the expanded row: [0, width) is the row as given, [width,
// 2 width) the row with NaN replaced by +inf. A missing-goes-right split reads
// the second half, where NaN becomes +inf and goes right (nothing is above
// +inf; thresholds are never NaN here); a missing-goes-left split reads the
// first half, where NaN >= threshold is false. A present value is the same in
// both halves, so `value >= threshold` alone is XGBoost's !(value < threshold)
// with its default direction, and the step has no NaN test.
struct PerfectNode {
  std::uint32_t feature;
  float threshold;
};
static_assert(sizeof(PerfectNode) == 8, "two words per node");

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

  // Per tree, in model order.
  std::vector<std::uint32_t> tree_root;
  std::vector<std::uint32_t> tree_depth;   // edges on the longest root-to-leaf path
  std::vector<std::uint32_t> tree_group;   // output group (tree_info)
  // Per block of kTreeBlock consecutive trees: the deepest tree's depth.
  std::vector<std::uint32_t> block_depth;

  // The compact layout (see PerfectNode), built for a block whose depth is at
  // most kPerfectMaxDepth when the model has no categorical split and its
  // expanded row fits kExpandedRowCapacity. Every tree of such a block is
  // padded to the block's depth, so the block walks in lockstep unchanged.
  std::vector<PerfectNode> perfect_nodes;
  std::vector<std::uint32_t> perfect_root;     // per tree; meaningful in a perfect block
  std::vector<std::uint8_t> block_perfect;     // per block: 1 if it has the compact layout
  bool any_perfect = false;

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
  ForestTransform transform = ForestTransform::kIdentity;
  std::string objective;
  std::vector<int> saved_by_version;
  std::vector<std::string> feature_names;
  std::string source_name;
};

// Trees walked together by one row: their node loads overlap. For one row on
// 100-1000 tree models, 16 was 20-30% faster than 8 and 32 a few % faster than 16.
inline constexpr std::size_t kTreeBlock = 32;

// Deeper blocks keep the general layout: a padded tree doubles per level, and
// past this a lone deep branch would cost more memory than the walk saves.
inline constexpr std::uint32_t kPerfectMaxDepth = 10;
// A block keeps the general layout when padding would make it more than this
// many times its node count (the benchmark's trained models pad by 1.1x to
// 2.8x; the bound keeps a sparse or hostile file from amplifying memory).
inline constexpr std::size_t kPerfectMaxGrowth = 8;
// Floats of expanded rows (2 x num_features each) the evaluator keeps on its
// stack: 32 KiB. A model wider than half of this uses the general layout.
inline constexpr std::size_t kExpandedRowCapacity = 8192;

struct AdmittedModel;  // src/model/admission.hpp

// What may build a ForestModel from a Forest (ForestModel's constructor is
// private to keep the public API to load() and parse()).
class ForestModelAccess {
 public:
  [[nodiscard]] static ForestModel make(std::shared_ptr<const Forest> forest);
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
