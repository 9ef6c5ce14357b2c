// The evaluator's inner loops, one set per instruction set, chosen when a
// ForestModel is made (best_forest_isa()) on the CPU it runs on.
//
// A set is a row walk, a binning and a tile walk. The tile walk and the
// binning are compiled from one source, forest_kernels.inc, once per set in
// its own file (forest_kernels_baseline.cpp, _avx2.cpp, _avx512.cpp) with its
// instruction set given to each function by a target attribute, so the
// library as a whole is built for baseline x86-64 and only these functions
// use AVX2 or AVX-512; a set runs only where cpu_supports() says so. The row
// walk is one scalar function that every set shares (walk_row_scalar): one
// row is a chain of dependent loads per tree, which wider registers do not
// shorten. Every set computes
// the same bits: node tests are exact comparisons, and every row's leaves are
// added to its margin one at a time, in tree order, in float32.
//
// Thread safety: the sets are constant tables; every function only reads the
// layout and writes the caller's buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "forest/forest_layout.hpp"

namespace inferloop::detail {

enum class ForestIsa {
  kBaseline,  // x86-64 (SSE2), or any other architecture without SIMD
  kAvx2,      // AVX2, BMI2, POPCNT
  kAvx512,    // AVX-512 F, BW, DQ, VL, plus AVX2, BMI2, POPCNT
};

[[nodiscard]] std::string_view to_string(ForestIsa isa) noexcept;

struct ForestKernels {
  ForestIsa isa;

  // The leaves that one expanded row of keys (see WalkNode) reaches in each
  // tree of compact `block`, in tree order, into leaves[0 .. block.trees);
  // or, given a `margin` (a single-output model), added to *margin one at a
  // time in tree order, in float32, each group of trees as soon as it is
  // walked (the chain of adds then overlaps the next group's loads), with
  // `leaves` left as it was.
  void (*walk_row)(const ForestLayout& layout, const LayoutBlock& block,
                   const std::uint32_t* expanded, float* leaves, float* margin) noexcept;

  // Bins `count` <= kTileRows rows (row-major, layout.num_features each) into
  // `tile`, column-major: tile[c * kTileRows + r] is row r's bin in expanded
  // bin column c, for c < 2 x layout.bin_columns. Rows past `count` are left
  // as they are.
  // REQUIRES: layout.binned.
  void (*bin_tile)(const ForestLayout& layout, const float* rows, std::size_t count,
                   std::uint8_t* tile) noexcept;

  // For each tree of compact `block` in order, and each of `tiles` binned
  // tiles (tile s at tiles + s x tile_bytes), adds the leaf each of the
  // tile's kTileRows rows reaches to margins[(s x groups + group) x
  // kTileRows + row], group being the tree's output group
  // (tree_group[block.first_tree + k]).
  // REQUIRES: layout.binned.
  void (*walk_tiles)(const ForestLayout& layout, const LayoutBlock& block,
                     const std::uint8_t* tiles, std::size_t tile_count, std::size_t tile_bytes,
                     const std::uint32_t* tree_group, std::size_t groups, float* margins) noexcept;

  // Batches of at least this many rows take the tile walk (when the model
  // has bins); smaller ones, the row walk. The tile walk pays for its
  // binning and its padded tiles only where the byte compares and leaf
  // lookups are wide (docs/forest.md has the figures).
  std::size_t tile_min_rows;
};

// The row walk of every set: scalar, trees in lockstep (see the top of this
// file for why no set has its own). On x86-64 its step is four instructions
// of inline assembly; elsewhere it is walk_row_portable.
void walk_row_scalar(const ForestLayout& layout, const LayoutBlock& block,
                     const std::uint32_t* expanded, float* leaves, float* margin) noexcept;
// The same walk in C++ alone: what CPUs other than x86-64 run. On x86-64
// only tests run it (ForestWalks::kPortableRowWalk), so that it is checked
// against XGBoost wherever the tests run.
void walk_row_portable(const ForestLayout& layout, const LayoutBlock& block,
                       const std::uint32_t* expanded, float* leaves, float* margin) noexcept;

// Whether the running CPU (and its OS) can run `isa`'s kernels.
[[nodiscard]] bool cpu_supports(ForestIsa isa) noexcept;
// Every set this CPU can run, baseline first.
[[nodiscard]] std::vector<ForestIsa> supported_forest_isas();
// The widest set this CPU runs.
[[nodiscard]] ForestIsa best_forest_isa() noexcept;
// REQUIRES: cpu_supports(isa).
[[nodiscard]] const ForestKernels& forest_kernels(ForestIsa isa) noexcept;

// Which walk a batch takes; tests and benchmarks force each one.
enum class ForestWalks {
  kBySize,            // the set's own choice (tile_min_rows): what ForestModel runs
  kTileEveryBatch,    // the tile walk for every batch of a model with bins, one row included
  kPortableRowWalk,   // walk_row_portable for every batch
};
[[nodiscard]] std::string_view to_string(ForestWalks walks) noexcept;
// `isa`'s set with `walks`. REQUIRES: cpu_supports(isa).
[[nodiscard]] const ForestKernels& forest_kernels(ForestIsa isa, ForestWalks walks) noexcept;

// Where each set's tile walk starts (see tile_min_rows); SIZE_MAX: never.
inline constexpr std::size_t kBaselineTileMinRows = SIZE_MAX;
inline constexpr std::size_t kAvx2TileMinRows = 32;
inline constexpr std::size_t kAvx512TileMinRows = 32;

// The sets, defined in their files (AVX2 and AVX-512 only on x86-64).
extern const ForestKernels kBaselineKernels;
extern const ForestKernels kAvx2Kernels;
extern const ForestKernels kAvx512Kernels;

}  // namespace inferloop::detail
