// build_layout: detail::Forest's general nodes -> the padded, constant-stride
// blocks and the per-feature bins of detail::ForestLayout (see
// forest_layout.hpp for the layout and why).
#include "forest/forest_layout.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "forest/forest_model.hpp"

namespace inferloop::detail {
namespace {

// The general nodes of tree t: place_tree appends each tree's nodes
// contiguously, breadth-first, in model order.
std::size_t node_count(const Forest& forest, std::size_t tree) {
  const std::size_t end =
      tree + 1 < forest.tree_root.size() ? forest.tree_root[tree + 1] : forest.nodes.size();
  return end - forest.tree_root[tree];
}

bool has_categorical_split(const Forest& forest, std::size_t tree) {
  if (!forest.has_categorical) return false;
  const std::size_t first = forest.tree_root[tree];
  for (std::size_t i = first; i < first + node_count(forest, tree); ++i) {
    if ((forest.nodes[i].meta & kCategoricalBit) != 0) return true;
  }
  return false;
}

std::size_t padded_bytes(std::size_t trees, std::uint32_t depth) {
  return trees * tree_stride(depth) * (sizeof(WalkNode) + sizeof(BinNode) + sizeof(float));
}

// A compact node as the bins are built from it: heap order, float threshold.
struct SplitNode {
  std::uint32_t feature;  // as WalkNode::feature
  float threshold;
};

// Writes the subtree of general node `slot` at heap position `heap` (level
// `level`) of a tree padded to `depth` whose nodes start at splits[base]
// and leaves at leaves[leaf_base]; records each real (not filler) internal
// node's index in `real_nodes`.
struct TreePlacement {
  const Forest& forest;
  ForestLayout& layout;
  std::vector<SplitNode>& splits;
  std::size_t base;
  std::size_t leaf_base;
  std::uint32_t depth;
  std::vector<std::size_t>& real_nodes;

