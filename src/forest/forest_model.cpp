// ForestModel: evaluation (the admission gate reads and checks the file,
// forest_reader.cpp lays out the trees, forest_layout.cpp pads them into
// blocks, forest_kernels_*.cpp walk them).
//
// Arithmetic, kept exactly as XGBoost's CPU predictor does it (see
// docs/forest.md): each output starts at the base margin, every tree's leaf is
// added to it in tree order in float32, and the transform runs last with
// XGBoost's own formulas. The walk order is free; the sum order is not.
//
// Two paths, chosen per call:
//   - the row walk (one row, or a few): each row, expanded (see WalkNode),
//     walks each compact block's trees in lockstep, and the block's leaves
//     are added in tree order;
//   - the tile walk (batches of the kernels' tile_min_rows or more, when the
//     model has bins): up to kTilesPerPass tiles of 64 rows are binned, then every
//     block's trees are walked for all of them, tree by tree, while the tree
//     is in L1; each row's leaves still arrive in tree order.
// Trees the layout cannot hold (categorical, very deep) are walked on the
// reader's general nodes, here, in both paths.
//
// NOTE: these formulas must not be contracted into FMAs or vectorised with
// reassociation; build without -ffast-math. The adds are a dependent chain
// per row that no kernel reorders.
#include "inferloop/forest.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

#include "forest/forest_model.hpp"
#include "inferloop/error.hpp"
#include "util/text.hpp"

