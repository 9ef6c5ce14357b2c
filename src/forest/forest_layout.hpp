// detail::ForestLayout: the evaluator's own layout of a detail::Forest, built
// once when a ForestModel is made (build_layout) and then only read, from any
// number of threads. The reader's Forest (general nodes with child indices)
// stays as it is: other evaluators (the CUDA one) build their own layouts from
// it, and blocks that this layout cannot hold are walked there.
//
// Blocks. Consecutive trees are grouped into blocks. A compact block holds
// trees with numerical splits only, each padded to the block's depth D as a
// complete binary tree in heap order, 1-based: the children of node i are 2i
// and 2i + 1, the internal nodes are 1 .. 2^D - 1 (slot 0 is unused) and leaf
// j (bottom slot 2^D + j) is stored mirrored, at 2^D - 1 - j of the tree's
// leaves (see WalkNode for why). Tree k of a block starts at node_offset +
// k * S and its leaves at leaf_offset + k * S, S = tree_stride(D), so a
// node's address is arithmetic from the block's base: no per-tree pointer to
// reload in the walk. A leaf above depth D is pushed down: every internal
// node below it is a filler and every bottom slot below it holds a copy of
// its value, so any row reaches a copy. A block
// holds at most kMaxBlockTrees trees and at most kMaxBlockBytes of nodes and
// leaves, so that the trees a batch walks for a tile of rows stay in L2.
// Trees that are categorical or deeper than kMaxCompactDepth form general
// blocks, which the evaluator walks on detail::Forest's nodes; so do the
// trees past the padding budget (the larger of kCompactBudgetBytes and
// kMaxPaddingGrowth times the general layout), which keeps a file of sparse
// deep trees from growing in memory beyond that.
//
// Two node forms, one per walk:
//   - WalkNode (feature, threshold key) for one row at a time. Keys are
//     walk_key(): unsigned integers in the order of the floats they stand
//     for (-0 and +0 one key), so `value < threshold` is an integer compare
//     whose carry flag the walk adds into its position. The row walk reads an
//     expanded row of keys: [0, F) the row with NaN as key 0 (below every
//     threshold: goes left) and [F, 2F) the row with NaN as +inf's key (at or
//     above every threshold: goes right); a missing-goes-right split reads
//     the second half. Each level of a tree's walk nodes is stored in reverse
//     heap order ("mirrored"): node i's children are 2i for
//     `value >= threshold` and 2i + 1 for `value < threshold`, which is
//     `index = 2 * index + carry` (see walk_group in forest_kernels_baseline.cpp).
//     The leaves are stored mirrored as well, so the bottom position p
//     reads leaf slot p - 2^D: one load at a constant displacement.
//   - BinNode (column, bin) for batches: thresholds mapped exactly to
//     bin ids. A feature's distinct thresholds, sorted, are cut into runs of
//     at most kMaxBins - 1; each run is a bin column c (of bin_columns), with
//     its thresholds padded with NaN to kBinTableSize. A value's bin in
//     column c is the number of c's thresholds <= value, so for threshold j
//     of the run, value >= threshold iff bin(value) >= j + 1: the other runs'
//     thresholds do not enter it. A feature with up to 255 thresholds is one
//     column; one with 600 is three, each binned from the same value. Rows
//     are binned once per tile into bytes, and a node test is a byte compare,
//     64 rows at a time. Missing values: the expanded column c bins NaN as 0
//     (goes left everywhere), column C + c as 255 (goes right everywhere; a
//     present value with bin 255 is at or above every threshold of the run).
//     Built only when every block is compact and at most kMaxTileDepth deep
//     and the columns fit a tile (kMaxBinColumns) (`binned`); otherwise
//     batches use the row walk.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace inferloop::detail {

struct Forest;

struct WalkNode {
  std::uint32_t feature;        // index into the expanded row of keys, [0, 2 x num_features)
  std::uint32_t threshold_key;  // walk_key(threshold): go right iff expanded[feature] >= it
};
static_assert(sizeof(WalkNode) == 8, "two words per node");