  void place(std::uint32_t slot, std::size_t heap, std::uint32_t level) {
    const ForestNode& node = forest.nodes[slot];
    if (node.left == slot) {
      // A leaf: fillers (already zero) down to the bottom, where every slot
      // gets a copy: leaves first .. first + count - 1 in heap order, stored
      // mirrored (leaf j at slot 2^depth - 1 - j).
      const std::size_t leaves_per_tree = std::size_t{1} << depth;
      const std::size_t count = std::size_t{1} << (depth - level);
      const std::size_t first = (heap << (depth - level)) - leaves_per_tree;
      const std::size_t mirrored_first = leaves_per_tree - first - count;
      std::fill_n(layout.leaves.begin() + static_cast<std::ptrdiff_t>(leaf_base + mirrored_first),
                  count, forest.leaf_values[slot]);
      return;
    }
    std::uint32_t feature = node.meta & kFeatureMask;
    if ((node.meta & kMissingRightBit) != 0) {
      feature += static_cast<std::uint32_t>(forest.num_features);
    }
    splits[base + heap] = SplitNode{feature, node.threshold};
    real_nodes.push_back(base + heap);
    place(node.left, 2 * heap, level + 1);
    place(node.left + 1, 2 * heap + 1, level + 1);
  }
};

void add_compact_block(const Forest& forest, LayoutBlock block, ForestLayout& layout,
                       std::vector<SplitNode>& splits, std::vector<std::size_t>& real_nodes) {
  const std::size_t stride = tree_stride(block.depth);
  block.node_offset = splits.size();
  block.leaf_offset = layout.leaves.size();
  splits.resize(block.node_offset + block.trees * stride, SplitNode{0, 0.0F});
  layout.leaves.resize(block.leaf_offset + block.trees * stride);
  for (std::size_t k = 0; k < block.trees; ++k) {
    TreePlacement{forest, layout, splits, block.node_offset + k * stride,
                  block.leaf_offset + k * stride, block.depth, real_nodes}
        .place(forest.tree_root[block.first_tree + k], 1, 0);
  }
  layout.blocks.push_back(block);
  layout.any_compact = true;
}

// The row walk's nodes (see WalkNode): each split as a key, each level of
// each compact tree in reverse order. Fillers (feature 0, threshold 0) send
// a row either way to copies of one leaf, mirrored or not.
std::vector<WalkNode> walk_nodes_of(const std::vector<LayoutBlock>& blocks,
                                    const std::vector<SplitNode>& splits) {
  std::vector<WalkNode> nodes(splits.size());
  for (const LayoutBlock& block : blocks) {
    if (!block.compact) continue;
    const std::size_t stride = tree_stride(block.depth);
    const std::size_t slots = std::size_t{1} << block.depth;
    for (std::size_t k = 0; k < block.trees; ++k) {
      const std::size_t base = block.node_offset + k * stride;
      for (std::size_t first = 1; first < slots; first *= 2) {  // level: first .. 2 first - 1
        for (std::size_t heap = first; heap < 2 * first; ++heap) {
          const SplitNode& split = splits[base + heap];
          nodes[base + (3 * first - 1 - heap)] = WalkNode{split.feature, walk_key(split.threshold)};
        }
      }
    }
  }
  return nodes;
}

// Maps every real compact node's threshold to its bin column and bin (see
// forest_layout.hpp). False, leaving no bins, when a block is general or too
// deep for the tile walk, or the columns would not fit a tile.
bool build_bins(ForestLayout& layout, const std::vector<SplitNode>& splits,
                const std::vector<std::size_t>& real_nodes) {
  const std::size_t width = layout.num_features;
  constexpr std::size_t kRun = kMaxBins - 1;  // thresholds per column
  for (const LayoutBlock& block : layout.blocks) {
    if (!block.compact || block.depth > kMaxTileDepth) return false;
  }
  std::vector<std::vector<float>> thresholds(width);
  for (const std::size_t index : real_nodes) {
    const SplitNode& node = splits[index];
    thresholds[node.feature % width].push_back(node.threshold);
  }
  // Feature f's columns are first_column[f] .. first_column[f + 1]: one per
  // run of kRun thresholds, and one for a feature no split reads.
  std::vector<std::size_t> first_column(width + 1, 0);
  for (std::size_t f = 0; f < width; ++f) {
    std::vector<float>& values = thresholds[f];
    // Never NaN: the reader turns a NaN threshold into -inf. -0 and +0 are
    // one threshold: every value compares the same against both.
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    first_column[f + 1] = first_column[f] + std::max<std::size_t>(1, (values.size() + kRun - 1) / kRun);
    if (first_column[f + 1] > kMaxBinColumns) return false;
  }
  const std::size_t columns = first_column[width];
  layout.bin_columns = columns;
  layout.bin_column_feature.resize(columns);
  layout.bin_thresholds.assign(columns * kBinTableSize, std::numeric_limits<float>::quiet_NaN());
  layout.bin_pivots.assign(columns * kBinPivots, std::numeric_limits<float>::quiet_NaN());
  for (std::size_t f = 0; f < width; ++f) {
    for (std::size_t c = first_column[f]; c < first_column[f + 1]; ++c) {
      layout.bin_column_feature[c] = static_cast<std::uint32_t>(f);
      const std::size_t begin = (c - first_column[f]) * kRun;
      const std::size_t end = std::min(thresholds[f].size(), begin + kRun);
      std::copy(thresholds[f].begin() + static_cast<std::ptrdiff_t>(begin),
                thresholds[f].begin() + static_cast<std::ptrdiff_t>(end),
                layout.bin_thresholds.begin() + static_cast<std::ptrdiff_t>(c * kBinTableSize));
      for (std::size_t j = 0; j < kBinPivots; ++j) {
        layout.bin_pivots[c * kBinPivots + j] =
            layout.bin_thresholds[c * kBinTableSize + 16 * j + 15];
      }
    }
  }
  // Fillers keep bin 0: every row goes right, to a copy of the same leaf.
  layout.bin_nodes.assign(splits.size(), BinNode{0, 0});
  for (const std::size_t index : real_nodes) {
    const SplitNode& node = splits[index];
    const std::size_t feature = node.feature % width;
    const std::vector<float>& values = thresholds[feature];
    const auto position = static_cast<std::size_t>(
        std::lower_bound(values.begin(), values.end(), node.threshold) - values.begin());
    std::size_t column = first_column[feature] + position / kRun;
    if (node.feature >= width) column += columns;  // the missing-goes-right twin
    layout.bin_nodes[index] = BinNode{static_cast<std::uint16_t>(column),
                                      static_cast<std::uint16_t>(position % kRun + 1)};
  }
  return true;
}

}  // namespace

ForestLayout build_layout(const Forest& forest) {
  ForestLayout layout;
  layout.num_features = forest.num_features;
  const std::size_t trees = forest.tree_root.size();
  const bool narrow = 2 * forest.num_features <= kMaxExpandedWidth;
  // Padding a sparse deep tree (a chain, say) multiplies its nodes; the
  // compact blocks may take at most this much memory in all, whatever the
  // file holds.
  const std::size_t budget =
      std::max(kCompactBudgetBytes, kMaxPaddingGrowth * forest.nodes.size() *
                                        (sizeof(ForestNode) + sizeof(float)));
  std::size_t compact_bytes = 0;
  std::vector<SplitNode> splits;        // the compact nodes, in heap order
  std::vector<std::size_t> real_nodes;  // splits that are not fillers
  LayoutBlock block;
  const auto close = [&] {
    if (block.trees == 0) return;
    if (block.compact) {
      compact_bytes += padded_bytes(block.trees, block.depth);
      add_compact_block(forest, block, layout, splits, real_nodes);
    } else {
      layout.blocks.push_back(block);
    }
    block = LayoutBlock{};
  };
  for (std::size_t t = 0; t < trees; ++t) {
    const std::uint32_t depth = forest.tree_depth[t];
    const bool compactable = narrow && depth <= kMaxCompactDepth &&
                             compact_bytes + padded_bytes(1, depth) <= budget &&
                             !has_categorical_split(forest, t);
    if (block.trees != 0 && block.compact == compactable) {
      // A compact block joins trees of about one depth: a shallow tree
      // padded deep would walk the extra levels for nothing.
      const std::uint32_t joined_depth = std::max(block.depth, depth);
      const bool fits =
          block.trees < kMaxBlockTrees &&
          (!compactable ||
           (depth + 1 >= block.depth && depth <= block.depth + 1 &&
            padded_bytes(block.trees + 1, joined_depth) <= kMaxBlockBytes &&
            compact_bytes + padded_bytes(block.trees + 1, joined_depth) <= budget));
      if (fits) {
        ++block.trees;
        block.depth = joined_depth;
        continue;
      }
    }
    close();
    block.first_tree = static_cast<std::uint32_t>(t);
    block.trees = 1;
    block.depth = depth;
    block.compact = compactable;
  }
  close();
  layout.binned = build_bins(layout, splits, real_nodes);
  layout.walk_nodes = walk_nodes_of(layout.blocks, splits);
  return layout;
}

}  // namespace inferloop::detail
