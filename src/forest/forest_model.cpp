// ForestModel: evaluation (the admission gate reads and checks the file,
// forest_reader.cpp lays it out).
//
// Arithmetic, kept exactly as XGBoost's CPU predictor does it (see
// docs/forest.md): each output starts at the base margin, every tree's leaf is
// added to it in tree order in float32, and the transform runs last with
// XGBoost's own formulas. The walk order is free; the sum order is not. So a
// row walks kTreeBlock trees at once (independent loads overlap) and adds
// their leaves in order, and a batch walks a block of rows per block of trees
// so the trees stay in cache.
//
// NOTE: these formulas must not be contracted into FMAs or vectorised with
// reassociation; build without -ffast-math. The default x86-64 target has no
// FMA, and the adds are a dependent chain the compiler cannot reorder.
#include "inferloop/forest.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <utility>

#include "forest/forest_model.hpp"
#include "inferloop/error.hpp"
#include "util/text.hpp"

namespace inferloop {
namespace {

using detail::Forest;
using detail::ForestNode;
using detail::ForestTransform;
using detail::kTreeBlock;

constexpr std::size_t kRowBlock = 64;      // rows sharing one pass over a block of trees
constexpr std::size_t kArgmaxScratch = 4096;  // margins held on the stack for multi:softmax

// One step down a tree with numerical splits only. A missing value (NaN)
// compares false with everything, so it goes right only by the node's
// default; a present value goes right iff !(value < threshold). Leaves stay.
inline std::uint32_t step(const ForestNode* nodes, std::uint32_t index, const float* row) noexcept {
  const ForestNode node = nodes[index];
  const float value = row[node.meta & detail::kFeatureMask];
  const bool missing_right = (node.meta & detail::kMissingRightBit) != 0;
  const bool right = (value >= node.threshold) | (std::isnan(value) & missing_right);
  return node.left + static_cast<std::uint32_t>(right);
}

// XGBoost's common::Decision: a category in the node's set goes right; a
// negative, too large (>= 2^24) or absent category goes left. A fractional
// value is truncated to its category, as XGBoost's AsCat does.
inline bool category_goes_right(const Forest& forest, std::uint32_t index, float value) noexcept {
  if (value < 0.0F || value >= 16777216.0F) return false;
  const auto category = static_cast<std::int32_t>(value);
  const auto range = forest.category_ranges[index];
  return std::binary_search(forest.category_values.begin() + range.begin,
                            forest.category_values.begin() + range.end, category);
}

inline std::uint32_t walk_with_categories(const Forest& forest, std::uint32_t index,
                                          const float* row) noexcept {
  const ForestNode* nodes = forest.nodes.data();
  while (nodes[index].left != index) {
    const ForestNode node = nodes[index];
    const float value = row[node.meta & detail::kFeatureMask];
    bool right;
    if (std::isnan(value)) {
      right = (node.meta & detail::kMissingRightBit) != 0;
    } else if ((node.meta & detail::kCategoricalBit) != 0) {
      right = category_goes_right(forest, index, value);
    } else {
      right = !(value < node.threshold);
    }
    index = node.left + static_cast<std::uint32_t>(right);
  }
  return index;
}

// Adds trees [first, first + count) to one row's margins, in tree order.
template <std::size_t kCount>
inline void add_tree_block(const Forest& forest, std::size_t first, std::uint32_t depth,
                           const float* row, float* margins) noexcept {
  std::array<std::uint32_t, kCount> index;
  for (std::size_t k = 0; k < kCount; ++k) index[k] = forest.tree_root[first + k];
  const ForestNode* nodes = forest.nodes.data();
  for (std::uint32_t level = 0; level < depth; ++level) {
    for (std::size_t k = 0; k < kCount; ++k) index[k] = step(nodes, index[k], row);
  }
  for (std::size_t k = 0; k < kCount; ++k) {
    margins[forest.tree_group[first + k]] += forest.leaf_values[index[k]];
  }
}

// Trees walked in lockstep by add_perfect_trees_at: each group's positions
// stay in registers. Shallow trees run ahead faster in groups of 16; deeper
// trees leave the first cache levels, and 32 outstanding loads hide more of
// that latency (measured on the 100x6, 500x6 and 1000x8 bench models).
template <std::uint32_t kDepth>
constexpr std::size_t kPerfectGroup = kDepth <= 6 ? 16 : 32;

// The compact-layout walk (see detail::PerfectNode) of trees [first, first +
// count), all padded to kDepth, over an expanded row; leaves in tree order.
// With the depth a constant the whole lockstep walk of a group is unrolled
// and its positions stay in registers: about half the instructions per node
// of the general walk, which keeps 32 positions in memory.
template <std::uint32_t kDepth>
void add_perfect_trees_at(const Forest& forest, std::size_t first, std::size_t count,
                          const float* expanded, float* margins) noexcept {
  const detail::PerfectNode* nodes = forest.perfect_nodes.data();
  const std::uint32_t* roots = forest.perfect_root.data() + first;
  std::array<float, kTreeBlock> leaves;
  std::size_t k = 0;
  for (; k + kPerfectGroup<kDepth> <= count; k += kPerfectGroup<kDepth>) {
    const detail::PerfectNode* tree[kPerfectGroup<kDepth>];
    std::uint32_t index[kPerfectGroup<kDepth>];
#pragma GCC unroll 32
    for (std::size_t g = 0; g < kPerfectGroup<kDepth>; ++g) {
      tree[g] = nodes + roots[k + g];
      index[g] = 0;
    }
#pragma GCC unroll 32
    for (std::uint32_t level = 0; level < kDepth; ++level) {
#pragma GCC unroll 32
      for (std::size_t g = 0; g < kPerfectGroup<kDepth>; ++g) {
        const detail::PerfectNode node = tree[g][index[g]];
        const bool right = expanded[node.feature] >= node.threshold;
        index[g] = 2 * index[g] + 1 + static_cast<std::uint32_t>(right);
      }
    }
#pragma GCC unroll 32
    for (std::size_t g = 0; g < kPerfectGroup<kDepth>; ++g) {
      leaves[k + g] = tree[g][index[g]].threshold;
    }
  }
  for (; k < count; ++k) {
    const detail::PerfectNode* tree = nodes + roots[k];
    std::uint32_t index = 0;
    for (std::uint32_t level = 0; level < kDepth; ++level) {
      const bool right = expanded[tree[index].feature] >= tree[index].threshold;
      index = 2 * index + 1 + static_cast<std::uint32_t>(right);
    }
    leaves[k] = tree[index].threshold;
  }
  for (std::size_t i = 0; i < count; ++i) margins[forest.tree_group[first + i]] += leaves[i];
}

using PerfectWalk = void (*)(const Forest&, std::size_t, std::size_t, const float*,
                             float*) noexcept;

template <std::uint32_t... kDepths>
constexpr std::array<PerfectWalk, sizeof...(kDepths)> perfect_walks(
    std::integer_sequence<std::uint32_t, kDepths...>) {
  return {&add_perfect_trees_at<kDepths>...};
}

constexpr auto kPerfectWalks =
    perfect_walks(std::make_integer_sequence<std::uint32_t, detail::kPerfectMaxDepth + 1>());

void add_perfect_trees(const Forest& forest, std::size_t block, const float* expanded,
                       float* margins) noexcept {
  const std::size_t first = block * kTreeBlock;
  const std::size_t count = std::min(kTreeBlock, forest.tree_root.size() - first);
  kPerfectWalks[forest.block_depth[block]](forest, first, count, expanded, margins);
}

void add_trees(const Forest& forest, std::size_t block, const float* row,
               float* margins) noexcept {
  const std::size_t first = block * kTreeBlock;
  const std::size_t count = std::min(kTreeBlock, forest.tree_root.size() - first);
  if (forest.has_categorical) {
    for (std::size_t t = first; t < first + count; ++t) {
      margins[forest.tree_group[t]] +=
          forest.leaf_values[walk_with_categories(forest, forest.tree_root[t], row)];
    }
    return;
  }
  const std::uint32_t depth = forest.block_depth[block];
  if (count == kTreeBlock) {
    add_tree_block<kTreeBlock>(forest, first, depth, row, margins);
    return;
  }
  for (std::size_t t = first; t < first + count; ++t) {
    std::uint32_t index = forest.tree_root[t];
    for (std::uint32_t level = 0; level < forest.tree_depth[t]; ++level) {
      index = step(forest.nodes.data(), index, row);
    }
    margins[forest.tree_group[t]] += forest.leaf_values[index];
  }
}

// margins: rows x num_groups, for rows starting at `row_begin`.
void compute_margins(const Forest& forest, const float* features, std::size_t rows,
                     float* margins) noexcept {
  const std::size_t groups = forest.num_groups;
  const std::size_t width = forest.num_features;
  for (std::size_t row = 0; row < rows; ++row) {
    std::copy(forest.base_margin.begin(), forest.base_margin.end(), margins + row * groups);
  }
  const std::size_t blocks = forest.block_depth.size();
  if (!forest.any_perfect) {
    for (std::size_t block = 0; block < blocks; ++block) {
      for (std::size_t row = 0; row < rows; ++row) {
        add_trees(forest, block, features + row * width, margins + row * groups);
      }
    }
    return;
  }
  // Expanded rows (see detail::PerfectNode) for as many rows as fit.
  std::array<float, detail::kExpandedRowCapacity> expanded;
  const std::size_t stride = 2 * width;
  const std::size_t pass_rows = expanded.size() / std::max<std::size_t>(1, stride);
  for (std::size_t pass = 0; pass < rows; pass += pass_rows) {
    const std::size_t count = std::min(pass_rows, rows - pass);
    for (std::size_t row = 0; row < count; ++row) {
      const float* in = features + (pass + row) * width;
      float* out = expanded.data() + row * stride;
      std::copy(in, in + width, out);
      for (std::size_t j = 0; j < width; ++j) {
        out[width + j] = std::isnan(in[j]) ? std::numeric_limits<float>::infinity() : in[j];
      }
    }
    for (std::size_t block = 0; block < blocks; ++block) {
      const bool perfect = forest.block_perfect[block] != 0;
      for (std::size_t row = 0; row < count; ++row) {
        float* row_margins = margins + (pass + row) * groups;
        if (perfect) {
          add_perfect_trees(forest, block, expanded.data() + row * stride, row_margins);
        } else {
          add_trees(forest, block, features + (pass + row) * width, row_margins);
        }
      }
    }
  }
}

// XGBoost's common::Sigmoid (float overload), identical in 1.7 and 3.x.
inline float sigmoid(float margin) noexcept {
  constexpr float kEps = 1e-16F;
  const float x = std::min(-margin, 88.7F);
  const float denominator = std::exp(x) + 1.0F + kEps;
  return 1.0F / denominator;
}

// XGBoost's common::Softmax: subtract the max, exp in float, sum in double,
// divide by the sum rounded to float.
inline void softmax(float* values, std::size_t count) noexcept {
  float largest = values[0];
  for (std::size_t i = 1; i < count; ++i) largest = std::fmax(values[i], largest);
  double sum = 0.0;
  for (std::size_t i = 0; i < count; ++i) {
    values[i] = std::exp(values[i] - largest);
    sum += values[i];
  }
  const auto divisor = static_cast<float>(sum);
  for (std::size_t i = 0; i < count; ++i) values[i] /= divisor;
}

// The first index of the largest margin (std::max_element, as XGBoost's
// FindMaxIndex), as a float.
inline float argmax(const float* values, std::size_t count) noexcept {
  return static_cast<float>(std::max_element(values, values + count) - values);
}

void transform_rows(const Forest& forest, float* values, std::size_t rows) noexcept {
  const std::size_t groups = forest.num_groups;
  const std::size_t count = rows * groups;
  switch (forest.transform) {
    case ForestTransform::kIdentity:
    case ForestTransform::kArgmax:  // handled by the caller
      return;
    case ForestTransform::kSigmoid:
      for (std::size_t i = 0; i < count; ++i) values[i] = sigmoid(values[i]);
      return;
    case ForestTransform::kExp:
      for (std::size_t i = 0; i < count; ++i) values[i] = std::exp(values[i]);
      return;
    case ForestTransform::kHinge:
      for (std::size_t i = 0; i < count; ++i) values[i] = values[i] > 0.0F ? 1.0F : 0.0F;
      return;
    case ForestTransform::kSoftmax:
      for (std::size_t row = 0; row < rows; ++row) softmax(values + row * groups, groups);
      return;
  }
}

}  // namespace

ForestModel::ForestModel(std::shared_ptr<const detail::Forest> forest)
    : forest_(std::move(forest)) {}

ForestModel ForestModel::parse(std::span<const std::uint8_t> bytes, ModelFormat format,
                               std::string_view source_name) {
  return detail::ForestModelAccess::make(detail::read_forest(bytes, format, source_name));
}

ForestModel detail::ForestModelAccess::make(std::shared_ptr<const detail::Forest> forest) {
  if (forest->transform == ForestTransform::kArgmax && forest->num_groups > kArgmaxScratch) {
    throw Error(detail::quote(forest->source_name, 4096) + ": multi:softmax with " +
                std::to_string(forest->num_groups) + " classes; ForestPredictor handles up to " +
                std::to_string(kArgmaxScratch) +
                " (predict margins with output: margin, or train with multi:softprob)");
  }
  return ForestModel(std::move(forest));
}

std::size_t ForestModel::num_features() const noexcept { return forest_->num_features; }

std::size_t ForestModel::num_outputs(OutputKind kind) const noexcept {
  if (kind == OutputKind::kTransformed && forest_->transform == ForestTransform::kArgmax) return 1;
  return forest_->num_groups;
}

std::size_t ForestModel::num_trees() const noexcept { return forest_->tree_root.size(); }
const std::string& ForestModel::objective() const noexcept { return forest_->objective; }
const std::vector<int>& ForestModel::saved_by_version() const noexcept {
  return forest_->saved_by_version;
}
const std::vector<std::string>& ForestModel::feature_names() const noexcept {
  return forest_->feature_names;
}

void ForestModel::predict(std::span<const float> features, std::size_t rows, std::span<float> out,
                          OutputKind kind) const noexcept {
  const Forest& forest = *forest_;
  const std::size_t groups = forest.num_groups;
  const std::size_t width = forest.num_features;
  const bool transformed = kind == OutputKind::kTransformed;
  if (transformed && forest.transform == ForestTransform::kArgmax) {
    std::array<float, kArgmaxScratch> margins;
    const std::size_t block_rows = std::max<std::size_t>(1, kArgmaxScratch / groups);
    for (std::size_t first = 0; first < rows; first += block_rows) {
      const std::size_t count = std::min(block_rows, rows - first);
      compute_margins(forest, features.data() + first * width, count, margins.data());
      for (std::size_t row = 0; row < count; ++row) {
        out[first + row] = argmax(margins.data() + row * groups, groups);
      }
    }
    return;
  }
  for (std::size_t first = 0; first < rows; first += kRowBlock) {
    const std::size_t count = std::min(kRowBlock, rows - first);
    float* block_out = out.data() + first * groups;
    compute_margins(forest, features.data() + first * width, count, block_out);
    if (transformed) transform_rows(forest, block_out, count);
  }
}

}  // namespace inferloop