// The walk's key of a float that is not NaN: a <= b as floats iff
// walk_key(a) <= walk_key(b) as unsigned integers (the sign bit flipped on
// positives, every bit on negatives), with -0 taken as +0 (they compare
// equal as floats). The least key, 0, is no float's: it stands for a
// missing value that goes left.
// Integer operations only: the key does not depend on the thread's floating
// point mode (a host that sets denormals-are-zero still gets exact keys).
[[nodiscard]] inline std::uint32_t walk_key(float value) noexcept {
  constexpr std::uint32_t kSign = 0x80000000U;
  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  bits = bits == kSign ? 0U : bits;  // -0 as +0
  return (bits & kSign) != 0 ? ~bits : bits | kSign;
}
inline constexpr std::uint32_t kMissingGoesLeftKey = 0;
// walk_key(+inf): at or above every threshold key.
inline constexpr std::uint32_t kMissingGoesRightKey = 0x7F800000U | 0x80000000U;

struct BinNode {
  std::uint16_t feature;  // expanded bin column, [0, 2 x bin_columns)
  std::uint16_t bin;      // go right iff the row's bin >= bin, in [0, kMaxBins)
};
static_assert(sizeof(BinNode) == 4, "one word per node");

struct LayoutBlock {
  std::uint32_t first_tree = 0;
  std::uint32_t trees = 0;
  std::uint32_t depth = 0;      // compact: every tree padded to this depth
  bool compact = false;         // false: walk detail::Forest's general nodes
  // compact: tree k's node i at node_offset + k x tree_stride(depth) + i,
  // its leaf j at leaf_offset + k x tree_stride(depth) + j.
  std::size_t node_offset = 0;
  std::size_t leaf_offset = 0;
};

inline constexpr std::uint32_t kMaxCompactDepth = 10;

// The slots from one tree of a depth-`depth` compact block to the next: its
// 2^depth slots, plus 8 (one cache line of WalkNodes) for trees of a cache
// line or more. Without the extra line, trees 2^depth x 8 bytes apart put
// every tree's root line (and each of its other lines) in the same few L1
// sets, 8 of the 64 for depth 6: the root lines of 100 trees overflowed
// those sets' 8 ways, and one row of a 100x6 model took about 7% longer
// (docs/benchmarks.md). An odd number of lines per tree spreads them over
// every set.
[[nodiscard]] constexpr std::size_t tree_stride(std::uint32_t depth) noexcept {
  return (std::size_t{1} << depth) + (depth >= 3 ? 8 : 0);
}

inline constexpr std::size_t kMaxPaddingGrowth = 8;
inline constexpr std::size_t kCompactBudgetBytes = std::size_t{64} << 20;
inline constexpr std::size_t kMaxBlockTrees = 32;
// Nodes and leaves of one compact block: about half of a 1 MiB L2.
inline constexpr std::size_t kMaxBlockBytes = 512 * 1024;
// The row walk keeps expanded rows (2 x num_features keys) on the stack:
// models wider than this walk every block on the general nodes.
inline constexpr std::size_t kMaxExpandedWidth = 8192;

inline constexpr std::size_t kMaxBins = 256;        // a bin is one byte
inline constexpr std::size_t kBinTableSize = 256;   // thresholds per feature, NaN padded
inline constexpr std::size_t kBinPivots = 16;       // thresholds[16 j + 15], for a 16-ary search
inline constexpr std::uint32_t kMaxTileDepth = 8;   // the tile walk is exponential in depth
inline constexpr std::size_t kTileRows = 64;        // rows whose node tests fit one 64-bit mask
// Bin columns at most: a tile holds 2 x columns x kTileRows bytes (32 KiB).
inline constexpr std::size_t kMaxBinColumns = 256;

struct ForestLayout {
  std::vector<LayoutBlock> blocks;  // in tree order; together they hold every tree once
  std::vector<WalkNode> walk_nodes;  // at block.node_offset + k x stride + i, each level mirrored
  std::vector<BinNode> bin_nodes;    // when `binned`: the same nodes at the same offsets, in
                                     // plain heap order (the tile walk's)
  std::vector<float> leaves;
  std::size_t num_features = 0;
  bool any_compact = false;

  // The bins (see above), when `binned`: per bin column, the feature it
  // bins, kBinTableSize sorted thresholds and kBinPivots pivots.
  bool binned = false;
  std::size_t bin_columns = 0;
  std::vector<std::uint32_t> bin_column_feature;
  std::vector<float> bin_thresholds;
  std::vector<float> bin_pivots;
};

// REQUIRES: `forest` was built by build_forest (admitted, consistent).
[[nodiscard]] ForestLayout build_layout(const Forest& forest);

}  // namespace inferloop::detail