namespace inferloop {
namespace {

using detail::Forest;
using detail::ForestNode;
using detail::ForestTransform;
using detail::ForestLayout;
using detail::kTileRows;
using detail::LayoutBlock;

constexpr std::size_t kArgmaxScratch = 4096;  // margins held on the stack for multi:softmax
// Tiles walked per tree while it is in L1, and the stack they take: bins
// (2 x bin columns x 64 bytes each) and margins (groups x 64 floats each).
constexpr std::size_t kTilesPerPass = 4;
constexpr std::size_t kTileBinBytes = 32 * 1024;
constexpr std::size_t kTileMarginFloats = 4 * 1024;
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

// Adds the trees of a general block (see LayoutBlock) to one row's margins,
// in tree order, walking the reader's nodes.
void add_general_block(const Forest& forest, const LayoutBlock& block, const float* row,
                       float* margins) noexcept {
  const std::size_t first = block.first_tree;
  const std::size_t last = first + block.trees;
  if (forest.has_categorical) {
    for (std::size_t t = first; t < last; ++t) {
      margins[forest.tree_group[t]] +=
          forest.leaf_values[walk_with_categories(forest, forest.tree_root[t], row)];
    }
    return;
  }
  // Leaves stay put, so every tree may take the block's depth in steps: the
  // block's trees walk in lockstep and their node loads overlap.
  std::array<std::uint32_t, detail::kMaxBlockTrees> index;
  for (std::size_t t = first; t < last; ++t) index[t - first] = forest.tree_root[t];
  for (std::uint32_t level = 0; level < block.depth; ++level) {
    for (std::size_t k = 0; k < block.trees; ++k) index[k] = step(forest.nodes.data(), index[k], row);
  }
  for (std::size_t t = first; t < last; ++t) {
    margins[forest.tree_group[t]] += forest.leaf_values[index[t - first]];
  }
}

// The row walk of `rows` rows into `margins` (rows x groups).
__attribute__((noinline)) void row_walk_margins(const detail::ForestEngine& engine,
                                                const detail::ForestKernels& kernels,
                                                const float* features, std::size_t rows,
                                                float* margins) noexcept {
  const Forest& forest = *engine.forest;
  const ForestLayout& layout = engine.layout;
  const std::size_t groups = forest.num_groups;
  const std::size_t width = forest.num_features;
  if (!layout.any_compact) {
    for (const LayoutBlock& block : layout.blocks) {
      for (std::size_t row = 0; row < rows; ++row) {
        add_general_block(forest, block, features + row * width, margins + row * groups);
      }
    }
    return;
  }
  // Expanded rows of keys (see detail::WalkNode) for as many rows as fit.
  std::array<std::uint32_t, detail::kMaxExpandedWidth> expanded;
  std::array<float, detail::kMaxBlockTrees> leaves;
  const std::size_t stride = 2 * width;
  const std::size_t pass_rows = expanded.size() / stride;
  for (std::size_t pass = 0; pass < rows; pass += pass_rows) {
    const std::size_t count = std::min(pass_rows, rows - pass);
    for (std::size_t row = 0; row < count; ++row) {
      const float* in = features + (pass + row) * width;
      std::uint32_t* out = expanded.data() + row * stride;
      for (std::size_t j = 0; j < width; ++j) {
        const bool missing = std::isnan(in[j]);
        const std::uint32_t key = detail::walk_key(in[j]);
        out[j] = missing ? detail::kMissingGoesLeftKey : key;
        out[width + j] = missing ? detail::kMissingGoesRightKey : key;
      }
    }
    for (const LayoutBlock& block : layout.blocks) {
      for (std::size_t row = 0; row < count; ++row) {
        float* row_margins = margins + (pass + row) * groups;
        if (!block.compact) {
          add_general_block(forest, block, features + (pass + row) * width, row_margins);
          continue;
        }
        const std::uint32_t* keys = expanded.data() + row * stride;
        if (groups == 1) {
          // The kernel adds the leaves into the margin, in tree order.
          kernels.walk_row(layout, block, keys, leaves.data(), row_margins);
          continue;
        }
        kernels.walk_row(layout, block, keys, leaves.data(), nullptr);
        for (std::size_t k = 0; k < block.trees; ++k) {
          row_margins[forest.tree_group[block.first_tree + k]] += leaves[k];
        }
      }
    }
  }
}

// Whether `rows` rows take the tile walk; see tile_walk_margins.
bool takes_tile_walk(const detail::ForestEngine& engine, const detail::ForestKernels& kernels,
                     std::size_t rows) noexcept {
  const Forest& forest = *engine.forest;
  return engine.layout.binned && rows >= kernels.tile_min_rows &&
         2 * engine.layout.bin_columns * kTileRows <= kTileBinBytes &&
         forest.num_groups * kTileRows <= kTileMarginFloats;
}

// The tile walk of `rows` rows into `margins` (rows x groups).
// REQUIRES: takes_tile_walk(engine, kernels, rows).
__attribute__((noinline)) void tile_walk_margins(const detail::ForestEngine& engine,
                                                 const detail::ForestKernels& kernels,
                                                 const float* features, std::size_t rows,
                                                 float* margins) noexcept {
  const Forest& forest = *engine.forest;
  const ForestLayout& layout = engine.layout;
  const std::size_t groups = forest.num_groups;
  const std::size_t width = forest.num_features;
  const std::size_t tile_bytes = 2 * layout.bin_columns * kTileRows;
  const std::size_t tiles_per_pass = std::min(
      {kTilesPerPass, kTileBinBytes / tile_bytes, kTileMarginFloats / (groups * kTileRows)});
  alignas(64) std::array<std::uint8_t, kTileBinBytes> bins;
  alignas(64) std::array<float, kTileMarginFloats> tile_margins;  // [tile][group][row]
  for (std::size_t pass = 0; pass < rows; pass += tiles_per_pass * kTileRows) {
    const std::size_t pass_rows = std::min(tiles_per_pass * kTileRows, rows - pass);
    const std::size_t tiles = (pass_rows + kTileRows - 1) / kTileRows;
    for (std::size_t s = 0; s < tiles; ++s) {
      const std::size_t first = s * kTileRows;
      const std::size_t count = std::min(kTileRows, pass_rows - first);
      std::uint8_t* tile = bins.data() + s * tile_bytes;
      // Rows past the end of the batch are walked too, on zero bins, and dropped.
      if (count < kTileRows) std::fill(tile, tile + tile_bytes, std::uint8_t{0});
      kernels.bin_tile(layout, features + (pass + first) * width, count, tile);
      for (std::size_t group = 0; group < groups; ++group) {
        float* out = tile_margins.data() + (s * groups + group) * kTileRows;
        std::fill(out, out + kTileRows, forest.base_margin[group]);
      }
    }
    for (const LayoutBlock& block : layout.blocks) {
      kernels.walk_tiles(layout, block, bins.data(), tiles, tile_bytes, forest.tree_group.data(),
                         groups, tile_margins.data());
    }
    for (std::size_t row = 0; row < pass_rows; ++row) {
      const std::size_t s = row / kTileRows;
      for (std::size_t group = 0; group < groups; ++group) {
        margins[(pass + row) * groups + group] =
            tile_margins[(s * groups + group) * kTileRows + row % kTileRows];
      }
    }
  }
}

// margins: rows x num_groups.
void compute_margins(const detail::ForestEngine& engine, const detail::ForestKernels& kernels,
                     const float* features, std::size_t rows, float* margins) noexcept {
  if (takes_tile_walk(engine, kernels, rows)) {
    tile_walk_margins(engine, kernels, features, rows, margins);
    return;
  }
  const Forest& forest = *engine.forest;
  for (std::size_t row = 0; row < rows; ++row) {
    std::copy(forest.base_margin.begin(), forest.base_margin.end(),
              margins + row * forest.num_groups);
  }
  row_walk_margins(engine, kernels, features, rows, margins);
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

ForestModel::ForestModel(std::shared_ptr<const detail::ForestEngine> engine,
                         const detail::ForestKernels& kernels)
    : engine_(std::move(engine)), kernels_(&kernels) {}

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
  auto engine = std::make_shared<detail::ForestEngine>();
  engine->layout = detail::build_layout(*forest);
  engine->forest = std::move(forest);
  return ForestModel(std::move(engine), detail::forest_kernels(detail::best_forest_isa()));
}

ForestModel detail::ForestModelAccess::with_isa(const ForestModel& model, ForestIsa isa,
                                                ForestWalks walks) {
  if (!cpu_supports(isa)) {
    throw Error("ForestModel: this CPU cannot run the " + std::string(to_string(isa)) +
                " kernels");
  }
  return ForestModel(model.engine_, forest_kernels(isa, walks));
}

detail::ForestIsa detail::ForestModelAccess::isa_of(const ForestModel& model) noexcept {
  return model.kernels_->isa;
}

const detail::ForestEngine& detail::ForestModelAccess::engine_of(const ForestModel& model) noexcept {
  return *model.engine_;
}

std::size_t ForestModel::num_features() const noexcept { return engine_->forest->num_features; }

std::size_t ForestModel::num_outputs(OutputKind kind) const noexcept {
  const Forest& forest = *engine_->forest;
  if (kind == OutputKind::kTransformed && forest.transform == ForestTransform::kArgmax) return 1;
  return forest.num_groups;
}

std::size_t ForestModel::num_trees() const noexcept {
  return engine_->forest->tree_root.size() / engine_->forest->layouts_per_tree;
}
const std::string& ForestModel::objective() const noexcept { return engine_->forest->objective; }
const std::vector<int>& ForestModel::saved_by_version() const noexcept {
  return engine_->forest->saved_by_version;
}
const std::vector<std::string>& ForestModel::feature_names() const noexcept {
  return engine_->forest->feature_names;
}

void ForestModel::predict(std::span<const float> features, std::size_t rows, std::span<float> out,
                          OutputKind kind) const noexcept {
  const detail::ForestEngine& engine = *engine_;
  const Forest& forest = *engine.forest;
  const std::size_t groups = forest.num_groups;
  const std::size_t width = forest.num_features;
  const bool transformed = kind == OutputKind::kTransformed;
  if (transformed && forest.transform == ForestTransform::kArgmax) {
    std::array<float, kArgmaxScratch> margins;
    const std::size_t block_rows = std::max<std::size_t>(1, kArgmaxScratch / groups);
    for (std::size_t first = 0; first < rows; first += block_rows) {
      const std::size_t count = std::min(block_rows, rows - first);
      compute_margins(engine, *kernels_, features.data() + first * width, count, margins.data());
      for (std::size_t row = 0; row < count; ++row) {
        out[first + row] = argmax(margins.data() + row * groups, groups);
      }
    }
    return;
  }
  // Transformed a chunk at a time, while its margins are in cache.
  const std::size_t chunk_rows = kTilesPerPass * kTileRows;
  for (std::size_t first = 0; first < rows; first += chunk_rows) {
    const std::size_t count = std::min(chunk_rows, rows - first);
    float* chunk_out = out.data() + first * groups;
    compute_margins(engine, *kernels_, features.data() + first * width, count, chunk_out);
    if (transformed) transform_rows(forest, chunk_out, count);
  }
}

}  // namespace inferloop
